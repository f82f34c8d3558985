//! `duplicate-rule`: the same rule twice in one chain (counters aside).
//!
//! The second copy is reported, with the first as the related location. Rules
//! are hashed, so a chain is read once. A copy that is dead because of some
//! other rule is `unreachable-rule`'s; a copy that is dead because the first
//! copy ends the chain is reported here, so a dead rule gets one finding.

use foldhash::HashMap;

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::{LintContext, RuleKey, same_rule};

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            let exit = g.exit_rule(node);
            let mut first: HashMap<RuleKey<'_>, usize> =
                HashMap::with_capacity_and_hasher(chain.rules.len(), Default::default());
            for (ri, rule) in chain.rules.iter().enumerate() {
                let Some(&earlier) = first.get(&RuleKey(rule)) else {
                    first.insert(RuleKey(rule), ri);
                    continue;
                };
                let dead = exit.is_some_and(|e| ri > e);
                if dead && !exit.is_some_and(|e| same_rule(&chain.rules[e], rule)) {
                    continue; // unreachable-rule
                }
                let before = &chain.rules[earlier];
                let finding = Finding::new(
                    &codes::DUPLICATE_RULE,
                    rule.span,
                    format!(
                        "this rule repeats rule {} of `{}` (line {})",
                        earlier + 1,
                        chain.name,
                        before.span.line
                    ),
                )
                .related(before.span, "the same rule first appears here")
                .help("delete one of the copies");
                out.push(cx.at_rule(finding, node, ri));
            }
        }
    }
}
