//! `duplicate-rule`: the same rule twice in one chain (counters aside).
//!
//! The second copy is reported, with the first as the related location. Rules
//! are hashed once, for every lint, by [`LintContext::first_copy`]. A copy that is dead because of some
//! other rule is `unreachable-rule`'s; a copy that is dead because the first
//! copy ends the chain is reported here, so a dead rule gets one finding.

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::{LintContext, same_rule};

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            let exit = g.exit_rule(node);
            for (ri, rule) in chain.rules.iter().enumerate() {
                let Some(earlier) = cx.first_copy(node, ri) else {
                    continue;
                };
                let dead = exit.is_some_and(|e| ri > e);
                if dead && !exit.is_some_and(|e| same_rule(&chain.rules[e], rule)) {
                    continue; // unreachable-rule
                }
                let before = &chain.rules[earlier];
                let mut message = format!(
                    "this rule repeats rule {} of `{}` (line {})",
                    earlier + 1,
                    chain.name,
                    before.span.line
                );
                // `-m statistic` draws again for each copy: the second copy
                // matches some of the packets the first let through, so
                // deleting it changes how many match (measured with real
                // packets by tests/kernel_counters.rs).
                let draws = rule.find_match("statistic").is_some();
                let help = if draws {
                    message.push_str(
                        "; `-m statistic` draws again in each copy, so the two together match more packets than one",
                    );
                    "write one rule with the probability (or `--every`) the two give together"
                } else {
                    "delete one of the copies"
                };
                let finding = Finding::new(&codes::DUPLICATE_RULE, rule.span, message)
                    .related(before.span, "the same rule first appears here")
                    .help(help);
                out.push(cx.at_rule(finding, node, ri));
            }
        }
    }
}
