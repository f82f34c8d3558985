//! `unreachable-rule`: a rule after an unconditional rule that always leaves
//! the chain: ACCEPT, DROP, REJECT, a terminal NAT target, RETURN, a goto, or
//! a jump to a chain that always decides. No packet reaches the rules after it.
//!
//! "Unconditional" is decided conservatively ([`matches_every_packet`]): a rule
//! with any match other than `-m comment` may not match everything, so nothing
//! after it is reported. A rule that repeats the very rule that ends the chain
//! is left to `duplicate-rule`, so that a dead rule gets one finding. Rules of
//! a chain no builtin chain reaches are `unreachable-chain`'s.
//!
//! [`matches_every_packet`]: crate::graph::matches_every_packet

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::Flow;
use crate::lints::{LintContext, same_rule};

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            if !g.is_reachable(node) {
                continue;
            }
            let Some(exit) = g.exit_rule(node) else {
                continue;
            };
            let ender = &chain.rules[exit];
            let how = match (g.flow(node, exit), ender.target.as_ref()) {
                (Flow::Return, _) => "returns every packet".to_string(),
                (Flow::Goto(to), _) => {
                    format!("sends every packet to `{}` for good (-g)", g.chain(to).name)
                }
                (Flow::Jump(to), _) => {
                    format!(
                        "jumps to `{}`, which decides every packet",
                        g.chain(to).name
                    )
                }
                (_, Some(t)) => format!("decides every packet (-j {})", t.name),
                (_, None) => "ends the chain".to_string(),
            };
            for (ri, rule) in chain.rules.iter().enumerate().skip(exit + 1) {
                if same_rule(rule, ender) {
                    continue; // duplicate-rule
                }
                let finding = Finding::new(
                    &codes::UNREACHABLE_RULE,
                    rule.span,
                    format!(
                        "no packet reaches this rule: rule {} of `{}` (line {}) {how}",
                        exit + 1,
                        chain.name,
                        ender.span.line
                    ),
                )
                .related(ender.span, format!("this rule {how}"))
                .help("move the rule above the one that ends the chain, or delete it");
                out.push(cx.at_rule(finding, node, ri));
            }
        }
    }
}
