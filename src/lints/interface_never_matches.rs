//! `interface-never-matches`: `-o` in a chain that only PREROUTING or INPUT
//! reach (routing has not chosen an output interface yet, or the packet is
//! delivered locally), or `-i` in a chain that only OUTPUT reaches (locally
//! sent packets have no input interface). POSTROUTING also sees forwarded
//! packets, which keep their input interface there: `-i` in a user chain
//! reached from POSTROUTING matches them (found with real packets by
//! tests/kernel_counters.rs).
//!
//! In PREROUTING or INPUT themselves `-o` (and `-i` in OUTPUT or POSTROUTING),
//! negated or not, is an error: iptables-restore refuses the rule with both
//! backends ("Can't use -o with INPUT"). In a user chain both backends load
//! it and the rule never matches, a warning. There, negated interfaces
//! (`! -o eth0`) and the bare wildcard `+` behave differently between the
//! backends and are not reported.

use crate::codes;
use crate::diagnostic::Finding;
use crate::diagnostic::Severity;
use crate::graph::{HookSet, INPUT, OUTPUT, PREROUTING};
use crate::lints::LintContext;
use crate::model::Generic;
use crate::model::{Interface, Negatable, Rule, Span};

/// iptables-restore refuses these by the chain's name alone.
fn refused_in_builtin(chain: &str, rule: &Rule) -> Option<(&'static str, Option<Span>)> {
    match chain {
        "PREROUTING" | "INPUT" if rule.out_interface().is_some() => {
            Some(("-o", rule.generic_span(Generic::OutInterface)))
        }
        "OUTPUT" | "POSTROUTING" if rule.in_interface().is_some() => {
            Some(("-i", rule.generic_span(Generic::InInterface)))
        }
        _ => None,
    }
}

fn named(iface: Option<&Negatable<Interface>>) -> Option<&str> {
    iface
        .filter(|i| !i.negated && i.value.name != "+")
        .map(|i| i.value.name.as_str())
}

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    let no_out = HookSet::of(&[PREROUTING, INPUT]);
    let no_in = HookSet::of(&[OUTPUT]);
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            if chain.builtin {
                for (ri, rule) in chain.rules.iter().enumerate() {
                    let Some((option, span)) = refused_in_builtin(&chain.name, rule) else {
                        continue;
                    };
                    let mut finding = Finding::new(
                        &codes::INTERFACE_NEVER_MATCHES,
                        span.unwrap_or(rule.span),
                        format!(
                            "`{option}` in {0}: iptables-restore refuses the rule (Can't use {option} with {0})",
                            chain.name
                        ),
                    )
                    .help(if option == "-o" {
                        "match the output interface in FORWARD, OUTPUT or POSTROUTING"
                    } else {
                        "match the input interface in PREROUTING, INPUT or FORWARD"
                    });
                    finding.severity = Severity::Error;
                    out.push(cx.at_rule(finding, node, ri));
                }
                if matches!(
                    chain.name.as_str(),
                    "PREROUTING" | "INPUT" | "OUTPUT" | "POSTROUTING"
                ) {
                    continue;
                }
            }
            let hooks = g.hooks(node);
            if hooks.is_empty() {
                continue;
            }
            let (check_out, check_in) = (hooks.is_subset(no_out), hooks.is_subset(no_in));
            if !check_out && !check_in {
                continue;
            }
            let live = g.exit_rule(node).map_or(chain.rules.len(), |e| e + 1);
            let hook_names = hooks.names().join(" and ");
            let reached = if chain.builtin {
                format!("in {}", chain.name)
            } else {
                format!("here: `{}` is only reached from {hook_names}", chain.name)
            };
            for (ri, rule) in chain.rules.iter().enumerate().take(live) {
                let found = if check_out {
                    named(rule.out_interface()).map(|n| {
                        (
                            format!("-o {n}"),
                            rule.generic_span(Generic::OutInterface),
                            "no output interface has been chosen there",
                        )
                    })
                } else {
                    named(rule.in_interface()).map(|n| {
                        (
                            format!("-i {n}"),
                            rule.generic_span(Generic::InInterface),
                            "packets have no input interface there",
                        )
                    })
                };
                let Some((option, span, why)) = found else {
                    continue;
                };
                let finding = Finding::new(
                    &codes::INTERFACE_NEVER_MATCHES,
                    span.unwrap_or(rule.span),
                    format!("`{option}` never matches {reached}; at {hook_names} {why}"),
                )
                .help(if check_out {
                    "match the output interface in FORWARD, OUTPUT or POSTROUTING"
                } else {
                    "match the input interface in PREROUTING, INPUT or FORWARD"
                });
                let hook = hooks.iter().next().expect("not empty");
                let (path, _) = cx.hook_path(hook, node);
                out.push(cx.at_rule(cx.with_path(finding, &path), node, ri));
            }
        }
    }
}
