//! Shared ground of the exact dead-rule lints (`unmatchable-rule`,
//! `shadowed-rule`, `redundant-rule`): the packet space of every rule of a reachable chain,
//! which packets can enter the chain at all, what each rule does to the walk
//! through its chain, and which rules another dead-code lint already reports.
//!
//! A rule gets one dead-rule finding. The order of precedence is
//! `unreachable-rule` (after an unconditional exit), `duplicate-rule` (a
//! second copy), `interface-never-matches` (`-o` where there is no output
//! device), then `unmatchable-rule`, then `shadowed-rule`.
//!
//! # What the chain-local analysis assumes, and why it is sound
//!
//! A chain is analysed as entered by *every* packet that can traverse one of
//! the hooks reaching it ([`SpaceContext::hook_universe`]); the path into the
//! chain is not used, so the analysis only ever assumes more packets reach a
//! rule than really do. A rule is dead when its `may` set (a superset of what
//! it matches) holds none of the packets that can still reach it.
//!
//! Targets that rewrite a field a later rule can test (MARK, CONNMARK, any
//! target iptlint does not know to leave the packet alone, and a jump to a
//! chain that might do so and come back) are *barriers*: rules before a
//! barrier never count as covering rules after it. Nothing is claimed across a
//! rewrite iptlint did not track.

pub mod index;

use foldhash::HashMap;
use petgraph::graph::NodeIndex;

use crate::graph::{Flow, HookSet, INPUT, OUTPUT, POSTROUTING, PREROUTING};
use crate::lints::{LintContext, RuleKey};
use crate::model::{Chain, Interface, Negatable, Rule, TargetKind};
use crate::space::{MatchSpace, PacketSet, SpaceContext, rule_match_space};

/// Targets that let the packet go on unchanged in every field the packet
/// space models.
const PURE_TARGETS: &[&str] = &["LOG", "NFLOG", "ULOG", "TRACE", "AUDIT"];

/// What a rule does to the walk through its chain, for the dead-rule lints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every packet it matches leaves the chain for good (a verdict, RETURN,
    /// a goto, a jump to a chain that always decides).
    Decides,
    /// Matched packets go on, unchanged in every modelled field.
    Passes,
    /// Matched packets may come back changed: nothing before it covers
    /// anything after it.
    Barrier,
}

/// One reachable chain, ready for the dead-rule lints.
pub struct ChainSpaces<'c> {
    pub node: NodeIndex,
    pub chain: &'c Chain,
    pub hooks: HookSet,
    /// The packets that can enter the chain: the union of the hook universes.
    pub universe: PacketSet,
    pub spaces: Vec<MatchSpace>,
    /// `may ∩ universe` per rule.
    pub reach_may: Vec<PacketSet>,
    pub steps: Vec<Step>,
    /// Rules another dead-code lint (or an earlier one of ours) reports.
    pub claimed: Vec<bool>,
}

/// Runs `unmatchable-rule`, `shadowed-rule` and `redundant-rule` over every
/// reachable chain.
pub fn check(cx: &LintContext<'_>, out: &mut Vec<crate::diagnostic::Finding>) {
    let ctx = SpaceContext::for_ruleset(cx.ruleset);
    let pure = pure_chains(cx);
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            let hooks = g.hooks(node);
            if hooks.is_empty() || chain.rules.is_empty() {
                continue;
            }
            let mut cs = ChainSpaces::build(cx, &ctx, &pure, node, chain, hooks);
            for ri in super::unmatchable_rule::check_chain(cx, &cs, out) {
                cs.claimed[ri] = true;
            }
            for ri in super::shadowed_rule::check_chain(cx, &cs, out) {
                cs.claimed[ri] = true;
            }
            super::redundant_rule::check_chain(cx, &cs, out);
        }
    }
}

impl<'c> ChainSpaces<'c> {
    fn build(
        cx: &LintContext<'_>,
        ctx: &SpaceContext,
        pure: &[bool],
        node: NodeIndex,
        chain: &'c Chain,
        hooks: HookSet,
    ) -> ChainSpaces<'c> {
        let mut universe = ctx.empty();
        for h in hooks.iter() {
            universe = universe.union(&ctx.hook_universe(crate::model::HOOK_NAMES[h]));
        }
        let spaces: Vec<MatchSpace> = chain
            .rules
            .iter()
            .map(|r| rule_match_space(r, ctx))
            .collect();
        let reach_may = spaces.iter().map(|s| s.may.intersect(&universe)).collect();
        let steps = (0..chain.rules.len())
            .map(|ri| step(cx, pure, node, ri))
            .collect();
        let claimed = claimed_elsewhere(cx, node, chain, hooks);
        ChainSpaces {
            node,
            chain,
            hooks,
            universe,
            spaces,
            reach_may,
            steps,
            claimed,
        }
    }
}

/// What rule `ri` of `node` does when it matches.
fn step(cx: &LintContext<'_>, pure: &[bool], node: NodeIndex, ri: usize) -> Step {
    let g = &cx.graph;
    let rule = g.rule(node, ri);
    match g.flow(node, ri) {
        Flow::Verdict | Flow::Return | Flow::Goto(_) => Step::Decides,
        Flow::Jump(to) if g.always_decides(to) => Step::Decides,
        Flow::Jump(to) if pure[to.index()] => Step::Passes,
        Flow::Jump(_) => Step::Barrier,
        Flow::Continue => match &rule.target {
            None => Step::Passes,
            Some(t)
                if t.kind == TargetKind::Extension && PURE_TARGETS.contains(&t.name.as_str()) =>
            {
                Step::Passes
            }
            Some(_) => Step::Barrier,
        },
    }
}

/// Per chain: true when every packet that comes back from a jump to it comes
/// back unchanged in every modelled field. A chain is impure when one of its
/// rules has a rewriting target, or jumps or goes to an impure chain that does
/// not always decide (a goto's return leaves through the caller).
fn pure_chains(cx: &LintContext<'_>) -> Vec<bool> {
    let g = &cx.graph;
    let n = g.graph.node_count();
    let mut pure = vec![true; n];
    let mut work = Vec::new();
    for node in g.graph.node_indices() {
        let chain = g.chain(node);
        let local = (0..chain.rules.len()).all(|ri| match g.flow(node, ri) {
            Flow::Verdict | Flow::Return | Flow::Jump(_) | Flow::Goto(_) => true,
            Flow::Continue => match &chain.rules[ri].target {
                None => true,
                Some(t) => {
                    t.kind == TargetKind::Extension && PURE_TARGETS.contains(&t.name.as_str())
                }
            },
        });
        if !local {
            pure[node.index()] = false;
            work.push(node);
        }
    }
    // Impurity flows back along jumps and gotos into chains that may return.
    while let Some(bad) = work.pop() {
        if g.always_decides(bad) {
            continue;
        }
        for e in g
            .graph
            .edges_directed(bad, petgraph::Direction::Incoming)
            .map(|e| petgraph::visit::EdgeRef::source(&e))
            .collect::<Vec<_>>()
        {
            if pure[e.index()] {
                pure[e.index()] = false;
                work.push(e);
            }
        }
    }
    pure
}

fn named(iface: &Option<Negatable<Interface>>) -> bool {
    iface
        .as_ref()
        .is_some_and(|i| !i.negated && i.value.name != "+")
}

/// Rules that `unreachable-rule`, `duplicate-rule` or
/// `interface-never-matches` report (same conditions as those lints).
fn claimed_elsewhere(
    cx: &LintContext<'_>,
    node: NodeIndex,
    chain: &Chain,
    hooks: HookSet,
) -> Vec<bool> {
    let exit = cx.graph.exit_rule(node);
    let no_out = hooks.is_subset(HookSet::of(&[PREROUTING, INPUT]));
    let no_in = hooks.is_subset(HookSet::of(&[OUTPUT, POSTROUTING]));
    let mut first: HashMap<RuleKey<'_>, usize> =
        HashMap::with_capacity_and_hasher(chain.rules.len(), Default::default());
    chain
        .rules
        .iter()
        .enumerate()
        .map(|(ri, rule): (usize, &Rule)| {
            let after_exit = exit.is_some_and(|e| ri > e);
            let dup = first.insert(RuleKey(rule), ri).is_some();
            let iface = (no_out && named(&rule.out_interface))
                || (no_in && named(&rule.in_interface))
                || refused_in_builtin(chain, rule);
            after_exit || dup || iface
        })
        .collect()
}

/// `-o` in PREROUTING or INPUT themselves, `-i` in OUTPUT or POSTROUTING,
/// negated or not: iptables-restore refuses the rule, which is
/// `interface-never-matches`' to say.
fn refused_in_builtin(chain: &Chain, rule: &Rule) -> bool {
    chain.builtin
        && match chain.name.as_str() {
            "PREROUTING" | "INPUT" => rule.out_interface.is_some(),
            "OUTPUT" | "POSTROUTING" => rule.in_interface.is_some(),
            _ => false,
        }
}

/// "ACCEPT", "RETURN", "-g NAME", "-j NAME", or "no target".
pub fn verdict_name(rule: &Rule) -> String {
    match &rule.target {
        None => "no target".to_string(),
        Some(t) => match (&t.kind, t.jump) {
            (TargetKind::Chain(n), crate::model::JumpKind::Goto) => format!("-g {n}"),
            (TargetKind::Chain(n), _) => format!("-j {n}"),
            _ => t.name.clone(),
        },
    }
}
