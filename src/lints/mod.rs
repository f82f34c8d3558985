//! Lints over the parsed model. Each lint is one file with a `check` function
//! that reads a shared [`LintContext`] and pushes findings; `run` calls them
//! all. The context is built once per file: the jump graph and everything
//! computed on it (reachability, hooks, loops) are shared by every lint.

mod chain_loop;
mod chain_too_deep;
pub(crate) mod dead_code;
pub use dead_code::witness;
mod duplicate_rule;
mod empty_chain;
mod interface_never_matches;
mod invalid_chain_for_table;
mod match_not_allowed_here;
mod redundant_rule;
mod return_from_builtin;
mod shadowed_rule;
mod target_not_allowed_here;
mod undefined_chain;
mod unmatchable_rule;
mod unreachable_chain;
mod unreachable_rule;

use std::hash::{BuildHasher, Hash, Hasher};

use petgraph::graph::{EdgeIndex, NodeIndex};
use rayon::prelude::*;

use crate::diagnostic::Finding;
use crate::graph::{Hook, JumpGraph};
use crate::model::{HOOK_NAMES, Rule, Ruleset};

/// Related locations listed at most for the jumps into a chain.
pub const MAX_SITES: usize = 10;

/// Jumps shown at most for the path from a hook to a chain.
pub const MAX_PATH: usize = 16;

/// What every lint reads: the ruleset and its jump graph.
pub struct LintContext<'a> {
    pub ruleset: &'a Ruleset,
    pub graph: JumpGraph<'a>,
    /// The rules that repeat an earlier rule of their chain, by
    /// [`JumpGraph::rule_index`], with the first rule they repeat: few in
    /// a real dump, so a list of them, not a slot per rule.
    copies: Vec<(u32, u32)>,
}

impl<'a> LintContext<'a> {
    pub fn new(ruleset: &'a Ruleset) -> LintContext<'a> {
        let graph = JumpGraph::build(ruleset);
        let copies = first_copies(&graph);
        LintContext {
            ruleset,
            graph,
            copies,
        }
    }

    /// The first earlier rule of the same chain that rule `rule` of `node`
    /// repeats (counters aside), if any: what `duplicate-rule` reports, and
    /// the other dead-code lints leave to it.
    pub fn first_copy(&self, node: NodeIndex, rule: usize) -> Option<usize> {
        let at = self.graph.rule_index(node, rule);
        let i = self
            .copies
            .binary_search_by_key(&at, |&(r, _)| r as usize)
            .ok()?;
        Some(self.copies[i].1 as usize)
    }

    /// A finding located at a rule: table, chain and 1-based rule number set.
    pub fn at_rule(&self, finding: Finding, node: NodeIndex, rule: usize) -> Finding {
        finding.at_rule(
            self.graph.table(node),
            &self.graph.chain(node).name,
            Some(rule + 1),
        )
    }

    /// A finding about a whole chain.
    pub fn at_chain(&self, finding: Finding, node: NodeIndex) -> Finding {
        finding.at_rule(self.graph.table(node), &self.graph.chain(node).name, None)
    }

    /// Related locations for a path of jumps, one per jump.
    pub fn with_path(&self, mut finding: Finding, path: &[EdgeIndex]) -> Finding {
        for e in path {
            finding = finding.related(self.graph.edge_span(*e), self.describe_jump(*e));
        }
        finding
    }

    /// Related locations for the jumps into a chain: the first
    /// [`MAX_SITES`] of them.
    pub fn with_sites(&self, finding: Finding, jumps: &[EdgeIndex]) -> Finding {
        self.with_path(finding, &jumps[..jumps.len().min(MAX_SITES)])
    }

    /// The path by which `hook` reaches a chain, bounded to its last
    /// [`MAX_PATH`] jumps, as related locations and as text
    /// ("PREROUTING → A → B", or "PREROUTING → … → A → B").
    pub fn hook_path(&self, hook: Hook, node: NodeIndex) -> (Vec<EdgeIndex>, String) {
        let (path, complete) = self.graph.path_from(hook, node, MAX_PATH);
        let mut text = HOOK_NAMES[hook].to_string();
        if !complete {
            text.push_str(" → …");
        }
        for e in &path {
            let (_, to) = self.graph.graph.edge_endpoints(*e).expect("edge exists");
            text.push_str(" → ");
            text.push_str(&self.graph.chain(to).name);
        }
        (path, text)
    }

    /// "`INPUT` jumps to `WEB` (rule 3)".
    pub fn describe_jump(&self, edge: EdgeIndex) -> String {
        let g = &self.graph.graph;
        let (from, to) = g.edge_endpoints(edge).expect("edge exists");
        let verb = match self.graph.edge_kind(edge) {
            crate::model::JumpKind::Jump => "jumps",
            crate::model::JumpKind::Goto => "goes (-g)",
        };
        format!(
            "`{}` {verb} to `{}` here (rule {})",
            self.graph.chain(from).name,
            self.graph.chain(to).name,
            g[edge].rule() + 1
        )
    }
}

/// Runs every lint over a parsed ruleset.
pub fn run(ruleset: &Ruleset) -> Vec<Finding> {
    let cx = LintContext::new(ruleset);
    let mut out = Vec::new();
    undefined_chain::check(&cx, &mut out);
    chain_loop::check(&cx, &mut out);
    chain_too_deep::check(&cx, &mut out);
    invalid_chain_for_table::check(&cx, &mut out);
    target_not_allowed_here::check(&cx, &mut out);
    match_not_allowed_here::check(&cx, &mut out);
    unreachable_chain::check(&cx, &mut out);
    unreachable_rule::check(&cx, &mut out);
    duplicate_rule::check(&cx, &mut out);
    interface_never_matches::check(&cx, &mut out);
    dead_code::check(&cx, &mut out);
    empty_chain::check(&cx, &mut out);
    return_from_builtin::check(&cx, &mut out);
    out
}

/// A rule compared by what it says, counters left out: two rules that differ
/// only in their packet and byte counts are the same rule.
#[derive(Clone, Copy)]
pub(crate) struct RuleKey<'a>(pub &'a Rule);

impl RuleKey<'_> {
    fn parts(
        &self,
    ) -> (
        impl PartialEq + Hash + '_,
        impl PartialEq + Hash + '_,
        impl PartialEq + Hash + '_,
    ) {
        // Destructured so that a new field of `Rule` fails to compile here
        // until someone decides whether it takes part.
        // The rare parts take part except the counters (see `RareParts`).
        let Rule {
            span: _,
            chain_at: _,
            rare: _,
            source,
            destination,
            protocol,
            matches,
            target,
        } = self.0;
        let rule = self.0;
        (
            (rule.only_family(), source, destination),
            (
                protocol,
                rule.in_interface(),
                rule.out_interface(),
                rule.fragment(),
            ),
            (matches, target),
        )
    }
}

impl PartialEq for RuleKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a1, a2, a3) = self.parts();
        let (b1, b2, b3) = other.parts();
        a1 == b1 && a2 == b2 && a3 == b3
    }
}

impl Eq for RuleKey<'_> {}

impl Hash for RuleKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (a, b, c) = self.parts();
        a.hash(state);
        b.hash(state);
        c.hash(state);
    }
}

/// [`LintContext::copies`]: every rule hashed once, chains in parallel.
/// The rules of a chain are sorted by hash (16 bytes a rule, half of a
/// hash map's: a flat chain is one long list of rules), and only rules
/// with the same hash are compared.
fn first_copies(graph: &JumpGraph<'_>) -> Vec<(u32, u32)> {
    let state = foldhash::fast::FixedState::default();
    (0..graph.graph.node_count())
        .into_par_iter()
        .flat_map_iter(|n| {
            let node = NodeIndex::new(n);
            let chain = &graph.chain(node).rules;
            let keyed = |(ri, r): (usize, &Rule)| (state.hash_one(RuleKey(r)), ri as u32);
            // In parallel for a long chain.
            let by_hash: Vec<(u64, u32)> = if chain.len() >= dead_code::PAR_RULES {
                let mut v: Vec<(u64, u32)> = chain.par_iter().enumerate().map(keyed).collect();
                v.par_sort_unstable();
                v
            } else {
                let mut v: Vec<(u64, u32)> = chain.iter().enumerate().map(keyed).collect();
                v.sort_unstable();
                v
            };
            let mut copies = Vec::new();
            // The rules of a run of one hash in rule order; each is a copy
            // of the first earlier one that says the same thing, if any.
            // Unequal rules with one hash are rare: the list of the first
            // of each kind stays short.
            let mut firsts: Vec<u32> = Vec::new();
            for run in by_hash.chunk_by(|a, b| a.0 == b.0) {
                if run.len() == 1 {
                    continue;
                }
                firsts.clear();
                for &(_, ri) in run {
                    let rule = &chain[ri as usize];
                    match firsts
                        .iter()
                        .find(|&&f| same_rule(&chain[f as usize], rule))
                    {
                        Some(&earlier) => {
                            let at = u32::try_from(graph.rule_index(node, ri as usize))
                                .expect("fewer than 2^32 rules");
                            copies.push((at, earlier));
                        }
                        None => firsts.push(ri),
                    }
                }
            }
            copies.sort_unstable();
            copies
        })
        .collect()
}

/// True when two rules say the same thing (counters aside).
pub(crate) fn same_rule(a: &Rule, b: &Rule) -> bool {
    RuleKey(a) == RuleKey(b)
}
