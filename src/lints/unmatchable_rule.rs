//! `unmatchable-rule`: a rule whose own matches contradict each other, or
//! contradict the place it sits: no packet that can reach its chain can match
//! it, whatever the rules before it do.
//!
//! The claim is made only when it is certain: the rule's `may` set (what it
//! can match, unmodelled conditions taken as "maybe") intersected with the
//! packets of every hook that reaches the chain is empty. Unmodelled matches
//! only make `may` larger, never smaller, so an empty set is a proof.
//!
//! Rules another dead-code lint reports (`unreachable-rule`,
//! `duplicate-rule`, `interface-never-matches`) are left to it; so are rules
//! marked `-4`/`-6` for the other family, which iptables-restore skips.

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::LintContext;
use crate::lints::dead_code::ChainSpaces;

/// Reports the chain's unmatchable rules; returns their indexes.
pub fn check_chain(
    cx: &LintContext<'_>,
    cs: &ChainSpaces<'_>,
    out: &mut Vec<Finding>,
) -> Vec<usize> {
    let mut dead = Vec::new();
    let family = cx.ruleset.family;
    for (ri, rule) in cs.chain.rules.iter().enumerate() {
        if cs.claimed[ri] || cs.reaches(ri) {
            continue;
        }
        dead.push(ri);
        if rule.only_family().is_some_and(|f| f != family) {
            continue;
        }
        let by_path = cs.refined && cs.spaces[ri].may.overlaps(cs.base);
        let why = if cs.spaces[ri].may.is_empty() {
            "its matches contradict each other".to_string()
        } else if by_path {
            format!(
                "the jumps into `{}` only let in packets it cannot match (the path into the chain excludes it)",
                cs.chain.name
            )
        } else {
            let hooks = cs.hooks.names().join(" and ");
            if cs.chain.builtin {
                format!("it only matches packets that never traverse {hooks}")
            } else {
                format!(
                    "it only matches packets that never reach `{}` (reached from {hooks})",
                    cs.chain.name
                )
            }
        };
        let mut finding = Finding::new(
            &codes::UNMATCHABLE_RULE,
            rule.span,
            format!("no packet can match this rule: {why}"),
        )
        .help("fix the contradicting matches, or delete the rule");
        if by_path {
            finding = cx.with_sites(finding, &cx.graph.jumps_into(cs.node));
        } else if !cs.chain.builtin {
            let hook = cs.hooks.iter().next().expect("reachable");
            let (path, _) = cx.hook_path(hook, cs.node);
            finding = cx.with_path(finding, &path);
        }
        out.push(cx.at_rule(finding, cs.node, ri));
    }
    dead
}
