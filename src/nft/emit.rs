//! From the nft tables to iptables text, read back by the iptables reader,
//! with every span of the model mapped back to the nft text.

use crate::model::Generic;
use std::collections::BTreeMap;

use foldhash::HashMap;

use crate::codes;
use crate::diagnostic::Finding;
use crate::model::{Family, List, MatchOption, Policy, Rule, Ruleset, Span, Table, TableName};

use super::rule::{Ctx, Gw, lower};
use super::{NTable, error};

/// The iptables table and builtin chain of a base chain.
fn place(kind: &str, hook: &str, priority: i64) -> Result<(TableName, &'static str), String> {
    use TableName::*;
    let chain = match hook {
        "prerouting" => "PREROUTING",
        "input" => "INPUT",
        "forward" => "FORWARD",
        "output" => "OUTPUT",
        "postrouting" => "POSTROUTING",
        other => return Err(format!("hook `{other}` has no iptables chain")),
    };
    let table = match (priority, chain) {
        (-300, "PREROUTING" | "OUTPUT") => Raw,
        (-150, _) => Mangle,
        (-100, "PREROUTING" | "OUTPUT") => Nat,
        (100, "INPUT" | "POSTROUTING") => Nat,
        (0, "INPUT" | "FORWARD" | "OUTPUT") => Filter,
        (50, "INPUT" | "FORWARD" | "OUTPUT") => Security,
        _ => {
            return Err(format!(
                "no iptables table runs at priority {priority} on hook {hook}: the diff walks the tables in iptables' order (raw -300, mangle -150, nat -100/100, filter 0, security 50)"
            ));
        }
    };
    let ok = match (table, kind) {
        (Nat, "nat") => true,
        (Nat, _) | (_, "nat") => false,
        (Mangle, "route") => chain == "OUTPUT",
        (_, "filter") => true,
        _ => false,
    };
    if !ok {
        return Err(format!(
            "a `type {kind}` chain at priority {priority} on hook {hook} is not the {table} table's chain (its type is {})",
            match (table, chain) {
                (Nat, _) => "nat",
                (Mangle, "OUTPUT") => "route",
                _ => "filter",
            }
        ));
    }
    Ok((table, chain))
}

/// Generated text and where each of its words came from.
#[derive(Default)]
struct Out {
    text: String,
    /// (start, end) in `text` → nft span, in order.
    marks: Vec<(u32, u32, Span)>,
    /// Line start → (line end, nft span of the whole line).
    lines: HashMap<u32, (u32, Span)>,
}

impl Out {
    fn word(&mut self, text: &str, span: Span) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push(' ');
        }
        let start = self.text.len() as u32;
        if text.is_empty()
            || text
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b"_.:/+,-!=*@%[]".contains(&b)))
        {
            self.text.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    self.text.push('\\');
                }
                self.text.push(c);
            }
            self.text.push('"');
        } else {
            self.text.push_str(text);
        }
        self.marks.push((start, self.text.len() as u32, span));
    }

    fn line(&mut self, words: &[Gw], span: Span) {
        let start = self.text.len() as u32;
        for w in words {
            self.word(&w.text, w.span);
        }
        self.lines.insert(start, (self.text.len() as u32, span));
        self.text.push('\n');
    }

    fn map(&self, s: Span) -> Span {
        if let Some((end, span)) = self.lines.get(&s.start)
            && *end == s.end
        {
            return *span;
        }
        let find = |at: u32| {
            let i = self.marks.partition_point(|m| m.0 <= at);
            i.checked_sub(1).map(|i| self.marks[i].2)
        };
        let a = find(s.start);
        let b = find(s.end.saturating_sub(1).max(s.start));
        match (a, b) {
            (Some(a), Some(b)) => a.to(b),
            (Some(a), None) => a,
            _ => Span::default(),
        }
    }
}

pub(super) fn build(_source: &str, tables: Vec<NTable>) -> (Ruleset, Vec<Finding>) {
    match build_inner(tables) {
        Ok(x) => x,
        Err(f) => (
            Ruleset {
                family: Family::Ipv4,
                tables: Vec::new(),
                comments: Vec::new(),
            },
            vec![f],
        ),
    }
}

struct Placed {
    /// nft table index.
    nt: usize,
    /// Per chain of the nft table: its iptables name.
    names: Vec<String>,
}

fn build_inner(tables: Vec<NTable>) -> Result<(Ruleset, Vec<Finding>), Finding> {
    let family = tables.first().map(|t| t.family).unwrap_or(Family::Ipv4);
    if let Some(t) = tables.iter().find(|t| t.family != family) {
        return Err(error(
            t.span,
            "ip and ip6 tables in one file: compare one family at a time",
        ));
    }
    // Which iptables table each nft table is.
    let mut by_table: BTreeMap<TableName, Vec<Placed>> = BTreeMap::new();
    let mut builtin_at: HashMap<(TableName, &'static str), Span> = HashMap::default();
    for (nt, t) in tables.iter().enumerate() {
        let mut which: Option<(TableName, Span)> = None;
        let mut names = Vec::new();
        for c in &t.chains {
            let Some(b) = &c.base else {
                names.push(c.name.clone());
                continue;
            };
            let (table, chain) =
                place(&b.kind, &b.hook, b.priority).map_err(|m| error(b.span, m))?;
            if let Some((other, s)) = which
                && other != table
            {
                return Err(error(
                    b.span,
                    format!(
                        "this chain is the {table} table's, and the chain at {}:{} the {other} table's: iptlint reads one iptables table per nft table",
                        s.line, s.column
                    ),
                ));
            }
            which = Some((table, b.span));
            if let Some(prev) = builtin_at.insert((table, chain), b.span) {
                return Err(error(
                    b.span,
                    format!(
                        "a second base chain for {table} {chain} (the first at line {}): the order of two chains of one priority is not defined",
                        prev.line
                    ),
                ));
            }
            names.push(chain.to_string());
        }
        let table = match which {
            Some((t, _)) => t,
            // No base chain: nothing reaches its chains.
            None => continue,
        };
        by_table
            .entry(table)
            .or_default()
            .push(Placed { nt, names });
    }
    let mut out = Out::default();
    // Where each chain is declared: for a base chain, its policy (what a
    // report of "policy" should point at).
    let mut chain_spans: HashMap<(TableName, String), Span> = HashMap::default();
    for (table, placed) in &by_table {
        let first = &tables[placed[0].nt];
        out.line(
            &[Gw {
                text: format!("*{table}"),
                span: first.span,
            }],
            first.span,
        );
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for p in placed {
            let t = &tables[p.nt];
            for (c, name) in t.chains.iter().zip(&p.names) {
                if let Some(prev) = seen.insert(name.as_str(), c.span) {
                    return Err(error(
                        c.span,
                        format!(
                            "chain `{name}` of the {table} table is also at line {}",
                            prev.line
                        ),
                    ));
                }
                if c.base.is_none() && table.builtin_chains().contains(&name.as_str()) {
                    return Err(error(
                        c.span,
                        format!(
                            "a regular chain named `{name}`, the name of a builtin chain of the {table} table"
                        ),
                    ));
                }
                let policy = match (&c.base, c.policy) {
                    (None, _) => "-".to_string(),
                    (Some(_), Some((Policy::Drop, _))) => "DROP".into(),
                    (Some(_), _) => "ACCEPT".into(),
                };
                let span = c
                    .policy
                    .map(|(_, s)| s)
                    .or(c.base.as_ref().map(|b| b.span))
                    .unwrap_or(c.span);
                chain_spans.insert((*table, name.clone()), span);
                out.line(
                    &[
                        Gw {
                            text: format!(":{name}"),
                            span: c.span,
                        },
                        Gw { text: policy, span },
                        Gw {
                            text: "[0:0]".into(),
                            span,
                        },
                    ],
                    c.span,
                );
            }
        }
        for p in placed {
            let t = &tables[p.nt];
            let chains: HashMap<String, String> = t
                .chains
                .iter()
                .zip(&p.names)
                .map(|(c, n)| (c.name.clone(), n.clone()))
                .collect();
            let ctx = Ctx {
                family,
                chains: &chains,
            };
            for (c, name) in t.chains.iter().zip(&p.names) {
                for r in &c.rules {
                    for line in lower(r.span, &r.tokens, &ctx)? {
                        let mut words = vec![
                            Gw {
                                text: "-A".into(),
                                span: line.span,
                            },
                            Gw {
                                text: name.clone(),
                                span: line.span,
                            },
                        ];
                        words.extend(line.words);
                        out.line(&words, line.span);
                    }
                }
            }
        }
        out.line(
            &[Gw {
                text: "COMMIT".into(),
                span: first.span,
            }],
            first.span,
        );
    }
    let parsed = crate::syntax::parse(&out.text, Some(family));
    let mut ruleset = parsed.ruleset;
    remap_ruleset(&mut ruleset, |s| out.map(s));
    for t in &mut ruleset.tables {
        for c in &mut t.chains {
            if let Some(span) = chain_spans.get(&(t.name, c.name.to_string())) {
                c.span = *span;
            }
        }
    }
    let findings = parsed
        .findings
        .into_iter()
        .filter(|f| f.is_input_error())
        // `-m nft` is how the reader writes a condition it keeps unknown.
        .filter(|f| !(f.lint.code == codes::UNKNOWN_EXTENSION.code && f.message.contains("`nft`")))
        .map(|mut f| {
            f.span = out.map(f.span);
            for r in &mut f.related {
                r.span = out.map(r.span);
            }
            f.message = format!(
                "{} (as iptlint reads this nft rule into iptables terms)",
                f.message
            );
            f
        })
        .collect();
    Ok((ruleset, findings))
}

fn remap_ruleset(rs: &mut Ruleset, f: impl Fn(Span) -> Span) {
    for t in &mut rs.tables {
        remap_table(t, &f);
    }
    for c in &mut rs.comments {
        c.span = f(c.span);
    }
}

fn remap_table(t: &mut Table, f: &impl Fn(Span) -> Span) {
    t.span = f(t.span);
    t.commit = t.commit.map(f);
    for c in &mut t.chains {
        c.span = f(c.span);
        for r in &mut c.rules {
            remap_rule(r, f);
        }
    }
}

fn remap_rule(r: &mut Rule, f: &impl Fn(Span) -> Span) {
    // Matches, options and words keep their spans relative to the rule's:
    // each is read against the rule as it stands, and set again against
    // the rule's moved span.
    let moved = f(r.span);
    let remap_options = |options: &mut List<MatchOption>, r: &Rule| {
        for o in options {
            o.set_span_in(f(o.span_in(r)), moved);
            for w in &mut o.words {
                w.set_span_in(f(w.span_in(r)), moved);
            }
        }
    };
    let mut matches = std::mem::take(&mut r.matches);
    for m in &mut matches {
        m.set_span_in(f(m.span_in(r)), moved);
        remap_options(&mut m.options, r);
    }
    r.matches = matches;
    if let Some(mut options) = r.target.as_mut().map(|t| std::mem::take(&mut t.options)) {
        remap_options(&mut options, r);
        if let Some(t) = r.target.as_mut() {
            t.options = options;
        }
    }
    let generic = Generic::ALL.map(|g| r.generic_span(g));
    let chain = f(r.chain_span());
    let target = r.target.is_some().then(|| f(r.target_span()));
    r.span = moved;
    r.set_chain_span(chain);
    if let Some(target) = target {
        r.set_target_span(target);
    }
    for (g, span) in Generic::ALL.into_iter().zip(generic) {
        r.set_generic_span(g, span.map(f));
    }
}
