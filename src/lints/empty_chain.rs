//! `empty-chain`: a user chain with no rules that rules jump to.
//!
//! A jump to an empty chain comes straight back: the jump does nothing (and a
//! goto to it acts like RETURN). It is often on purpose (a placeholder another
//! tool fills in later, like Calico's `cali-PREROUTING`), so this is only
//! information. The jump sites are the
//! related locations. An empty chain nothing jumps to is `unreachable-chain`.

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::LintContext;
use crate::model::JumpKind;

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
            let gotos = jumps
                .iter()
                .filter(|e| g.edge_kind(**e) == JumpKind::Goto)
                .count();
            let plain = jumps.len() - gotos;
            let mut parts = Vec::new();
            if plain > 0 {
                parts.push(if plain == 1 {
                    "1 rule jumps to it and comes straight back".to_string()
                } else {
                    format!("{plain} rules jump to it and come straight back")
                });
            }
            if gotos > 0 {
                parts.push(if gotos == 1 {
                    "1 rule goes to it with -g, which acts like RETURN".to_string()
                } else {
                    format!("{gotos} rules go to it with -g, which acts like RETURN")
                });
            }
            let finding = Finding::new(
                &codes::EMPTY_CHAIN,
                chain.span,
                format!("chain `{}` has no rules: {}", chain.name, parts.join("; ")),
            )
            .help("fine for a placeholder that is filled in later; otherwise add the missing rules or remove the jumps");
            out.push(cx.at_chain(cx.with_sites(finding, &jumps), node));
        }
    }
}
