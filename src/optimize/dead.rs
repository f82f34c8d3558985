//! `--remove-dead`: deleting the rules the lints prove dead or redundant,
//! the jumps to empty chains, and the chains that become unreachable.
//!
//! # What is removed together, and why that is safe
//!
//! - A *dead* rule matches no packet that reaches it (`unreachable-rule`,
//!   `shadowed-rule`, `unmatchable-rule`, `interface-never-matches`): no
//!   packet's walk changes without it, so any number of them go at once.
//!   A duplicate (`duplicate-rule`) is dead only when its first copy decides
//!   every packet it matches for good, and that copy is exact and
//!   stateless (a second `-m statistic` or `-j LOG` copy is not dead); only
//!   those are removed. `unmatchable-rule` is trusted only for a stateless
//!   rule: a `-m recent --set` before the condition that fails still runs.
//! - A *redundant* rule is decided the same way without it by later rules
//!   (its *deciders*, the finding's related rules) or the chain's end. Two
//!   redundant rules removed together are safe as long as neither is a
//!   decider of the other (the rules in between that the proof looked at
//!   are unchanged or were themselves deciders); dead rules do not matter to
//!   the proof (the lint never relies on them). So a round removes every
//!   dead rule, and the redundant rules picked in file order so that none
//!   relies on another picked one. Only exact, stateless redundant rules are
//!   removed (a rule whose conditions iptlint cannot see may do more).
//! - A `-j` (not `-g`: a goto to an empty chain returns from the caller) to
//!   a user chain without rules does nothing, unless a match of its has
//!   state.
//!
//! The lints run again after each round, until a round removes nothing (at
//! most [`MAX_ROUNDS`]). Last, user chains that were reachable from a hook
//! before and are not any more are deleted; chains that were never reachable
//! stay (kube-proxy's canary chains are there on purpose).

use std::collections::{HashMap, HashSet};

use crate::diagnostic::Finding;
use crate::model::{JumpKind, Rule, Ruleset, TargetKind};
use crate::space::{SpaceContext, rule_match_space};

use super::Change;
use super::merge::has_stateful_match;

/// Rounds of lint-and-remove, at most.
pub const MAX_ROUNDS: usize = 8;

/// (table index, chain index, rule index).
type At = (usize, usize, usize);

pub fn remove_dead(rs: &mut Ruleset, changes: &mut Vec<Change>) {
    let reachable_before = reachable_chains(rs);
    for _ in 0..MAX_ROUNDS {
        let findings = crate::lints::run(rs);
        let mut remove: HashMap<At, &'static str> = HashMap::new();
        let ctx = SpaceContext::for_ruleset(rs);
        let mut redundant: Vec<(At, Vec<usize>)> = Vec::new();
        let places = Places::new(rs);
        for f in &findings {
            let Some(at) = places.locate(rs, f) else {
                continue;
            };
            let rule = rule_at(rs, at);
            match f.lint.name {
                "unreachable-rule" | "shadowed-rule" | "interface-never-matches" => {
                    remove.insert(at, f.lint.name);
                }
                "unmatchable-rule" if !has_stateful_match(rule) => {
                    remove.insert(at, f.lint.name);
                }
                "duplicate-rule" => {
                    let first = f
                        .related
                        .first()
                        .and_then(|r| places.by_span(at, r.span.start));
                    if let Some(first) = first
                        && decides_for_good(rule_at(rs, (at.0, at.1, first)))
                        && exact_and_stateless(rule, &ctx)
                    {
                        remove.insert(at, f.lint.name);
                    }
                }
                "redundant-rule" if exact_and_stateless(rule, &ctx) => {
                    // Every related location must be a rule we know, or the
                    // pairing below could miss a dependency.
                    let deciders: Option<Vec<usize>> = f
                        .related
                        .iter()
                        .map(|r| places.by_span(at, r.span.start))
                        .collect();
                    if let Some(deciders) = deciders {
                        redundant.push((at, deciders));
                    }
                }
                _ => {}
            }
        }
        // Redundant rules that do not rely on one another.
        let mut relied_on: HashSet<At> = HashSet::new();
        for (at, deciders) in redundant {
            let deciders: Vec<At> = deciders.iter().map(|&d| (at.0, at.1, d)).collect();
            if relied_on.contains(&at)
                || deciders
                    .iter()
                    .any(|d| remove.contains_key(d) || relied_on.contains(d))
            {
                continue;
            }
            relied_on.extend(deciders);
            remove.insert(at, "redundant-rule");
        }
        // Jumps to empty chains.
        for (ti, table) in rs.tables.iter().enumerate() {
            let empty: HashSet<&str> = table
                .chains
                .iter()
                .filter(|c| !c.builtin && c.rules.is_empty())
                .map(|c| c.name.as_str())
                .collect();
            for (ci, chain) in table.chains.iter().enumerate() {
                for (ri, rule) in chain.rules.iter().enumerate() {
                    if let Some((to, JumpKind::Jump)) = rule.jump_chain()
                        && empty.contains(to)
                        && !has_stateful_match(rule)
                    {
                        remove.entry((ti, ci, ri)).or_insert("jump-to-empty-chain");
                    }
                }
            }
        }
        if remove.is_empty() {
            break;
        }
        apply(rs, &remove, changes);
    }
    remove_unreachable_chains(rs, &reachable_before, changes);
}

/// Where chains and rules are, for mapping findings back to rules.
struct Places<'a> {
    chains: HashMap<(usize, &'a str), usize>,
    /// `(table, chain, span start)` → rule index.
    rules: HashMap<(usize, usize, u32), usize>,
}

impl<'a> Places<'a> {
    fn new(rs: &'a Ruleset) -> Places<'a> {
        let mut chains = HashMap::new();
        let mut rules = HashMap::new();
        for (ti, t) in rs.tables.iter().enumerate() {
            for (ci, c) in t.chains.iter().enumerate() {
                chains.insert((ti, c.name.as_str()), ci);
                for (ri, r) in c.rules.iter().enumerate() {
                    rules.insert((ti, ci, r.span.start), ri);
                }
            }
        }
        Places { chains, rules }
    }

    /// The rule a finding is about, checked against its span.
    fn locate(&self, rs: &Ruleset, f: &Finding) -> Option<At> {
        let table = f.table?;
        let ti = rs.tables.iter().position(|t| t.name == table)?;
        let ci = *self.chains.get(&(ti, f.chain.as_deref()?))?;
        let ri = f.rule?.checked_sub(1)?;
        let rule = rs.tables[ti].chains[ci].rules.get(ri)?;
        // The finding points at the rule or inside it.
        (rule.span.start <= f.span.start && f.span.start < rule.span.end.max(rule.span.start + 1))
            .then_some((ti, ci, ri))
    }

    /// The index of the rule of the same chain that starts at `start`.
    fn by_span(&self, (ti, ci, _): At, start: u32) -> Option<usize> {
        self.rules.get(&(ti, ci, start)).copied()
    }
}

fn rule_at(rs: &Ruleset, (ti, ci, ri): At) -> &Rule {
    &rs.tables[ti].chains[ci].rules[ri]
}

/// True when every packet the rule matches leaves the chain for good.
fn decides_for_good(rule: &Rule) -> bool {
    let Some(t) = &rule.target else { return false };
    match &t.kind {
        TargetKind::Accept | TargetKind::Drop | TargetKind::Return | TargetKind::Queue => true,
        TargetKind::Extension => t.kind.is_terminal_verdict(&t.name),
        TargetKind::Chain => t.jump == JumpKind::Goto,
        TargetKind::Other => false,
    }
}

fn exact_and_stateless(rule: &Rule, ctx: &SpaceContext) -> bool {
    !has_stateful_match(rule) && rule_match_space(rule, ctx).is_exact()
}

fn apply(rs: &mut Ruleset, remove: &HashMap<At, &'static str>, changes: &mut Vec<Change>) {
    let mut sorted: Vec<(&At, &&str)> = remove.iter().collect();
    sorted.sort();
    for &(&(ti, ci, ri), reason) in &sorted {
        let table = &rs.tables[ti];
        let chain = &table.chains[ci];
        let rule = &chain.rules[ri];
        changes.push(Change::Removed {
            table: table.name,
            chain: chain.name.to_string(),
            line: rule.span.line,
            rule: rule.spec_text(),
            reason,
        });
    }
    for (ti, table) in rs.tables.iter_mut().enumerate() {
        for (ci, chain) in table.chains.iter_mut().enumerate() {
            let mut ri = 0;
            chain.rules.retain(|_| {
                let keep = !remove.contains_key(&(ti, ci, ri));
                ri += 1;
                keep
            });
        }
    }
}

/// `(table index, chain name)` of every chain a hook reaches.
fn reachable_chains(rs: &Ruleset) -> HashSet<(usize, String)> {
    let mut seen = HashSet::new();
    for (ti, table) in rs.tables.iter().enumerate() {
        let by_name: HashMap<&str, usize> = table
            .chains
            .iter()
            .enumerate()
            .map(|(ci, c)| (c.name.as_str(), ci))
            .collect();
        let mut work: Vec<&str> = table
            .chains
            .iter()
            .filter(|c| c.builtin)
            .map(|c| c.name.as_str())
            .collect();
        while let Some(name) = work.pop() {
            if !seen.insert((ti, name.to_string())) {
                continue;
            }
            let Some(&ci) = by_name.get(name) else {
                continue;
            };
            let chain = &table.chains[ci];
            for r in &chain.rules {
                if let Some((to, _)) = r.jump_chain() {
                    work.push(to);
                }
            }
        }
    }
    seen
}

fn remove_unreachable_chains(
    rs: &mut Ruleset,
    before: &HashSet<(usize, String)>,
    changes: &mut Vec<Change>,
) {
    let after = reachable_chains(rs);
    for (ti, table) in rs.tables.iter_mut().enumerate() {
        let mut gone: HashSet<String> = table
            .chains
            .iter()
            .filter(|c| {
                let key = (ti, c.name.to_string());
                !c.builtin && before.contains(&key) && !after.contains(&key)
            })
            .map(|c| c.name.to_string())
            .collect();
        // A chain that was never reachable may still jump to one of them:
        // that one stays (iptables-restore refuses a jump to nowhere), and
        // so does everything it jumps to.
        loop {
            let kept_refs: Vec<String> = table
                .chains
                .iter()
                .filter(|c| !gone.contains(c.name.as_str()))
                .flat_map(|c| &c.rules)
                .filter_map(|r| r.jump_chain().map(|(to, _)| to.to_string()))
                .filter(|to| gone.contains(to))
                .collect();
            if kept_refs.is_empty() {
                break;
            }
            for name in kept_refs {
                gone.remove(&name);
            }
        }
        let name = table.name;
        table.chains.retain(|c| {
            let gone = gone.contains(c.name.as_str());
            if gone {
                changes.push(Change::ChainRemoved {
                    table: name,
                    chain: c.name.to_string(),
                    rules: c.rules.len(),
                    reason: "unreachable-chain",
                });
            }
            !gone
        });
    }
}
