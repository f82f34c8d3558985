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
//! # What the analysis assumes, and why it is sound
//!
//! A builtin chain is entered by every packet that can traverse its hook
//! ([`SpaceContext::hook_universe`]). A user chain is entered by the packets
//! its jump sites may send: for a jump `J` in chain `C`, `may(J)` intersected
//! with what enters `C` (or with `C`'s hooks when a rule before `J` may
//! rewrite the packet); rules before `J` that decide are ignored, so the
//! entry set only ever holds more packets than really enter. Chains on a
//! loop, chains with more than 256 jump sites and entry sets of more than
//! 1024 pieces fall back to the hooks. After the first barrier of a chain
//! (below) only the hooks are known about its packets. A rule is dead when
//! its `may` set (a superset of what it matches) holds none of the packets
//! that can still reach it.
//!
//! Targets that rewrite a field a later rule can test (MARK, CONNMARK, any
//! target iptlint does not know to leave the packet alone, and a jump to a
//! chain that might do so and come back) are *barriers*: rules before a
//! barrier never count as covering rules after it. Nothing is claimed across a
//! rewrite iptlint did not track.

pub mod index;
pub mod witness;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use crate::diagnostic::Finding;
use crate::graph::{Flow, HookSet, INPUT, OUTPUT, PREROUTING};
use crate::lints::LintContext;
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
    /// The packets of the hooks that reach the chain.
    pub base: &'c PacketSet,
    /// True when what enters the chain comes from the jumps into it: for a
    /// user chain, the union over its jump sites of what the jumping rule may
    /// match there, which can be smaller than `base`.
    pub refined: bool,
    pub spaces: Vec<MatchSpace>,
    /// What enters the chain: the refined entry set, or `base`.
    entry: &'c PacketSet,
    /// The chain's first barrier: after it only `base` is known.
    barrier: Option<usize>,
    pub steps: &'c [Step],
    /// Rules another dead-code lint (or an earlier one of ours) reports.
    pub claimed: Vec<bool>,
}

/// Runs `unmatchable-rule`, `shadowed-rule` and `redundant-rule` over every
/// reachable chain.
pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let ctx = SpaceContext::for_ruleset(cx.ruleset);
    let universes = HookUniverses::new(&ctx);
    let pure = pure_chains(cx);
    let g = &cx.graph;
    // Every rule's step, by `rule_index` (one array: a kube dump has 10^5
    // chains of a few rules each).
    let mut all_steps: Vec<Step> = Vec::with_capacity(cx.ruleset.rule_count());
    for node in g.graph.node_indices() {
        debug_assert_eq!(g.rule_index(node, 0), all_steps.len());
        all_steps.extend((0..g.chain(node).rules.len()).map(|ri| step(cx, &pure, node, ri)));
    }
    let steps = |node: NodeIndex| {
        let first = g.rule_index(node, 0);
        &all_steps[first..first + g.chain(node).rules.len()]
    };
    // Chains are independent once their entry is known: analyse them in
    // parallel, in batches, as the walk that finds the entries reaches them.
    let analyse = |node: NodeIndex, entry: Option<&PacketSet>| {
        let mut out = Vec::new();
        let chain = g.chain(node);
        let hooks = g.hooks(node);
        let mut cs = ChainSpaces::build(
            cx,
            &ctx,
            universes.get(hooks),
            steps(node),
            node,
            chain,
            entry,
        );
        for ri in super::unmatchable_rule::check_chain(cx, &cs, &mut out) {
            cs.claimed[ri] = true;
        }
        for ri in super::shadowed_rule::check_chain(cx, &cs, &mut out) {
            cs.claimed[ri] = true;
        }
        super::redundant_rule::check_chain(cx, &cs, &mut out);
        out
    };
    out.extend(walk_entries(cx, &ctx, &universes, &steps, &analyse));
}

impl<'c> ChainSpaces<'c> {
    fn build(
        cx: &LintContext<'_>,
        ctx: &SpaceContext,
        base: &'c PacketSet,
        steps: &'c [Step],
        node: NodeIndex,
        chain: &'c Chain,
        entry: Option<&'c PacketSet>,
    ) -> ChainSpaces<'c> {
        let hooks = cx.graph.hooks(node);
        let (universe, refined) = match entry {
            Some(set) => (set, true),
            None => (base, false),
        };
        let spaces: Vec<MatchSpace> = per_rule(chain.rules.len(), |ri| {
            rule_match_space(&chain.rules[ri], ctx)
        });
        let barrier = steps.iter().position(|s| *s == Step::Barrier);
        let claimed = claimed_elsewhere(cx, node, chain, hooks);
        ChainSpaces {
            node,
            chain,
            hooks,
            base,
            refined,
            spaces,
            entry: universe,
            barrier,
            steps,
            claimed,
        }
    }
}

impl ChainSpaces<'_> {
    /// What is known about the packets at rule `ri`: what enters the chain,
    /// or only the hooks after a rule that may rewrite the packet. It only
    /// grows along the chain (the entry set is within the hooks' packets).
    pub fn known(&self, ri: usize) -> &PacketSet {
        if self.barrier.is_some_and(|b| b < ri) {
            self.base
        } else {
            self.entry
        }
    }

    /// `may ∩ known` of rule `ri`: what it may match of the packets that can
    /// reach it. Built when asked (once or twice per rule): a long chain
    /// would otherwise keep one more set per rule alive.
    pub fn reach_may(&self, ri: usize) -> PacketSet {
        self.spaces[ri].may.intersect(self.known(ri))
    }

    /// True when `reach_may(ri)` is not empty (without building it).
    pub fn reaches(&self, ri: usize) -> bool {
        self.spaces[ri].may.overlaps(self.known(ri))
    }
}

/// Chains with at least this many rules are analysed rule by rule in
/// parallel: one long chain (a flat INPUT of 10^5 rules) would otherwise keep
/// one core busy while the others wait.
pub(crate) const PAR_RULES: usize = 1024;

/// `f` of every rule index below `n`, in order; in parallel for a long chain.
/// `f` must depend on nothing but its index.
pub(crate) fn per_rule<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n >= PAR_RULES {
        (0..n).into_par_iter().with_min_len(256).map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// The rules below `n` for which `f` finds something, with what it found,
/// in rule order; in parallel for a long chain (see [`per_rule`]).
pub(crate) fn found_per_rule<T: Send>(
    n: usize,
    f: impl Fn(usize) -> Option<T> + Sync + Send,
) -> Vec<(usize, T)> {
    let found = |ri| f(ri).map(|t| (ri, t));
    if n >= PAR_RULES {
        (0..n)
            .into_par_iter()
            .with_min_len(256)
            .filter_map(found)
            .collect()
    } else {
        (0..n).filter_map(found).collect()
    }
}

/// What is known about the packets that enter each chain: only the hooks
/// (every packet that can traverse them), or a refined set, a subset of the
/// hooks' packets. A refined set is kept only from when its chain is
/// reached until its chain is analysed and the entries of the chains it
/// jumps to are built: a kube dump has 10^4 of them, each a union of
/// several pieces, and they would otherwise all live until the end.
struct Entries {
    /// Per node: its set in `sets`, or [`HOOKS_ONLY`].
    of_node: Vec<u32>,
    sets: Vec<PacketSet>,
    /// Slots of `sets` whose set was dropped, to be used again.
    free: Vec<u32>,
}

const HOOKS_ONLY: u32 = u32::MAX;

impl Entries {
    /// The refined entry of a chain; `None` when only its hooks are known.
    fn get(&self, node: NodeIndex) -> Option<&PacketSet> {
        let i = self.of_node[node.index()];
        (i != HOOKS_ONLY).then(|| &self.sets[i as usize])
    }

    fn set(&mut self, node: NodeIndex, set: PacketSet) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.sets[slot as usize] = set;
                slot
            }
            None => {
                self.sets.push(set);
                u32::try_from(self.sets.len() - 1).expect("fewer than 2^32 chains")
            }
        };
        self.of_node[node.index()] = slot;
    }

    /// Drops a chain's refined set: nothing reads it any more.
    fn drop_set(&mut self, node: NodeIndex) {
        let slot = std::mem::replace(&mut self.of_node[node.index()], HOOKS_ONLY);
        if slot != HOOKS_ONLY {
            let empty = self.sets[slot as usize].empty_like();
            self.sets[slot as usize] = empty;
            self.free.push(slot);
        }
    }
}

/// Jump sites looked at, at most, to refine a chain's entry.
const MAX_SITES: usize = 256;
/// Pieces an entry set may have before it falls back to the hooks.
const MAX_ENTRY_PIECES: usize = 1024;

/// The packets of every set of hooks: the union of
/// [`SpaceContext::hook_universe`] over its hooks, built once, because every
/// chain and every jump site after a barrier asks for one.
struct HookUniverses(Vec<PacketSet>);

impl HookUniverses {
    fn new(ctx: &SpaceContext) -> HookUniverses {
        let mut sets: Vec<PacketSet> = Vec::new();
        for hooks in HookSet::all() {
            // The set without its last hook comes earlier in the table.
            let set = match hooks.iter().last() {
                None => ctx.empty(),
                Some(top) => sets[hooks.bits() & !(1 << top)]
                    .union(&ctx.hook_universe(crate::model::HOOK_NAMES[top])),
            };
            sets.push(set);
        }
        HookUniverses(sets)
    }

    fn get(&self, hooks: HookSet) -> &PacketSet {
        &self.0[hooks.bits()]
    }
}

/// Chains with a refined entry analysed together: a batch is large enough
/// that the threads rarely wait for the walk (each batch wakes them), and
/// holds a small part of the refined entries of a large dump.
const BATCH: usize = 512;

/// Finds the packets that can enter each chain, in jump order (Kahn's
/// algorithm; chains on a loop, and after one, keep `Hooks`), and calls
/// `analyse` for every reachable chain with rules. Returns the findings in
/// file order.
///
/// Chains with a refined entry are analysed in parallel batches as the walk
/// builds their entries, so that only a batch of entries is alive at a
/// time; the others (most chains of a kube dump: the endpoints' chains are
/// entered after a MARK) afterwards, all together. Both go in file order as
/// far as they can: the walk takes the first chain in the file whose entry
/// can be built, and analysing chains in the order of the model's memory
/// costs a quarter less time than in the order of the jumps.
///
/// A user chain `X` is entered by the packets that a jump or goto `J` in
/// chain `C` may match, as they are at `J`: when no rule of `C` before `J`
/// can rewrite the packet (a barrier), that is `may(J) ∩ entry(C)`, else
/// `may(J) ∩ hooks(C)`. Rules before `J` that decide are ignored, so the set
/// only ever grows: sound.
fn walk_entries<'s>(
    cx: &LintContext<'_>,
    ctx: &SpaceContext,
    universes: &HookUniverses,
    steps: &dyn Fn(NodeIndex) -> &'s [Step],
    analyse: &(dyn Fn(NodeIndex, Option<&PacketSet>) -> Vec<Finding> + Sync),
) -> Vec<Finding> {
    use petgraph::visit::EdgeRef;
    let g = &cx.graph;
    let n = g.graph.node_count();
    let mut entries = Entries {
        of_node: vec![HOOKS_ONLY; n],
        sets: Vec::new(),
        free: Vec::new(),
    };
    // Chains whose entry is known: reachable, and not on a loop. What
    // enters them is their entry, no copy kept.
    let mut known: Vec<bool> = vec![false; n];
    let mut indegree: Vec<u32> = vec![0; n];
    for e in g.graph.edge_references() {
        indegree[e.target().index()] += 1;
    }
    // Per node: true when building its entry reads the entries of the
    // chains that jump to it.
    let reads: Vec<bool> = g
        .graph
        .node_indices()
        .map(|node| {
            !g.hooks(node).is_empty()
                && !g.chain(node).builtin
                && indegree[node.index()] as usize <= MAX_SITES
        })
        .collect();
    let reads_sites = |node: NodeIndex| reads[node.index()];
    // Per node: the jumps out of it to chains whose entry will read its
    // entry and is not built yet; at 0 nothing reads it but its own
    // analysis (KUBE-MARK-MASQ, which every service jumps to, reads none).
    let mut uses_left: Vec<u32> = vec![0; n];
    for e in g.graph.edge_references() {
        if reads_sites(e.target()) {
            uses_left[e.source().index()] += 1;
        }
    }
    // Per node: true once analysed, or when there is nothing to analyse.
    // Chains left undone by the walk are analysed after it.
    let mut done: Vec<bool> = g
        .graph
        .node_indices()
        .map(|node| g.hooks(node).is_empty() || g.chain(node).rules.is_empty())
        .collect();
    // Per node: its first barrier, or `u32::MAX`.
    let first_barrier: Vec<u32> = g
        .graph
        .node_indices()
        .map(|node| {
            steps(node)
                .iter()
                .position(|s| *s == Step::Barrier)
                .map_or(u32::MAX, |b| b as u32)
        })
        .collect();
    let mut found: Vec<(NodeIndex, Vec<Finding>)> = Vec::new();
    let mut batch: Vec<NodeIndex> = Vec::new();
    let mut run_batch = |batch: &mut Vec<NodeIndex>,
                         entries: &mut Entries,
                         done: &mut [bool],
                         uses_left: &[u32]| {
        let results: Vec<(NodeIndex, Vec<Finding>)> = batch
            .par_iter()
            .map(|&node| (node, analyse(node, entries.get(node))))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        found.extend(results);
        for node in batch.drain(..) {
            done[node.index()] = true;
            if uses_left[node.index()] == 0 {
                entries.drop_set(node);
            }
        }
    };
    // The chains whose entry can be built, first in the file first.
    let mut work: BinaryHeap<Reverse<NodeIndex>> = BinaryHeap::new();
    for node in g.graph.node_indices() {
        if indegree[node.index()] == 0 {
            work.push(Reverse(node));
        }
    }
    while let Some(Reverse(node)) = work.pop() {
        let hooks = g.hooks(node);
        let chain = g.chain(node);
        let sites = || g.graph.edges_directed(node, petgraph::Direction::Incoming);
        if !hooks.is_empty() && !chain.builtin {
            // Counted, not collected: a chain every service jumps to
            // (KUBE-MARK-MASQ) has as many sites as the dump has services.
            let count = sites().take(MAX_SITES + 1).count();
            let mut acc = (count > 0 && count <= MAX_SITES).then(|| ctx.empty());
            for e in sites() {
                let Some(a) = acc.as_mut() else { break };
                let from = e.source();
                let ri = e.weight().rule();
                if !known[from.index()] {
                    acc = None;
                    break;
                }
                let at_jump = match entries.get(from) {
                    Some(set) if first_barrier[from.index()] as usize >= ri => set,
                    _ => universes.get(g.hooks(from)),
                };
                let may = rule_match_space(g.rule(from, ri), ctx).may;
                *a = a.union(&may.intersect(at_jump));
                if a.cube_count() > MAX_ENTRY_PIECES {
                    a.compact();
                    if a.cube_count() > MAX_ENTRY_PIECES {
                        acc = None;
                    }
                }
            }
            if let Some(a) = acc {
                let base = universes.get(hooks);
                let refined = a.intersect(base);
                // Jumps that let in all of the hooks' packets (a kube
                // service's random pick of an endpoint) refine nothing: the
                // same pieces as the hooks' set give the same results, and
                // every chain keeping its own copy would cost the memory of
                // the largest chain count.
                if !refined.same_pieces(base) {
                    entries.set(node, refined);
                }
            }
        }
        known[node.index()] = !hooks.is_empty();
        // The entries of the chains that jump here have been read.
        if reads_sites(node) {
            for e in sites() {
                let from = e.source();
                uses_left[from.index()] -= 1;
                if uses_left[from.index()] == 0 && done[from.index()] {
                    entries.drop_set(from);
                }
            }
        }
        if done[node.index()] || entries.get(node).is_none() {
            if uses_left[node.index()] == 0 {
                entries.drop_set(node);
            }
        } else {
            batch.push(node);
            if batch.len() == BATCH {
                run_batch(&mut batch, &mut entries, &mut done, &uses_left);
            }
        }
        for e in g.graph.edges_directed(node, petgraph::Direction::Outgoing) {
            let t = e.target();
            indegree[t.index()] -= 1;
            if indegree[t.index()] == 0 {
                work.push(Reverse(t));
            }
        }
    }
    run_batch(&mut batch, &mut entries, &mut done, &uses_left);
    // The chains entered by all of their hooks' packets, those on a loop
    // and those after one (never walked: only their hooks are known).
    let rest: Vec<(NodeIndex, Vec<Finding>)> = (0..n)
        .into_par_iter()
        .map(NodeIndex::new)
        .filter(|node| !done[node.index()])
        .map(|node| (node, analyse(node, None)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    found.extend(rest);
    // Node order is file order.
    found.sort_unstable_by_key(|(node, _)| *node);
    found.into_iter().flat_map(|(_, f)| f).collect()
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

fn named(iface: Option<&Negatable<Interface>>) -> bool {
    iface.is_some_and(|i| !i.negated && i.value.name != "+")
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
    let no_in = hooks.is_subset(HookSet::of(&[OUTPUT]));
    chain
        .rules
        .iter()
        .enumerate()
        .map(|(ri, rule): (usize, &Rule)| {
            let after_exit = exit.is_some_and(|e| ri > e);
            let dup = cx.first_copy(node, ri).is_some();
            let iface = (no_out && named(rule.out_interface()))
                || (no_in && named(rule.in_interface()))
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
            "PREROUTING" | "INPUT" => rule.out_interface().is_some(),
            "OUTPUT" | "POSTROUTING" => rule.in_interface().is_some(),
            _ => false,
        }
}

/// "ACCEPT", "RETURN", "-g NAME", "-j NAME", or "no target".
pub fn verdict_name(rule: &Rule) -> String {
    match &rule.target {
        None => "no target".to_string(),
        Some(t) => match (&t.kind, t.jump) {
            (TargetKind::Chain, crate::model::JumpKind::Goto) => format!("-g {}", t.name),
            (TargetKind::Chain, _) => format!("-j {}", t.name),
            _ => t.name.to_string(),
        },
    }
}
