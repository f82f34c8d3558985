//! `chain-loop`: chains that jump (or go) to each other in a circle.
//!
//! Both backends refuse a loop that a builtin chain reaches: legacy at
//! `COMMIT`, the nft backend on the first rule after which the rules so far
//! form a reachable loop ("Too many links"). That rule is where the finding
//! points; the related locations walk from the builtin chain into the loop
//! and round it, rule by rule. A loop that no builtin chain reaches loads, and
//! is reported as a warning: the first jump into it would be refused.

use petgraph::graph::EdgeIndex;

use crate::codes;
use crate::diagnostic::{Finding, Severity};
use crate::graph::JumpGraph;
use crate::lints::LintContext;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for scc in g.cycles() {
        match g.closing_loop(&scc) {
            Some((_, cycle)) if cycle.is_empty() => {}
            Some((line, cycle)) => out.push(reachable_loop(cx, line, &cycle)),
            None => {
                let cycle = g.any_loop(&scc);
                if let Some(f) = unreachable_loop(cx, &cycle) {
                    out.push(f);
                }
            }
        }
    }
}

/// "A → B → A".
fn loop_text(g: &JumpGraph<'_>, cycle: &[EdgeIndex]) -> String {
    let mut names: Vec<&str> = cycle
        .iter()
        .map(|e| {
            g.chain(g.graph.edge_endpoints(*e).expect("edge").0)
                .name
                .as_str()
        })
        .collect();
    if let Some(first) = names.first().copied() {
        names.push(first);
    }
    names.join(" → ")
}

fn reachable_loop(cx: &LintContext<'_>, line: u32, cycle: &[EdgeIndex]) -> Finding {
    let g = &cx.graph;
    let start = g.graph.edge_endpoints(cycle[0]).expect("edge").0;
    // The hook that reaches the loop first, and its path.
    let hook = g
        .hooks(start)
        .iter()
        .min_by_key(|h| g.reach(start, *h).map(|r| r.line))
        .expect("the loop is reachable");
    let (path, path_text) = cx.hook_path(hook, start);
    let blamed = cycle
        .iter()
        .copied()
        .find(|e| g.graph[*e].line() == line)
        .or_else(|| g.connecting_jump(hook, start))
        .unwrap_or(cycle[cycle.len() - 1]);
    let (from, _) = g.graph.edge_endpoints(blamed).expect("edge");
    let on_loop = cycle.contains(&blamed);
    let what = if on_loop {
        "this jump closes a loop"
    } else {
        "this jump leads into a loop"
    };
    let finding = Finding::new(
        &codes::CHAIN_LOOP,
        g.edge_target_span(blamed),
        format!(
            "{what}: {}, reached from {}; the kernel refuses a loop a builtin chain can reach",
            loop_text(g, cycle),
            path_text,
        ),
    )
    .help("break the loop: one of these chains must not jump back (use RETURN to go back to the caller)");
    let mut finding = cx.with_path(finding, &path);
    finding = cx.with_path(finding, cycle);
    cx.at_rule(finding, from, g.graph[blamed].rule())
}

fn unreachable_loop(cx: &LintContext<'_>, cycle: &[EdgeIndex]) -> Option<Finding> {
    let g = &cx.graph;
    let last = *cycle.iter().max_by_key(|e| g.edge_span(**e).start)?;
    let (from, _) = g.graph.edge_endpoints(last).expect("edge");
    let mut finding = Finding::new(
        &codes::CHAIN_LOOP,
        g.edge_target_span(last),
        format!(
            "this jump closes a loop: {}; no builtin chain reaches it, so it loads, but the first jump into it will be refused",
            loop_text(g, cycle)
        ),
    )
    .help("break the loop, or delete the chains if nothing uses them");
    finding.severity = Severity::Warning;
    finding = cx.with_path(finding, cycle);
    Some(cx.at_rule(finding, from, g.graph[last].rule()))
}
