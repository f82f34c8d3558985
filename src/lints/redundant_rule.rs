//! `redundant-rule`: deleting the rule changes no packet's fate. Every packet
//! it could match gets the same verdict without it: later rules with the
//! same verdict (or the chain's end: the policy of a builtin chain, or the
//! return from a user chain) decide all of them, and no rule in between
//! touches any of them.
//!
//! Only plain verdicts are considered: ACCEPT, DROP and RETURN (RETURN in a
//! builtin chain is its policy). Let `S = may(R) ∩ entry`. The rules after
//! `R` are walked in order, keeping the part of `S` not yet decided: a rule
//! with the same verdict takes its `must` set away; any other rule whose
//! `may` set meets the rest (a different verdict, a jump, LOG, MARK, anything)
//! ends the search with no finding. When the rest becomes empty, or reaches
//! the end of the chain where the fall-through verdict is the same, the rule
//! is redundant. `may` over-approximates and `must` under-approximates, so
//! the claim is sound; it is exact over the modelled fields. A later rule
//! that another lint reports (a duplicate of this one, a shadowed rule) is
//! not relied on: it stops the search like a rule with another verdict, so
//! deleting every reported rule never changes a fate through a pair.
//!
//! Later rules are found through the same interval index as `shadowed-rule`;
//! a rule that meets more than [`MAX_CANDIDATES`] later rules, or whose rest
//! splits into more than [`MAX_PIECES`] pieces, is not reported. Rules
//! another dead-code lint reports are skipped, and so is RETURN in a builtin
//! chain (`return-from-builtin` says what to do with it).

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::LintContext;
use crate::lints::dead_code::index::{Index, Keyed, rule_no};
use crate::lints::dead_code::{ChainSpaces, Step, found_per_rule};
use crate::lints::shadowed_rule::{MAX_CANDIDATES, MAX_PIECES};
use crate::model::{Policy, TargetKind};
use crate::space::Dim;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Drop,
    Return,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Return => "RETURN",
        }
    }
}

/// The plain verdict of a rule, RETURN in a builtin chain read as its policy.
fn verdict(cs: &ChainSpaces<'_>, ri: usize) -> Option<Verdict> {
    let t = cs.chain.rules[ri].target.as_ref()?;
    match t.kind {
        TargetKind::Accept => Some(Verdict::Accept),
        TargetKind::Drop => Some(Verdict::Drop),
        TargetKind::Return if cs.chain.builtin => fall_through(cs),
        TargetKind::Return => Some(Verdict::Return),
        _ => None,
    }
}

/// What happens to a packet that falls off the end of the chain.
fn fall_through(cs: &ChainSpaces<'_>) -> Option<Verdict> {
    if !cs.chain.builtin {
        return Some(Verdict::Return);
    }
    match cs.chain.policy? {
        Policy::Accept => Some(Verdict::Accept),
        Policy::Drop => Some(Verdict::Drop),
    }
}

/// A chain's rules keyed by what they may match of the packets that reach
/// them, without building those sets.
struct Reach<'a, 'c>(&'a ChainSpaces<'c>);

impl Keyed for Reach<'_, '_> {
    fn restricts(&self, ri: usize, d: Dim) -> bool {
        self.0.spaces[ri].may.restricts(d) || self.0.known(ri).restricts(d)
    }
    fn bounds(&self, ri: usize, d: Dim) -> Option<(u128, u128)> {
        self.0.spaces[ri].may.bounds_within(self.0.known(ri), d)
    }
}

pub fn check_chain(cx: &LintContext<'_>, cs: &ChainSpaces<'_>, out: &mut Vec<Finding>) {
    let n = cs.chain.rules.len();
    let all: Vec<u32> = (0..n).filter(|&ri| cs.reaches(ri)).map(rule_no).collect();
    let index = Index::build(&all, &Reach(cs), |d: Dim| {
        cs.base.bounds(d).map_or(0, |(_, hi)| hi)
    });
    drop(all);
    let end = fall_through(cs);
    // Each rule on its own: in parallel for a long chain, reported in order.
    let found = found_per_rule(n, |ri| {
        if cs.claimed[ri] || cs.steps[ri] != Step::Decides {
            return None;
        }
        let v = verdict(cs, ri)?;
        let rule = &cs.chain.rules[ri];
        if cs.chain.builtin
            && rule
                .target
                .as_ref()
                .is_some_and(|t| t.kind == TargetKind::Return)
        {
            return None; // return-from-builtin
        }
        let s = cs.reach_may(ri);
        if s.is_empty() {
            return None;
        }
        let mut later = Vec::new();
        let complete = index.visit(&s, ri + 1, n, |m| {
            later.push(m);
            later.len() < MAX_CANDIDATES
        });
        if !complete {
            return None;
        }
        later.sort_unstable();
        let mut rest = s;
        let mut deciders = Vec::new();
        let mut blocked = false;
        for &m in &later {
            // `rest` is within what reaches this rule, so within what
            // reaches `m` (that only grows along the chain): meeting
            // `reach_may(m)` is meeting `may(m)`.
            if !cs.spaces[m].may.overlaps(&rest) {
                continue;
            }
            // A later rule another lint reports (a duplicate of this one,
            // say) is no rule to rely on: deleting both would change fates.
            if !cs.claimed[m] && cs.steps[m] == Step::Decides && verdict(cs, m) == Some(v) {
                let must = cs.spaces[m].must();
                if rest.overlaps(must) {
                    rest = rest.difference(must);
                    deciders.push(m);
                }
                if rest.is_empty() {
                    break;
                }
                if rest.cube_count() > MAX_PIECES {
                    rest.compact();
                    if rest.cube_count() > MAX_PIECES {
                        blocked = true;
                        break;
                    }
                }
            } else {
                blocked = true;
                break;
            }
        }
        if blocked || (!rest.is_empty() && end != Some(v)) {
            return None;
        }
        Some((v, deciders, !rest.is_empty()))
    });
    for (ri, (v, deciders, falls_off)) in found {
        out.push(finding(cx, cs, ri, v, &deciders, falls_off));
    }
}

fn finding(
    cx: &LintContext<'_>,
    cs: &ChainSpaces<'_>,
    ri: usize,
    v: Verdict,
    deciders: &[usize],
    falls_off: bool,
) -> Finding {
    let rules = &cs.chain.rules;
    let describe = |e: usize| format!("rule {} (line {})", e + 1, rules[e].span.line);
    let mut by: Vec<String> = deciders.iter().map(|&e| describe(e)).collect();
    if falls_off {
        by.push(if cs.chain.builtin {
            format!("the chain's policy ({})", v.name())
        } else {
            "the end of the chain (which returns)".to_string()
        });
    }
    let message = format!(
        "this rule is redundant: without it, {} would give every packet it matches the same verdict ({})",
        by.join(" and "),
        v.name()
    );
    let mut f = Finding::new(&codes::REDUNDANT_RULE, rules[ri].span, message)
        .help("delete the rule, unless it is there for its counters");
    for &e in deciders {
        f = f.related(
            rules[e].span,
            format!("this later rule decides them the same way ({})", v.name()),
        );
    }
    cx.at_rule(f, cs.node, ri)
}
