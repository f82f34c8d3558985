//! The equivalent smaller rule set (`iptlint optimize`).
//!
//! The input model is rewritten in steps, each of which keeps every packet's
//! fate:
//!
//! 1. with `remove_dead`, the rules the lints prove dead or redundant, the
//!    jumps to empty chains and the chains that become unreachable go
//!    (module `dead`);
//! 2. with `ipsets`, rules that differ only in an address and destination
//!    port become one rule over a `hash:ip,port`/`hash:net,port` set, then
//!    rules that differ only in an address one over `hash:ip`/`hash:net`;
//! 3. rules that differ only in a port become `-m multiport` rules (15
//!    ports each), or with `ipsets` one rule over a `bitmap:port` set when
//!    they need more than one.
//!
//! Merges gather rules from non-adjacent positions only when the rules in
//! between provably cannot tell (module `merge`). The result is printed with
//! the model's printer (iptables-save form); the sets with
//! [`sets::restore_script`]. Every change is recorded in [`Change`]s.

mod dead;
mod merge;
pub mod sets;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::{Family, JumpKind, Ruleset, Table, TableName};
use crate::space::SpaceContext;

pub use merge::{MIN_SET_MEMBERS, MULTIPORT_SLOTS, SCAN_LIMIT};
pub use sets::{IpSet, SetType};

use merge::{Dir, Pass, PassEnv, WorkRule};

/// What to do.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Rewrite into ipsets (the caller writes [`Optimized::sets`] out).
    pub ipsets: bool,
    /// Remove dead and redundant rules and the chains that become unreachable.
    pub remove_dead: bool,
}

/// One change, for the report.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Change {
    /// Rules merged into one (or, for multiport, a few).
    Merged {
        #[serde(serialize_with = "table_name")]
        table: TableName,
        chain: String,
        /// Input lines of the rules merged.
        lines: Vec<u32>,
        how: &'static str,
        set: Option<String>,
        /// The new rule, after `-A CHAIN`.
        rule: String,
    },
    Removed {
        #[serde(serialize_with = "table_name")]
        table: TableName,
        chain: String,
        line: u32,
        rule: String,
        /// The lint that proves it (`shadowed-rule`, ...) or
        /// `jump-to-empty-chain`.
        reason: &'static str,
    },
    ChainRemoved {
        #[serde(serialize_with = "table_name")]
        table: TableName,
        chain: String,
        rules: usize,
        reason: &'static str,
    },
}

fn table_name<S: serde::Serializer>(t: &TableName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.as_str())
}

impl Change {
    /// One line for a human.
    pub fn describe(&self) -> String {
        match self {
            Change::Merged {
                table,
                chain,
                lines,
                how,
                set,
                rule,
            } => {
                let via = set
                    .as_ref()
                    .map(|s| format!(" over set {s}"))
                    .unwrap_or_default();
                format!(
                    "{table} {chain}: merged {} rules (lines {}) into one ({how}{via}): -A {chain} {rule}",
                    lines.len(),
                    line_list(lines)
                )
            }
            Change::Removed {
                table,
                chain,
                line,
                rule,
                reason,
            } => format!("{table} {chain}: removed line {line} ({reason}): -A {chain} {rule}"),
            Change::ChainRemoved {
                table,
                chain,
                rules,
                reason,
            } => format!("{table}: removed chain {chain} with {rules} rules ({reason})"),
        }
    }
}

/// "3, 7, 9" or "3, 7, 9, ... (120 more)".
fn line_list(lines: &[u32]) -> String {
    const SHOWN: usize = 8;
    let mut text = lines
        .iter()
        .take(SHOWN)
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if lines.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", lines.len() - SHOWN));
    }
    text
}

/// How many rules a packet meets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    pub rules: usize,
    /// The most rules one traversal of a builtin chain can compare the packet
    /// with: every rule of the chain, and of every chain it jumps or goes to
    /// (an upper bound; each chain counted once per jump).
    pub worst: u64,
    /// Over the input's rules (one packet per input rule, matching it): the
    /// mean number of rules compared up to the rule that now stands for it,
    /// counting the rules before each jump that leads there.
    pub mean: f64,
}

/// The result of [`optimize`].
#[derive(Clone, Debug)]
pub struct Optimized {
    pub ruleset: Ruleset,
    pub sets: Vec<IpSet>,
    pub changes: Vec<Change>,
    pub before: Cost,
    pub after: Cost,
}

/// Rewrites `input` into an equivalent rule set with fewer rules.
pub fn optimize(input: &Ruleset, opts: &Options) -> Optimized {
    optimize_owned(input.clone(), opts)
}

/// [`optimize`], consuming the input (no copy of a large rule set).
pub fn optimize_owned(mut rs: Ruleset, opts: &Options) -> Optimized {
    let before = cost(&rs, None);
    let mut changes = Vec::new();
    if opts.remove_dead {
        dead::remove_dead(&mut rs, &mut changes);
    }
    // Per rule, the input lines it stands for.
    let mut origins: Vec<Vec<Vec<Vec<u32>>>> = rs
        .tables
        .iter()
        .map(|t| {
            t.chains
                .iter()
                .map(|c| c.rules.iter().map(|r| vec![r.span.line]).collect())
                .collect()
        })
        .collect();
    let mut passes = Vec::new();
    if opts.ipsets {
        passes.extend([
            Pass::AddrPort(Dir::Src),
            Pass::AddrPort(Dir::Dst),
            Pass::Addr(Dir::Src),
            Pass::Addr(Dir::Dst),
        ]);
    }
    passes.extend([Pass::Ports(Dir::Dst), Pass::Ports(Dir::Src)]);
    let mut sets: Vec<IpSet> = Vec::new();
    // Merging changes no target: what is impure stays so.
    let impure: Vec<HashSet<String>> = rs.tables.iter().map(impure_chains).collect();
    let ctx = SpaceContext::for_ruleset(&rs);
    for pass in passes {
        let family = rs.family;
        for (ti, table) in rs.tables.iter_mut().enumerate() {
            let is_impure = |name: &str| impure[ti].contains(name);
            for (ci, chain) in table.chains.iter_mut().enumerate() {
                if chain.rules.len() < 2 {
                    continue;
                }
                let env = PassEnv {
                    ctx: &ctx,
                    family,
                    impure: &is_impure,
                    place: format!("{}/{}", table.name, chain.name),
                    ipsets: opts.ipsets,
                };
                let work: Vec<WorkRule> = std::mem::take(&mut chain.rules)
                    .into_iter()
                    .zip(std::mem::take(&mut origins[ti][ci]))
                    .map(|(rule, lines)| WorkRule { rule, lines })
                    .collect();
                let (work, merged, new_sets) = merge::run_pass(work, pass, &env);
                for m in merged {
                    changes.push(Change::Merged {
                        table: table.name,
                        chain: chain.name.to_string(),
                        lines: m.lines,
                        how: pass.how(),
                        set: m.set,
                        rule: m.rule.spec_text(),
                    });
                }
                for s in new_sets {
                    if !sets.iter().any(|have| have.name == s.name) {
                        sets.push(s);
                    }
                }
                for w in work {
                    chain.rules.push(w.rule);
                    origins[ti][ci].push(w.lines);
                }
            }
        }
    }
    let after = cost(&rs, Some(&origins));
    Optimized {
        ruleset: rs,
        sets,
        changes,
        before,
        after,
    }
}

/// User chains of the table whose packets may come back changed: a rule that
/// rewrites and goes on, a jump or goto to such a chain (a goto's RETURN
/// comes back through the caller). A target chain the table does not have
/// counts as impure.
fn impure_chains(table: &Table) -> HashSet<String> {
    let names: HashSet<&str> = table.chains.iter().map(|c| c.name.as_str()).collect();
    let mut impure: HashSet<String> = HashSet::new();
    loop {
        let mut changed = false;
        for chain in &table.chains {
            if impure.contains(chain.name.as_str()) {
                continue;
            }
            let bad = chain.rules.iter().any(|r| {
                let unknown_target = |c: &str| !names.contains(c) || impure.contains(c);
                merge::continues_changed(r, &unknown_target)
                    || matches!(r.jump_chain(), Some((to, JumpKind::Goto)) if unknown_target(to))
            });
            if bad {
                impure.insert(chain.name.to_string());
                changed = true;
            }
        }
        if !changed {
            return impure;
        }
    }
}

/// The [`Cost`] of a rule set; `origins` gives, per rule, the input rules
/// it stands for (none: each rule stands for itself).
fn cost(rs: &Ruleset, origins: Option<&Vec<Vec<Vec<Vec<u32>>>>>) -> Cost {
    let mut worst = 0u64;
    let mut weighted = 0f64;
    let mut count = 0usize;
    for (ti, table) in rs.tables.iter().enumerate() {
        let index: HashMap<&str, usize> = table
            .chains
            .iter()
            .enumerate()
            .map(|(ci, c)| (c.name.as_str(), ci))
            .collect();
        // Worst case: a packet that meets every rule, following every jump.
        let mut memo: Vec<Option<u64>> = vec![None; table.chains.len()];
        for (ci, c) in table.chains.iter().enumerate() {
            if c.builtin {
                let mut on_stack = vec![false; table.chains.len()];
                worst = worst.max(walk(table, &index, ci, &mut memo, &mut on_stack));
            }
        }
        // Depth of each chain's entry: rules compared before a packet enters
        // it the shortest way (builtin chains: 0).
        let mut entry: Vec<Option<u64>> = vec![None; table.chains.len()];
        let mut work: Vec<usize> = Vec::new();
        for (ci, c) in table.chains.iter().enumerate() {
            if c.builtin {
                entry[ci] = Some(0);
                work.push(ci);
            }
        }
        while let Some(ci) = work.pop() {
            let base = entry[ci].expect("set before queued");
            for (ri, r) in table.chains[ci].rules.iter().enumerate() {
                let Some((to, _)) = r.jump_chain() else {
                    continue;
                };
                let Some(&ti2) = index.get(to) else { continue };
                let d = base + ri as u64 + 1;
                if entry[ti2].is_none_or(|old| d < old) {
                    entry[ti2] = Some(d);
                    work.push(ti2);
                }
            }
        }
        for (ci, c) in table.chains.iter().enumerate() {
            let Some(base) = entry[ci] else { continue };
            for ri in 0..c.rules.len() {
                let weight = origins.map_or(1, |o| o[ti][ci][ri].len());
                weighted += ((base + ri as u64 + 1) * weight as u64) as f64;
                count += weight;
            }
        }
    }
    Cost {
        rules: rs.rule_count(),
        worst,
        mean: if count == 0 {
            0.0
        } else {
            weighted / count as f64
        },
    }
}

fn walk(
    table: &Table,
    index: &HashMap<&str, usize>,
    ci: usize,
    memo: &mut Vec<Option<u64>>,
    on_stack: &mut Vec<bool>,
) -> u64 {
    if let Some(w) = memo[ci] {
        return w;
    }
    if on_stack[ci] {
        return 0; // a loop: iptables-restore refuses it anyway
    }
    on_stack[ci] = true;
    let mut total = 0u64;
    for r in &table.chains[ci].rules {
        total += 1;
        if let Some((to, _)) = r.jump_chain()
            && let Some(&t) = index.get(to)
        {
            total += walk(table, index, t, memo, on_stack);
        }
    }
    on_stack[ci] = false;
    memo[ci] = Some(total);
    total
}

/// The `--report json` document.
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub input: &'a str,
    pub family: &'static str,
    pub rules_before: usize,
    pub rules_after: usize,
    pub before: Cost,
    pub after: Cost,
    pub sets: Vec<JsonSet<'a>>,
    pub changes: &'a [Change],
}

#[derive(Serialize)]
pub struct JsonSet<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub family: &'static str,
    pub members: usize,
}

impl Optimized {
    pub fn json_report<'a>(&'a self, input: &'a str) -> JsonReport<'a> {
        JsonReport {
            input,
            family: self.ruleset.family.as_str(),
            rules_before: self.before.rules,
            rules_after: self.after.rules,
            before: self.before,
            after: self.after,
            sets: self
                .sets
                .iter()
                .map(|s| JsonSet {
                    name: &s.name,
                    kind: s.kind.as_str(),
                    family: match s.family {
                        Family::Ipv4 => "inet",
                        Family::Ipv6 => "inet6",
                    },
                    members: s.len(),
                })
                .collect(),
            changes: &self.changes,
        }
    }
}
