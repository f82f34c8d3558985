//! Reading `nft -f` scripts into the model: what `iptlint translate` writes,
//! and the same constructs written by hand or printed by `nft list ruleset`.
//!
//! The reader exists so that `iptlint diff` can compare an iptables dump
//! with an nftables rule set (its translation, say) with the same engine.
//! It does that by reading each nft rule back into iptables rules that mean
//! the same thing, then reading those with the iptables reader
//! ([`crate::syntax`]): the model values of both sides are then made by one
//! piece of code. Every generated word carries the span of the nft text it
//! came from, and every span of the resulting model is mapped back, so
//! findings and `diff` reports point at lines of the nft file.
//!
//! # What maps to what
//!
//! - A table's base chains choose the iptables table by hook and priority:
//!   raw -300, mangle -150, nat (type nat) -100 on prerouting/output and
//!   100 on input/postrouting, filter 0, security 50. A base chain at any
//!   other priority, two base chains of one hook and priority, or one nft
//!   table whose base chains belong to different iptables tables is
//!   refused. A base chain becomes the builtin chain of its hook (`policy`
//!   included); other chains keep their names.
//! - A rule's conditions become iptables matches with the same kernel
//!   meaning (src/nft/rule.rs lists them). An anonymous set on a field no
//!   non-terminal statement can change (addresses, ports, protocol,
//!   interfaces, ICMP type) becomes one rule per element when its elements
//!   are pairwise disjoint, and a port set of at most 15 entries becomes
//!   `-m multiport`; a verdict map becomes one rule per element (keys of a
//!   map are disjoint, which the reader checks). Where that would not be
//!   exact (a stateful match such as `limit` in the same rule, a set on a
//!   mark with a `jump`), the rule is refused.
//! - `meta random & 2147483647 < N` is what `-m statistic --mode random`
//!   does in the kernel (31 random bits against `lround(2^31 p)`): it
//!   becomes that match, with `p` written the way iptables-save writes it
//!   (11 decimals), so the engine's usual assumption about a statistic
//!   match in both dumps applies. `numgen` has no iptables twin: each
//!   `numgen` test becomes an unknown condition (`-m nft --expr "..."`,
//!   which the engine never models), so a region that depends on it is at
//!   most "may differ".
//! - A construct the reader does not know is refused with an error at its
//!   line and column; nothing is dropped or approximated.
//!
//! # Unknown conditions on both sides
//!
//! The engine takes a condition it does not model to be the same on both
//! sides when its text is the same. The reader writes the matches it makes
//! the way iptables-save prints them (`--limit 10/min`, no default
//! `--limit-burst 5`, `--probability 0.50000000000`), so a translated
//! `-m limit`, `-m statistic`, `-m owner` or `-m pkttype` pairs with the
//! dump's, and a dump against its complete translation is "equivalent"
//! exactly when the dump against itself is. Where the texts cannot agree
//! (a hand-written `--limit 5/second`; conntrack options the translation
//! splits into one `ct` test each; `numgen`), the regions that depend on
//! them are "may differ": never a false "equivalent".

// A reading error is a `Finding`, returned once per file: its size does not matter.
#![allow(clippy::result_large_err)]

mod emit;
mod rule;

use std::path::Path;

use pest::Parser;
use pest::iterators::Pair;

use crate::codes;
use crate::diagnostic::Finding;
use crate::model::{Family, Policy, Ruleset, Span};

pub mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/nft.pest"]
    pub struct NftParser;
}
use grammar::{NftParser, Rule as G};

/// The model of one nft file, the problems found, and notes worth showing.
#[derive(Debug)]
pub struct Parsed {
    pub ruleset: Ruleset,
    /// Errors: the file is not read (or not entirely understood).
    pub findings: Vec<Finding>,
    /// `# iptlint: not translated` lines: rules of the original dump that
    /// this file does not have.
    pub untranslated: Vec<Span>,
}

/// True when `text` is an nft script rather than an iptables dump: its
/// first line that is neither empty nor a comment starts with `table`,
/// `flush`, `add`, `delete` or `define`, or it starts with an
/// `#!/usr/sbin/nft` line; or `path` ends in `.nft`.
pub fn looks_like_nft(text: &str, path: Option<&Path>) -> bool {
    if path.is_some_and(|p| p.extension().is_some_and(|e| e == "nft")) {
        return true;
    }
    if text.starts_with("#!") && text.lines().next().is_some_and(|l| l.contains("nft")) {
        return true;
    }
    let Some(first) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return false;
    };
    let word = first.split_whitespace().next().unwrap_or("");
    matches!(word, "table" | "flush" | "add" | "delete" | "define")
}

/// A token of a rule.
#[derive(Clone, Debug)]
pub(crate) struct Tok {
    pub kind: TokKind,
    /// The text; a string without its quotes.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum TokKind {
    Word,
    Str,
    Op,
    Comma,
    /// `{ ... }` with its tokens.
    Set(Vec<Tok>),
}

impl Tok {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(self.kind, TokKind::Word) && self.text == w
    }
    pub fn is_op(&self, o: &str) -> bool {
        matches!(self.kind, TokKind::Op) && self.text == o
    }
}

/// A chain as the file declares it.
#[derive(Debug)]
pub(crate) struct NChain {
    pub name: String,
    pub span: Span,
    pub base: Option<Base>,
    pub policy: Option<(Policy, Span)>,
    pub rules: Vec<NRule>,
}

#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub kind: String,
    pub hook: String,
    pub priority: i64,
    pub span: Span,
}

#[derive(Debug)]
pub(crate) struct NRule {
    pub span: Span,
    pub tokens: Vec<Tok>,
}

#[derive(Debug)]
pub(crate) struct NTable {
    pub family: Family,
    pub name: String,
    pub span: Span,
    pub chains: Vec<NChain>,
}

/// The chain `chain` of table `family table`, when declared.
fn chain_mut<'t>(
    tables: &'t mut [NTable],
    family: Family,
    table: &str,
    chain: &str,
) -> Option<&'t mut NChain> {
    tables
        .iter_mut()
        .find(|t| t.family == family && t.name == table)
        .and_then(|t| t.chains.iter_mut().find(|c| c.name == chain))
}

pub(crate) fn span_of(pair: &Pair<'_, G>) -> Span {
    let s = pair.as_span();
    let (line, column) = pair.line_col();
    Span {
        start: s.start() as u32,
        end: s.end() as u32,
        line: line as u32,
        column: column as u32,
    }
}

pub(crate) fn error(span: Span, message: impl Into<String>) -> Finding {
    Finding::new(&codes::SYNTAX_ERROR, span, message)
}

/// Reads an nft script.
pub fn parse(text: &str) -> Parsed {
    let mut untranslated = Vec::new();
    let tables = match read_structure(text, &mut untranslated) {
        Ok(t) => t,
        Err(f) => {
            return Parsed {
                ruleset: Ruleset {
                    family: Family::Ipv4,
                    tables: Vec::new(),
                    comments: Vec::new(),
                },
                findings: vec![f],
                untranslated,
            };
        }
    };
    let (ruleset, findings) = emit::build(text, tables);
    Parsed {
        ruleset,
        findings,
        untranslated,
    }
}

fn unquote(pair: &Pair<'_, G>) -> String {
    let s = pair.as_str();
    if pair.as_rule() == G::string {
        s[1..s.len() - 1].replace("\\\"", "\"")
    } else {
        s.to_string()
    }
}

/// `[family] name`: the family defaults to `ip`, as in nft.
fn table_ref(pair: Pair<'_, G>) -> Result<(Family, String), Finding> {
    let mut family = Family::Ipv4;
    let mut name = String::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            G::family => {
                family = match p.as_str() {
                    "ip" => Family::Ipv4,
                    "ip6" => Family::Ipv6,
                    other => {
                        return Err(error(
                            span_of(&p),
                            format!(
                                "nft family `{other}` is not read: iptlint compares `ip` or `ip6` tables with iptables dumps"
                            ),
                        ));
                    }
                }
            }
            G::COMMENT => {}
            _ => name = unquote(&p),
        }
    }
    Ok((family, name))
}

fn chain_ref(pair: Pair<'_, G>) -> Result<(Family, String, String), Finding> {
    let mut family = Family::Ipv4;
    let mut names = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            G::family => {
                let span = span_of(&p);
                family = match p.as_str() {
                    "ip" => Family::Ipv4,
                    "ip6" => Family::Ipv6,
                    other => {
                        return Err(error(span, format!("nft family `{other}` is not read")));
                    }
                }
            }
            G::COMMENT => {}
            _ => names.push(unquote(&p)),
        }
    }
    let chain = names.pop().unwrap_or_default();
    let table = names.pop().unwrap_or_default();
    Ok((family, table, chain))
}

fn table_index(tables: &mut Vec<NTable>, family: Family, name: &str, span: Span) -> usize {
    match tables
        .iter()
        .position(|t| t.family == family && t.name == name)
    {
        Some(i) => i,
        None => {
            tables.push(NTable {
                family,
                name: name.to_string(),
                span,
                chains: Vec::new(),
            });
            tables.len() - 1
        }
    }
}

fn chain_index(table: &mut NTable, name: &str, span: Span) -> usize {
    match table.chains.iter().position(|c| c.name == name) {
        Some(i) => i,
        None => {
            table.chains.push(NChain {
                name: name.to_string(),
                span,
                base: None,
                policy: None,
                rules: Vec::new(),
            });
            table.chains.len() - 1
        }
    }
}

const NOT_TRANSLATED: &str = "# iptlint: not translated";

fn note_comment(pair: &Pair<'_, G>, untranslated: &mut Vec<Span>) {
    if pair.as_str().starts_with(NOT_TRANSLATED) {
        untranslated.push(span_of(pair));
    }
}

fn read_structure(text: &str, untranslated: &mut Vec<Span>) -> Result<Vec<NTable>, Finding> {
    let file = NftParser::parse(G::file, text).map_err(|e| {
        let (start, (line, column)) = match e.location {
            pest::error::InputLocation::Pos(p) => (p, line_col(text, p)),
            pest::error::InputLocation::Span((p, _)) => (p, line_col(text, p)),
        };
        let _ = e.line_col;
        error(
            Span {
                start: start as u32,
                end: start as u32 + 1,
                line,
                column,
            },
            "not a statement iptlint reads in an nft file (tables, chains with type/hook/priority/policy, rules; `flush`, `add table|chain|rule`, `insert rule`, `delete table`)",
        )
    })?;
    let mut tables: Vec<NTable> = Vec::new();
    for cmd in file.into_iter().flat_map(|p| p.into_inner()) {
        match cmd.as_rule() {
            G::COMMENT => note_comment(&cmd, untranslated),
            G::table_block => {
                let span = span_of(&cmd);
                let mut inner = cmd.into_inner();
                let (family, name) = table_ref(inner.next().expect("table_ref"))?;
                let ti = table_index(&mut tables, family, &name, span);
                for item in inner {
                    match item.as_rule() {
                        G::COMMENT => note_comment(&item, untranslated),
                        G::chain_block => read_chain(&mut tables[ti], item, untranslated)?,
                        G::set_block => {
                            return Err(error(
                                span_of(&item),
                                "named sets and maps are not read: iptlint reads anonymous sets `{ ... }` in rules",
                            ));
                        }
                        G::table_flags => {
                            return Err(error(span_of(&item), "table flags are not read"));
                        }
                        _ => {}
                    }
                }
            }
            G::flush_cmd => {
                let span = span_of(&cmd);
                let mut inner = cmd.into_inner();
                let what = inner.next().expect("flush target");
                match what.as_rule() {
                    G::flush_ruleset => {
                        let only = what.into_inner().next().map(|f| f.as_str().to_string());
                        tables.retain(|t| match only.as_deref() {
                            Some("ip") => t.family != Family::Ipv4,
                            Some("ip6") => t.family != Family::Ipv6,
                            _ => false,
                        });
                    }
                    G::table_ref => {
                        let (family, name) = table_ref(what)?;
                        if let Some(t) = tables
                            .iter_mut()
                            .find(|t| t.family == family && t.name == name)
                        {
                            for c in &mut t.chains {
                                c.rules.clear();
                            }
                        } else {
                            return Err(error(
                                span,
                                format!(
                                    "flush of table `{name}`, which is not declared before (nft refuses it)"
                                ),
                            ));
                        }
                    }
                    G::chain_ref => {
                        let (family, table, chain) = chain_ref(what)?;
                        let c =
                            chain_mut(&mut tables, family, &table, &chain).ok_or_else(|| {
                                error(
                                    span,
                                    format!(
                                        "flush of chain `{chain}`, which is not declared before"
                                    ),
                                )
                            })?;
                        c.rules.clear();
                    }
                    _ => {}
                }
            }
            G::add_table => {
                let span = span_of(&cmd);
                let mut inner = cmd.into_inner();
                let (family, name) = table_ref(inner.next().expect("table_ref"))?;
                table_index(&mut tables, family, &name, span);
                if let Some(f) = inner.find(|p| p.as_rule() == G::table_flags) {
                    return Err(error(span_of(&f), "table flags are not read"));
                }
            }
            G::delete_table => {
                let span = span_of(&cmd);
                let (family, name) = table_ref(cmd.into_inner().next().expect("table_ref"))?;
                let before = tables.len();
                tables.retain(|t| !(t.family == family && t.name == name));
                if tables.len() == before {
                    return Err(error(
                        span,
                        format!("delete of table `{name}`, which does not exist (nft refuses it)"),
                    ));
                }
            }
            G::add_chain => {
                let span = span_of(&cmd);
                let mut inner = cmd.into_inner();
                let (family, table, chain) = chain_ref(inner.next().expect("chain_ref"))?;
                let ti = tables
                    .iter()
                    .position(|t| t.family == family && t.name == table)
                    .ok_or_else(|| {
                        error(span, format!("table `{table}` is not declared before"))
                    })?;
                let ci = chain_index(&mut tables[ti], &chain, span);
                for p in inner {
                    chain_property(&mut tables[ti].chains[ci], p)?;
                }
            }
            G::add_rule | G::insert_rule => {
                let insert = cmd.as_rule() == G::insert_rule;
                let span = span_of(&cmd);
                let mut inner = cmd.into_inner();
                let (family, table, chain) = chain_ref(inner.next().expect("chain_ref"))?;
                let c = chain_mut(&mut tables, family, &table, &chain).ok_or_else(|| {
                    error(
                        span,
                        format!("chain `{chain}` of table `{table}` is not declared before"),
                    )
                })?;
                for p in inner {
                    if p.as_rule() == G::rule {
                        let r = read_rule(p, untranslated);
                        if insert {
                            c.rules.insert(0, r);
                        } else {
                            c.rules.push(r);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(tables)
}

fn line_col(text: &str, at: usize) -> (u32, u32) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, col)
}

fn chain_property(chain: &mut NChain, p: Pair<'_, G>) -> Result<(), Finding> {
    let span = span_of(&p);
    match p.as_rule() {
        G::base_spec => {
            let mut kind = String::new();
            let mut hook = String::new();
            let mut priority = 0i64;
            for (i, x) in p.into_inner().enumerate() {
                match (i, x.as_rule()) {
                    (_, G::priority) => priority = read_priority(x)?,
                    (_, G::string) => {
                        return Err(error(span_of(&x), "a base chain with a device is not read"));
                    }
                    (0, _) => kind = x.as_str().to_string(),
                    (1, _) => hook = x.as_str().to_string(),
                    _ => {}
                }
            }
            if chain.base.is_some() {
                return Err(error(span, "the chain's type and hook are given twice"));
            }
            chain.base = Some(Base {
                kind,
                hook,
                priority,
                span,
            });
        }
        G::policy_spec => {
            let word = p.into_inner().next().map(|w| w.as_str().to_string());
            let policy = match word.as_deref() {
                Some("accept") => Policy::Accept,
                Some("drop") => Policy::Drop,
                _ => return Err(error(span, "a policy is `accept` or `drop`")),
            };
            chain.policy = Some((policy, span));
        }
        _ => {}
    }
    Ok(())
}

/// A priority number, or a standard priority name plus or minus a number.
fn read_priority(p: Pair<'_, G>) -> Result<i64, Finding> {
    let span = span_of(&p);
    let mut inner = p.into_inner();
    let first = inner.next().expect("priority");
    if first.as_rule() == G::signed {
        return first
            .as_str()
            .parse()
            .map_err(|_| error(span, "priority out of range"));
    }
    let base = match first.as_str() {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        other => {
            return Err(error(
                span,
                format!("priority `{other}` is not a standard priority name"),
            ));
        }
    };
    let rest: String = inner.map(|x| x.as_str().to_string()).collect();
    if rest.is_empty() {
        return Ok(base);
    }
    let (sign, digits) = rest.split_at(1);
    let n: i64 = digits
        .parse()
        .map_err(|_| error(span, "priority out of range"))?;
    Ok(if sign == "-" { base - n } else { base + n })
}

fn read_chain(
    table: &mut NTable,
    pair: Pair<'_, G>,
    untranslated: &mut Vec<Span>,
) -> Result<(), Finding> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name_pair = inner.next().expect("chain name");
    let name = unquote(&name_pair);
    let ci = chain_index(table, &name, span);
    for item in inner {
        match item.as_rule() {
            G::COMMENT => note_comment(&item, untranslated),
            G::base_spec | G::policy_spec => chain_property(&mut table.chains[ci], item)?,
            G::rule => {
                let r = read_rule(item, untranslated);
                table.chains[ci].rules.push(r);
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_rule(pair: Pair<'_, G>, untranslated: &mut Vec<Span>) -> NRule {
    let span = span_of(&pair);
    let tokens = tokens(pair.into_inner(), untranslated);
    // The rule's span ends at its last token (a trailing comment is not part of it).
    let span = match tokens.last() {
        Some(t) => Span {
            end: t.span.end,
            ..span
        },
        None => span,
    };
    NRule { span, tokens }
}

fn tokens<'i>(pairs: pest::iterators::Pairs<'i, G>, untranslated: &mut Vec<Span>) -> Vec<Tok> {
    let mut out = Vec::new();
    for p in pairs {
        let span = span_of(&p);
        let kind = match p.as_rule() {
            G::COMMENT => {
                note_comment(&p, untranslated);
                continue;
            }
            G::word => TokKind::Word,
            G::string => TokKind::Str,
            G::op => TokKind::Op,
            G::comma => TokKind::Comma,
            G::braced => TokKind::Set(tokens(p.clone().into_inner(), untranslated)),
            _ => continue,
        };
        let text = unquote(&p);
        out.push(Tok { kind, text, span });
    }
    out
}

#[cfg(test)]
mod tests;
