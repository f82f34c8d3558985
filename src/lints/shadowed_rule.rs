//! `shadowed-rule`: every packet that can match the rule is decided by
//! earlier rules of the same chain, so the rule never matches anything.
//!
//! The chain is taken as entered by every packet of the hooks that reach it
//! (see [`dead_code`](crate::lints::dead_code)). Rule `R` is shadowed when
//! `may(R) ∩ entry ⊆ ⋃ must(E)` over the earlier rules `E` that decide the
//! packet for good in this chain (a verdict, RETURN, a goto, a jump to a chain
//! that always decides) and come after the last *barrier* before `R` (a
//! target that may rewrite a field later rules test: MARK, CONNMARK, unknown
//! targets, jumps to chains that may do so and return). `may` over-approximates
//! what `R` matches and `must` under-approximates what `E` matches (a rule
//! with an unmodelled match covers nothing), so the claim is sound.
//!
//! Earlier rules are found through an interval index on the dimension that
//! tells the chain's rules apart best ([`Index`]), so a rule meets only the
//! rules that can overlap it. A rule that needs more than [`MAX_CANDIDATES`]
//! overlapping rules, or whose uncovered rest splits into more than
//! [`MAX_PIECES`] pieces, is not reported (never a false claim, at worst a
//! missed one).
//!
//! Related locations are a small covering set, Batfish style: a single rule
//! that covers it when there is one, else a greedy cover taking the rule that
//! decides the largest part of it first, then every chosen rule the others
//! already cover dropped; a covering rule with a different verdict (ACCEPT vs
//! DROP) is always listed, and said so. They are shown in file order.

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::Flow;
use crate::lints::LintContext;
use crate::lints::dead_code::index::{Index, Keyed, rule_no};
use crate::lints::dead_code::{ChainSpaces, Step, found_per_rule, verdict_name};
use crate::space::{Dim, PacketSet};

/// Overlapping earlier rules looked at, at most, per rule.
pub const MAX_CANDIDATES: usize = 4096;
/// Pieces the uncovered rest of a rule may split into before giving up.
pub const MAX_PIECES: usize = 512;
/// Covering rules minimised one by one at most.
const MAX_MINIMISE: usize = 16;

/// Reports the chain's shadowed rules; returns their indexes.
pub fn check_chain(
    cx: &LintContext<'_>,
    cs: &ChainSpaces<'_>,
    out: &mut Vec<Finding>,
) -> Vec<usize> {
    let mut dead = Vec::new();
    let n = cs.chain.rules.len();
    let deciders: Vec<u32> = (0..n)
        .filter(|&ri| cs.steps[ri] == Step::Decides && !cs.spaces[ri].must().is_empty())
        .map(rule_no)
        .collect();
    if deciders.is_empty() {
        return dead;
    }
    let index = Index::build(&deciders, &Musts(cs), |d: Dim| max_of(cs, d));
    drop(deciders);
    // Where the segment of each rule starts: after the last barrier before
    // it (the barriers, not a start per rule: a long chain has few).
    let barriers: Vec<usize> = (0..n).filter(|&ri| cs.steps[ri] == Step::Barrier).collect();
    let start_of = |ri: usize| match barriers.partition_point(|&b| b < ri) {
        0 => 0,
        i => barriers[i - 1] + 1,
    };
    // Each rule on its own (`claimed` is not changed here): in parallel for
    // a long chain, reported in order.
    let covers = found_per_rule(n, |ri| {
        let start = start_of(ri);
        if cs.claimed[ri] || start == ri {
            return None;
        }
        let target = cs.reach_may(ri);
        if target.is_empty() {
            return None;
        }
        let cover = covering_set(cs, &index, &target, start, ri)?;
        // Would the earlier rules cover it for every packet of the hooks,
        // or only for those the jumps into the chain let in?
        let by_path = cs.refined && {
            let wide = cs.spaces[ri].may.intersect(cs.base);
            covering_set(cs, &index, &wide, start, ri).is_none()
        };
        Some((cover, by_path))
    });
    for (ri, (cover, by_path)) in covers {
        out.push(finding(cx, cs, ri, &cover, by_path));
        dead.push(ri);
    }
    dead
}

/// The deciding rules of a chain keyed by what they surely match.
struct Musts<'a, 'c>(&'a ChainSpaces<'c>);

impl Keyed for Musts<'_, '_> {
    fn restricts(&self, ri: usize, d: Dim) -> bool {
        self.0.spaces[ri].must().restricts(d)
    }
    fn bounds(&self, ri: usize, d: Dim) -> Option<(u128, u128)> {
        self.0.spaces[ri].must().bounds(d)
    }
}

fn max_of(cs: &ChainSpaces<'_>, d: Dim) -> u128 {
    // The hooks' packets leave every dimension but the interfaces free, so
    // their bounds are the dimension's range.
    cs.base.bounds(d).map_or(0, |(_, hi)| hi)
}

/// Earlier deciding rules in `from..to` that together decide all of `target`,
/// small; `None` when they do not (or the search gives up).
fn covering_set(
    cs: &ChainSpaces<'_>,
    index: &Index,
    target: &PacketSet,
    from: usize,
    to: usize,
) -> Option<Vec<usize>> {
    let mut cands = Vec::new();
    let mut single = None;
    let complete = index.visit(target, from, to, |e| {
        let m = cs.spaces[e].must();
        if !m.overlaps(target) {
            return true;
        }
        if single.is_none() && target.is_subset(m) {
            single = Some(e);
        }
        cands.push(e);
        cands.len() < MAX_CANDIDATES
    });
    if !complete && single.is_none() {
        return None;
    }
    // Most rules are not shadowed: a packet of the rule that no candidate
    // decides settles it without the pieces of the exact difference.
    if single.is_none() {
        let musts: Vec<&PacketSet> = cands.iter().map(|&e| cs.spaces[e].must()).collect();
        if target.escapes(&musts) {
            return None;
        }
    }
    cands.sort_unstable();
    let mut chosen = match single {
        Some(e) => vec![e],
        None => {
            // Largest overlap with the rule first; ties in file order.
            let mut by_overlap: Vec<(f64, usize)> = cands
                .iter()
                .map(|&e| (cs.spaces[e].must().intersect(target).log2_volume(), e))
                .collect();
            by_overlap.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut rest = target.clone();
            let mut chosen = Vec::new();
            for &(_, e) in &by_overlap {
                let m = cs.spaces[e].must();
                if !rest.overlaps(m) {
                    continue;
                }
                rest = rest.difference(m);
                chosen.push(e);
                if rest.is_empty() {
                    break;
                }
                if rest.cube_count() > MAX_PIECES {
                    rest.compact();
                    if rest.cube_count() > MAX_PIECES {
                        return None;
                    }
                }
            }
            if !rest.is_empty() {
                return None;
            }
            // Try to drop the smallest contributions first.
            chosen.reverse();
            let mut chosen = minimise(cs, target, chosen);
            chosen.sort_unstable();
            chosen
        }
    };
    // Always show a covering rule with a different verdict.
    let differs = |e: usize, v: &str| verdict_of(cs, e).is_some_and(|w| w != v);
    if let Some(v) = verdict_of(cs, to)
        && !chosen.iter().any(|&e| differs(e, v))
        && let Some(&e) = cands.iter().find(|&&e| differs(e, v))
    {
        chosen.push(e);
        chosen.sort_unstable();
    }
    Some(chosen)
}

/// Drops covering rules the others already cover.
fn minimise(cs: &ChainSpaces<'_>, target: &PacketSet, mut chosen: Vec<usize>) -> Vec<usize> {
    if chosen.len() > MAX_MINIMISE {
        return chosen;
    }
    let mut i = 0;
    while i < chosen.len() && chosen.len() > 1 {
        let mut rest = target.clone();
        for (j, &e) in chosen.iter().enumerate() {
            if j != i {
                rest = rest.difference(cs.spaces[e].must());
                if rest.is_empty() || rest.cube_count() > MAX_PIECES {
                    break;
                }
            }
        }
        if rest.is_empty() {
            chosen.remove(i);
        } else {
            i += 1;
        }
    }
    chosen
}

/// The verdict of a rule that ends the packet's walk in the table or returns
/// it (ACCEPT, DROP, REJECT, RETURN, ...); `None` for jumps and the rest.
fn verdict_of<'r>(cs: &ChainSpaces<'r>, ri: usize) -> Option<&'r str> {
    let rule = &cs.chain.rules[ri];
    let t = rule.target.as_ref()?;
    (t.kind.is_terminal_verdict(&t.name) || t.kind == crate::model::TargetKind::Return)
        .then_some(t.name.as_str())
}

fn finding(
    cx: &LintContext<'_>,
    cs: &ChainSpaces<'_>,
    ri: usize,
    cover: &[usize],
    by_path: bool,
) -> Finding {
    let rules = &cs.chain.rules;
    let rule = &rules[ri];
    let mine = verdict_of(cs, ri);
    let other = mine.and_then(|v| {
        cover
            .iter()
            .find_map(|&e| verdict_of(cs, e).filter(|w| *w != v).map(|w| (e, w)))
    });
    let name = &cs.chain.name;
    let describe = |e: usize| format!("rule {} (line {})", e + 1, rules[e].span.line);
    let by = if cover.len() == 1 {
        format!(
            "{} of `{name}` decides every packet it could match",
            describe(cover[0])
        )
    } else {
        let list: Vec<String> = cover.iter().map(|&e| describe(e)).collect();
        format!(
            "no single earlier rule covers it, but together {} of `{name}` decide every packet it could match",
            list.join(", ")
        )
    };
    let mut message = format!("this rule is shadowed: {by}");
    if by_path {
        message.push_str(&format!(
            ", given the packets the jumps into `{name}` let in (the path into the chain excludes the rest)"
        ));
    }
    if let (Some(v), Some((_, w))) = (mine, other) {
        message.push_str(&format!(
            "; shadowed by an earlier rule with a different verdict ({w} vs {v}): probably a bug"
        ));
    }
    let mut f = Finding::new(&codes::SHADOWED_RULE, rule.span, message).help(
        "move the rule above the rules that cover it, or delete it if it is no longer needed",
    );
    for &e in cover {
        let what = match cx.graph.flow(cs.node, e) {
            Flow::Goto(_) | Flow::Jump(_) | Flow::Return => {
                format!(
                    "this rule sends its packets elsewhere ({})",
                    verdict_name(&rules[e])
                )
            }
            _ => format!("this rule decides them first ({})", verdict_name(&rules[e])),
        };
        let what = match (mine, verdict_of(cs, e)) {
            (Some(v), Some(w)) if v != w => format!("{what}: a different verdict than {v}"),
            _ => what,
        };
        f = f.related(rules[e].span, what);
    }
    if by_path {
        f = cx.with_sites(f, &cx.graph.jumps_into(cs.node));
    }
    cx.at_rule(f, cs.node, ri)
}
