//! nftables translation (`iptlint translate`): an `nft -f` script that does
//! what the dump does.
//!
//! One nft table per iptables table (`table ip filter`, `table ip6 nat`),
//! base chains with the hook, type and priority iptables-nft gives them, the
//! policies, user chains, rules in order. The script starts by declaring and
//! flushing the tables it owns, so loading it twice gives the same rule set.
//!
//! Each rule is translated exactly ([`rule`]) or not at all: a rule that
//! cannot be said exactly in nft is kept as a `#` comment with the reason,
//! and reported. Then, unless asked not to, runs of rules are merged into
//! sets and maps where that provably changes no packet's fate ([`merge`]).

mod ext;
pub mod ipset;
pub mod merge;
pub mod names;
pub mod rule;

use std::fmt::Write;

use rayon::prelude::*;

use crate::model::{Chain, Family, Policy, Ruleset, Table, TableName};

use ipset::IpsetFile;
use names::NameMap;
use rule::{NftRule, Scope};

/// What the caller chooses.
#[derive(Debug, Default)]
pub struct Options {
    /// Emit `counter` statements (with the dump's counts when it has them).
    pub counters: bool,
    /// Merge runs of rules into sets and maps.
    pub merge: bool,
    /// Also merge kube-proxy statistic chains into `numgen random mod n
    /// vmap` rules (only where exact; see [`merge`]). Off by default: each
    /// such rule is an anonymous set, and the kernel creates sets in time
    /// that grows with the sets already in the table, so at 10,000 services
    /// the script loads ten times slower than rule by rule.
    pub numgen: bool,
    /// The `ipset save` file `-m set` rules refer to.
    pub ipsets: Option<IpsetFile>,
}

/// A message about one place of the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: u32,
    pub column: u32,
    /// True when a rule was not translated (the exit status says so).
    pub error: bool,
    pub message: String,
}

/// Rules that became one nft rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Merge {
    /// `set` (one field into an anonymous set), `vmap` (a concatenated
    /// verdict map) or `numgen` (a statistic chain into `numgen random`).
    pub kind: &'static str,
    pub table: String,
    pub chain: String,
    pub first_line: u32,
    pub last_line: u32,
    /// iptables rules merged.
    pub rules: usize,
}

#[derive(Debug, Default)]
pub struct Translation {
    pub script: String,
    pub diagnostics: Vec<Diagnostic>,
    pub merges: Vec<Merge>,
    /// iptables rules kept as comments.
    pub untranslated: usize,
    pub rules_in: usize,
    pub rules_out: usize,
}

/// One line of a chain body: a rule, or an untranslated rule as a comment.
#[derive(Clone, Debug)]
pub enum Item {
    Rule(NftRule),
    Comment(String),
}

/// Hook, chain type and priority of a builtin chain, as iptables-nft makes it.
fn base_chain(table: TableName, chain: &str) -> Option<(&'static str, &'static str, i32)> {
    let hook = match chain {
        "PREROUTING" => "prerouting",
        "INPUT" => "input",
        "FORWARD" => "forward",
        "OUTPUT" => "output",
        "POSTROUTING" => "postrouting",
        _ => return None,
    };
    let (ty, prio) = match table {
        TableName::Raw => ("filter", -300),
        TableName::Mangle if chain == "OUTPUT" => ("route", -150),
        TableName::Mangle => ("filter", -150),
        TableName::Nat if matches!(chain, "PREROUTING" | "OUTPUT") => ("nat", -100),
        TableName::Nat => ("nat", 100),
        TableName::Filter => ("filter", 0),
        TableName::Security => ("filter", 50),
    };
    Some((hook, ty, prio))
}

fn family_word(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ip6",
    }
}

/// Translates a whole dump. `source` is the dump's text (for the comments
/// that keep untranslated rules).
pub fn translate(rs: &Ruleset, source: &str, opts: &Options) -> Translation {
    let mut t = Translation {
        rules_in: rs.rule_count(),
        ..Translation::default()
    };
    let mut header = String::new();
    let mut body = String::new();
    for table in &rs.tables {
        translate_table(rs, table, source, opts, &mut t, &mut header, &mut body);
    }
    let mut script = String::with_capacity(header.len() + body.len() + 128);
    script.push_str("#!/usr/sbin/nft -f\n");
    let _ = writeln!(
        script,
        "# iptlint translate: {} iptables rules, {} nft rules, {} not translated (kept as comments)",
        t.rules_in, t.rules_out, t.untranslated
    );
    script.push_str(
        "# Declare and empty the tables first: loading this twice gives the same rule set.\n",
    );
    script.push_str(&header);
    script.push_str(&body);
    t.script = script;
    t.diagnostics.sort_by_key(|d| (d.line, d.column));
    t
}

fn translate_table(
    rs: &Ruleset,
    table: &Table,
    source: &str,
    opts: &Options,
    t: &mut Translation,
    preamble: &mut String,
    out_final: &mut String,
) {
    let mut header_out = String::new();
    let out = &mut header_out;
    let fam = family_word(rs.family);
    let (chains, renamed) = NameMap::build(table.chains.iter().map(|c| c.name.as_str()));
    for (from, to) in &renamed {
        if let Some(c) = table.chain(from) {
            t.diagnostics.push(Diagnostic {
                line: c.span.line,
                column: c.span.column,
                error: false,
                message: format!(
                    "chain `{from}` is named `{to}` in nft: nft cannot write `{from}` as a chain name"
                ),
            });
        }
    }
    // The sets this table's rules use, by their ipset names.
    let mut used_sets: Vec<&str> = Vec::new();
    for chain in &table.chains {
        for r in &chain.rules {
            for o in r
                .matches
                .iter()
                .filter(|m| m.module == "set")
                .flat_map(|m| &m.options)
            {
                if o.name == "--match-set"
                    && let Some(w) = o.words.first()
                    && !used_sets.contains(&w.text.as_str())
                {
                    used_sets.push(&w.text);
                }
            }
        }
    }
    let (set_names, _) = NameMap::build(used_sets.iter().copied());
    let scope = Scope {
        family: rs.family,
        table: table.name,
        chains: &chains,
        ipsets: opts.ipsets.as_ref(),
        set_names: &set_names,
        counters: opts.counters,
    };
    let _ = writeln!(out, "table {fam} {} {{", table.name);
    if let Some(file) = &opts.ipsets {
        for name in &used_sets {
            if let Some(set) = file
                .get(name)
                .filter(|s| s.refused.is_none() && s.family == rs.family)
            {
                out.push_str(&set.declaration(set_names.get(name)));
            }
        }
    }
    let analysis = merge::ChainFacts::build(table);
    // Chains are translated independently, in parallel, and written in order.
    let done: Vec<ChainOutput> = table
        .chains
        .par_iter()
        .enumerate()
        .map(|(ci, chain)| translate_chain(table, ci, chain, source, opts, &scope, &analysis))
        .collect();
    // The preamble declares the table and its named sets empty, then
    // flushes them: whatever an earlier load left there goes.
    let mut sets: Vec<(String, &str, String)> = Vec::new();
    if let Some(file) = &opts.ipsets {
        for name in &used_sets {
            if let Some(set) = file
                .get(name)
                .filter(|s| s.refused.is_none() && s.family == rs.family)
            {
                let nft = set_names.get(name).to_string();
                sets.push((set.empty_declaration(&nft), "set", nft));
            }
        }
    }
    let _ = writeln!(preamble, "table {fam} {}", table.name);
    let _ = writeln!(preamble, "flush table {fam} {}", table.name);
    if !sets.is_empty() {
        let _ = writeln!(preamble, "table {fam} {} {{", table.name);
        for (decl, _, _) in &sets {
            preamble.push_str(decl);
        }
        preamble.push_str("}\n");
        for (_, kind, name) in &sets {
            let _ = writeln!(preamble, "flush {kind} {fam} {} {name}", table.name);
        }
    }
    // The chains follow the table's own header, each written once: a
    // buffer of all of them first was one more copy of the whole output.
    let chains_len: usize = done.iter().map(|c| c.text.len()).sum();
    out_final.reserve(header_out.len() + chains_len + 2);
    out_final.push_str(&header_out);
    for c in done {
        out_final.push_str(&c.text);
        t.rules_out += c.rules_out;
        t.untranslated += c.untranslated;
        t.diagnostics.extend(c.diagnostics);
        t.merges.extend(c.merges);
    }
    out_final.push_str("}\n");
}

/// One chain's nft text and what happened to its rules.
struct ChainOutput {
    text: String,
    rules_out: usize,
    untranslated: usize,
    diagnostics: Vec<Diagnostic>,
    merges: Vec<Merge>,
}

fn translate_chain(
    table: &Table,
    ci: usize,
    chain: &Chain,
    source: &str,
    opts: &Options,
    scope: &Scope<'_>,
    analysis: &merge::ChainFacts,
) -> ChainOutput {
    let fam = family_word(scope.family);
    let mut t = ChainOutput {
        text: String::new(),
        rules_out: 0,
        untranslated: 0,
        diagnostics: Vec::new(),
        merges: Vec::new(),
    };
    let out = &mut t.text;
    let _ = writeln!(out, "\tchain {} {{", scope.chains.get(&chain.name));
    if chain.builtin
        && let Some((hook, ty, prio)) = base_chain(table.name, &chain.name)
    {
        let policy = match chain.policy {
            Some(Policy::Drop) => "drop",
            _ => "accept",
        };
        let _ = writeln!(
            out,
            "\t\ttype {ty} hook {hook} priority {prio}; policy {policy};"
        );
    }
    let mut items: Vec<Item> = Vec::with_capacity(chain.rules.len());
    let mut ri = 0;
    while ri < chain.rules.len() {
        if opts.merge
            && opts.numgen
            && let Some((item, used)) = merge::numgen_run(table, ci, ri, analysis, scope)
        {
            t.merges.push(Merge {
                kind: "numgen",
                table: format!("{fam} {}", table.name),
                chain: chain.name.to_string(),
                first_line: chain.rules[ri].span.line,
                last_line: chain.rules[ri + used - 1].span.line,
                rules: used,
            });
            items.push(Item::Rule(item));
            ri += used;
            continue;
        }
        let rule = &chain.rules[ri];
        let mut notes = Vec::new();
        match rule::translate_rule(rule, scope, &mut notes) {
            Ok(rules) => items.extend(rules.into_iter().map(Item::Rule)),
            Err(why) => {
                t.untranslated += 1;
                t.diagnostics.push(Diagnostic {
                    line: rule.span.line,
                    column: rule.span.column,
                    error: true,
                    message: format!("rule not translated: {why}"),
                });
                let text = source.get(rule.span.range()).unwrap_or("").trim_end();
                items.push(Item::Comment(format!(
                    "# iptlint: not translated ({why}): {}",
                    text.replace('\n', " ")
                )));
            }
        }
        for n in notes {
            t.diagnostics.push(Diagnostic {
                line: rule.span.line,
                column: rule.span.column,
                error: false,
                message: n,
            });
        }
        ri += 1;
    }
    if opts.merge {
        let merges = &mut t.merges;
        items = merge::merge_runs(items, &mut |kind, first, last, rules| {
            merges.push(Merge {
                kind,
                table: format!("{fam} {}", table.name),
                chain: chain.name.to_string(),
                first_line: first,
                last_line: last,
                rules,
            })
        });
    }
    for item in &items {
        out.push_str("\t\t");
        match item {
            Item::Rule(r) => {
                r.render(out);
                t.rules_out += 1;
            }
            Item::Comment(c) => out.push_str(c),
        }
        out.push('\n');
    }
    out.push_str("\t}\n");
    t
}

/// The merge report as JSON (`--report json`).
pub fn report_json(t: &Translation) -> String {
    #[derive(serde::Serialize)]
    struct Report<'a> {
        rules_in: usize,
        rules_out: usize,
        untranslated: usize,
        merges: &'a [Merge],
    }
    serde_json::to_string_pretty(&Report {
        rules_in: t.rules_in,
        rules_out: t.rules_out,
        untranslated: t.untranslated,
        merges: &t.merges,
    })
    .unwrap_or_default()
}
