//! `empty-chain`: a user chain with no rules that rules jump to.
//!
//! A jump to an empty chain comes straight back: the jump does nothing. It is
//! often on purpose (a placeholder another tool fills in later, like Calico's
//! `cali-PREROUTING`), so this is only information. The jump sites are the
//! related locations. An empty chain nothing jumps to is `unreachable-chain`.

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::LintContext;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            if chain.builtin || !chain.rules.is_empty() {
                continue;
            }
            let node = g.node(ti, ci);
            let jumps = g.jumps_into(node);
            if jumps.is_empty() {
                continue;
            }
            let sites = if jumps.len() == 1 {
                "1 rule jumps".to_string()
            } else {
                format!("{} rules jump", jumps.len())
            };
            let finding = Finding::new(
                &codes::EMPTY_CHAIN,
                chain.span,
                format!("chain `{}` has no rules, but {sites} to it: those jumps do nothing", chain.name),
            )
            .help("fine for a placeholder that is filled in later; otherwise add the missing rules or remove the jumps");
            out.push(cx.at_chain(cx.with_sites(finding, &jumps), node));
        }
    }
}
