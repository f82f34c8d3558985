//! `chain-too-deep`: a path of 16 or more jumps (or gotos) from a builtin
//! chain.
//!
//! The nf_tables kernel validates every chain a base chain can reach and gives
//! up at a jump depth of 16 (`NFT_JUMP_STACK_SIZE`): the nft backend refuses
//! the rule set with "Too many links", blaming the first rule after which such
//! a path exists. That rule is where the finding points. iptables-legacy has
//! no such limit. Loops are `chain-loop`'s: this lint stays quiet when the
//! reachable graph has one.

use petgraph::graph::EdgeIndex;

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::JumpGraph;
use crate::lints::LintContext;

/// The depth at which nf_tables gives up (`NFT_JUMP_STACK_SIZE`).
pub const MAX_DEPTH: u32 = 16;

fn deepest(depths: &[(u32, Option<EdgeIndex>)]) -> Option<usize> {
    (0..depths.len())
        .filter(|i| depths[*i].0 >= MAX_DEPTH)
        .min_by_key(|i| depths[*i].0)
}

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    let Some(all) = g.depths(u32::MAX) else {
        return;
    };
    if deepest(&all).is_none() {
        return;
    }
    // The first line by which the rules so far nest 16 deep.
    let mut lines: Vec<u32> = g.graph.edge_weights().map(|e| e.line()).collect();
    lines.sort_unstable();
    lines.dedup();
    let deep_at = |line: u32| g.depths(line).filter(|d| deepest(d).is_some());
    let (mut lo, mut hi) = (0usize, lines.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if deep_at(lines[mid]).is_some() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let line = lines[lo];
    let Some(depths) = deep_at(line) else {
        return;
    };
    let Some(node) = deepest(&depths) else {
        return;
    };
    let path = path_to(g, &depths, node);
    // The first 16 jumps are what the kernel walks before it gives up.
    let shown = &path[..path.len().min(MAX_DEPTH as usize)];
    let blamed = path
        .iter()
        .copied()
        .find(|e| g.graph[*e].line() == line)
        .unwrap_or(shown[shown.len() - 1]);
    let (from, _) = g.graph.edge_endpoints(blamed).expect("edge");
    let root = g
        .graph
        .edge_endpoints(path[0])
        .map(|(a, _)| g.chain(a).name.as_str())
        .unwrap_or("?");
    let finding = Finding::new(
        &codes::CHAIN_TOO_DEEP,
        g.edge_target_span(blamed),
        format!(
            "with this jump, chains nest {} deep from `{root}`: the nft backend refuses jumps nested {MAX_DEPTH} deep (\"Too many links\")",
            path.len()
        ),
    )
    .help("flatten the chain structure: fewer than 16 jumps from any builtin chain");
    let finding = cx.with_path(finding, shown);
    out.push(cx.at_rule(finding, from, g.graph[blamed].rule()));
}

/// The longest path into `node`, first jump first (iterative).
fn path_to(g: &JumpGraph<'_>, depths: &[(u32, Option<EdgeIndex>)], node: usize) -> Vec<EdgeIndex> {
    let mut path = Vec::new();
    let mut at = node;
    while let Some(e) = depths[at].1 {
        path.push(e);
        at = g.graph.edge_endpoints(e).expect("edge").0.index();
        if path.len() > depths.len() {
            break;
        }
    }
    path.reverse();
    path
}
