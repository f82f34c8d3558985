//! `unreachable-chain`: a user chain that no builtin chain reaches, directly
//! or through other chains. No packet ever enters it.
//!
//! Chains the table never declares are `undefined-chain`'s, and hook names the
//! table lacks are `invalid-chain-for-table`'s: they are not reported twice.

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::hook_of;
use crate::lints::LintContext;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            if chain.builtin || !chain.declared || g.is_reachable(node) {
                continue;
            }
            let hook_name = hook_of(&chain.name).is_some();
            if hook_name && chain.policy.is_some() {
                continue; // invalid-chain-for-table
            }
            let jumps = g.jumps_into(node);
            let message = if jumps.is_empty() {
                format!(
                    "no rule jumps to chain `{}`: no packet ever enters it",
                    chain.name
                )
            } else {
                format!(
                    "chain `{}` is only jumped to from chains that no builtin chain reaches: no packet ever enters it",
                    chain.name
                )
            };
            let help = if hook_name {
                format!(
                    "`{}` is not a builtin chain of table `{}` (its builtin chains are {}); the rules probably belong in another table",
                    chain.name,
                    table.name,
                    table.name.builtin_chains().join(", ")
                )
            } else {
                "jump to it from where it is needed, or delete it".to_string()
            };
            let finding = Finding::new(&codes::UNREACHABLE_CHAIN, chain.span, message).help(help);
            out.push(cx.at_chain(cx.with_sites(finding, &jumps), node));
        }
    }
}
