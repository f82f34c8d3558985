//! Leaves and steps as text and JSON, shared by `trace` and `diff`.

use serde_json::{Value, json};

use crate::model::{Family, JumpKind};
use crate::space::{PacketDisplay, SpaceContext};

use super::describe::describe_set;
use super::walk::{Conditions, Leaf, RuleOutcome, Step, Verdict};

/// `ACCEPT`, `DROP`, `REJECT (icmp-port-unreachable)`, ...
pub fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "ACCEPT".into(),
        Verdict::Drop => "DROP".into(),
        Verdict::Reject(t) => format!("REJECT ({t})"),
        Verdict::Queue(q) => format!("QUEUE ({q})"),
        Verdict::Unknown(u) => format!("UNKNOWN ({u})"),
    }
}

/// One line per step, indented by chain depth.
pub fn steps_text(steps: &[Step], path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let pad = |d: usize| "  ".repeat(d + 1);
    for s in steps {
        match s {
            Step::Table { hook, table } => {
                depth = 0;
                out.push(format!("{hook} {table}:"));
            }
            Step::NatSkipped { hook } => out.push(format!(
                "{hook} nat: skipped (not the first packet of a connection: it gets its connection's NAT)"
            )),
            Step::NoChain { hook, table } => {
                out.push(format!("{hook} {table}: no chain, passes"));
            }
            Step::Rule {
                chain,
                line,
                text,
                outcome,
            } => {
                let what = match outcome {
                    RuleOutcome::Matched => "matched".to_string(),
                    RuleOutcome::NotMatched { failed, partly } => {
                        if !failed.is_empty() {
                            format!("not matched: {} fails", quote_all(failed))
                        } else if !partly.is_empty() {
                            format!("not matched: {} fails for these packets", quote_all(partly))
                        } else {
                            "not matched".to_string()
                        }
                    }
                    RuleOutcome::Assumed { holds, condition } => format!(
                        "unknown: assuming `{condition}` {}",
                        if *holds { "holds" } else { "does not hold" }
                    ),
                };
                out.push(format!(
                    "{}{path}:{line}: -A {chain} {text}  => {what}",
                    pad(depth)
                ));
            }
            Step::Jump { to, kind, .. } => {
                let verb = if *kind == JumpKind::Jump { "jump" } else { "goto" };
                out.push(format!("{}{verb} {to}", pad(depth)));
                depth += 1;
            }
            Step::Return { to, line } => {
                depth = depth.saturating_sub(1);
                let how = match line {
                    Some(l) => format!("RETURN at {path}:{l}"),
                    None => "end of chain".to_string(),
                };
                out.push(format!("{}back to {to} ({how})", pad(depth)));
            }
            Step::Rewrite { what, .. } => {
                out.push(format!("{}rewrites now: {}", pad(depth), what.join(", ")));
            }
            Step::Policy {
                chain,
                policy,
                line,
            } => out.push(format!(
                "{}{chain} policy {} ({path}:{line})",
                pad(0),
                policy.as_str()
            )),
            Step::Ends { table, verdict, .. } => out.push(match verdict {
                None => format!("{}{table} lets it through", pad(0)),
                Some(v) => format!("{}{table}: {}", pad(0), verdict_text(v)),
            }),
        }
    }
    out
}

fn quote_all(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A step as a JSON object (`kind` names the variant).
pub fn step_json(s: &Step) -> Value {
    match s {
        Step::Table { hook, table } => {
            json!({"kind": "table", "hook": hook, "table": table.as_str()})
        }
        Step::NatSkipped { hook } => json!({"kind": "nat-skipped", "hook": hook}),
        Step::NoChain { hook, table } => {
            json!({"kind": "no-chain", "hook": hook, "table": table.as_str()})
        }
        Step::Rule {
            chain,
            line,
            text,
            outcome,
        } => {
            let mut v = json!({"kind": "rule", "chain": chain, "line": line, "rule": text});
            match outcome {
                RuleOutcome::Matched => v["outcome"] = json!("matched"),
                RuleOutcome::NotMatched { failed, partly } => {
                    v["outcome"] = json!("not-matched");
                    v["failed"] = json!(failed);
                    v["fails_for_some"] = json!(partly);
                }
                RuleOutcome::Assumed { holds, condition } => {
                    v["outcome"] = json!("unknown");
                    v["assumed"] = json!(holds);
                    v["condition"] = json!(condition);
                }
            }
            v
        }
        Step::Jump { line, to, kind } => json!({
            "kind": if *kind == JumpKind::Jump { "jump" } else { "goto" },
            "line": line,
            "to": to,
        }),
        Step::Return { to, line } => json!({"kind": "return", "to": to, "line": line}),
        Step::Rewrite { line, what } => json!({"kind": "rewrite", "line": line, "rewrites": what}),
        Step::Policy {
            chain,
            policy,
            line,
        } => json!({"kind": "policy", "chain": chain, "policy": policy.as_str(), "line": line}),
        Step::Ends {
            table,
            verdict,
            line,
        } => json!({
            "kind": "table-ends",
            "table": table.as_str(),
            "verdict": verdict.as_ref().map(verdict_text),
            "line": line,
        }),
    }
}

/// What a leaf says, as JSON: verdict, rewrites, deciding rules,
/// assumptions, the packets (described and one witness).
pub fn leaf_json(ctx: &SpaceContext, conds: &Conditions, leaf: &Leaf, with_steps: bool) -> Value {
    let family: Family = ctx.family();
    let witness = leaf
        .region
        .witness(ctx)
        .map(|p| PacketDisplay { packet: &p, family }.to_string());
    let mut v = json!({
        "verdict": leaf.fate.verdict.name(),
        "verdict_detail": verdict_text(&leaf.fate.verdict),
        "rewrites": leaf.fate.rewrites.describe(family),
        "packets": describe_set(ctx, &leaf.region, 16),
        "witness": witness,
        "decisions": leaf.decisions.iter().map(|d| json!({
            "hook": d.hook,
            "table": d.table.as_str(),
            "chain": &*d.chain,
            "line": d.line,
            "text": &*d.text,
        })).collect::<Vec<_>>(),
        "assumptions": leaf.assumptions.iter().map(|a| json!({
            "condition": conds.text(a.condition),
            "holds": a.holds,
            "line": a.line,
        })).collect::<Vec<_>>(),
    });
    if with_steps {
        v["steps"] = Value::Array(leaf.steps.iter().map(step_json).collect());
    }
    v
}
