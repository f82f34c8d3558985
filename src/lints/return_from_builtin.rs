//! `return-from-builtin`: `-j RETURN` in a builtin chain.
//!
//! In a user chain RETURN goes back to the rule after the jump. A builtin
//! chain has no caller: RETURN ends the chain and the chain's policy decides
//! the packet, which is rarely what the author meant to write.

use crate::codes;
use crate::diagnostic::Finding;
use crate::lints::LintContext;
use crate::model::TargetKind;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            if !chain.builtin {
                continue;
            }
            let node = cx.graph.node(ti, ci);
            for (ri, rule) in chain.rules.iter().enumerate() {
                if rule
                    .target
                    .as_ref()
                    .is_none_or(|t| t.kind != TargetKind::Return)
                {
                    continue;
                }
                let policy = chain.policy.map_or_else(
                    || "its policy".to_string(),
                    |p| format!("its policy, {}", p.as_str()),
                );
                let finding = Finding::new(
                    &codes::RETURN_FROM_BUILTIN,
                    rule.target_span(),
                    format!(
                        "RETURN in builtin chain `{}` does not go back anywhere: it ends the chain and {policy} decides the packet",
                        chain.name
                    ),
                )
                .help("say what should happen to the packet: `-j ACCEPT` or `-j DROP`");
                out.push(cx.at_rule(finding, node, ri));
            }
        }
    }
}
