//! The jump graph and the structural lints, case by case: each test gives a
//! small dump and the exact (lint name, line) pairs it must produce, so a
//! finding that moves or appears is a failure. Lines that the kernel names
//! were measured with a real load (see tests/fixtures/kernel/).

use std::sync::Arc;

use iptlint::check::check_source;
use iptlint::diagnostic::Severity;
use iptlint::graph::JumpGraph;
use iptlint::syntax;

/// The lints of the jump graph issue; findings of other lints are ignored.
const GRAPH_LINTS: &[&str] = &[
    "undefined-chain",
    "chain-loop",
    "invalid-chain-for-table",
    "target-not-allowed-here",
    "chain-too-deep",
    "unreachable-chain",
    "unreachable-rule",
    "duplicate-rule",
    "interface-never-matches",
    "empty-chain",
    "return-from-builtin",
];

/// (name, line, severity) of every graph-lint finding, in report order.
fn lint(text: &str) -> Vec<(&'static str, u32, Severity)> {
    let report = check_source("t.rules".into(), Arc::from(text), None);
    report
        .findings
        .iter()
        .filter(|f| GRAPH_LINTS.contains(&f.lint.name))
        .map(|f| (f.lint.name, f.span.line, f.severity))
        .collect()
}

/// (name, line) pairs only.
fn found(text: &str) -> Vec<(&'static str, u32)> {
    lint(text).into_iter().map(|(n, l, _)| (n, l)).collect()
}

fn dump(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

use Severity::{Error, Info, Warning};

// ---------------------------------------------------------------------------------------------
// undefined-chain
// ---------------------------------------------------------------------------------------------

#[test]
fn undefined_chain_jump_and_undeclared_chain() {
    let text = dump(&[
        "*filter",                 // 1
        ":INPUT ACCEPT [0:0]",     // 2
        ":WEB - [0:0]",            // 3
        "-A INPUT -p tcp -j WEB",  // 4
        "-A INPUT -p tcp -j WEBS", // 5
        "-A INPUT -p tcp -g web",  // 6
        "-A NOPE -j ACCEPT",       // 7
        "-A WEB -j ACCEPT",        // 8
        "COMMIT",                  // 9
    ]);
    assert_eq!(
        found(&text),
        [
            ("undefined-chain", 5),
            ("undefined-chain", 6),
            ("undefined-chain", 7),
        ]
    );
}

#[test]
fn undefined_chain_reported_at_the_jump_when_it_comes_before_the_rules() {
    // Legacy names line 3 (the jump); the nft backend names COMMIT.
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -j LOGDROP",
        "-A LOGDROP -j DROP",
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("undefined-chain", 3)]);
}

#[test]
fn uses_before_a_late_declaration_are_undefined() {
    // Both backends read top to bottom: legacy names line 3, nft COMMIT.
    let jump_first = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -j FOO",
        ":FOO - [0:0]",
        "-A FOO -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(found(&jump_first), [("undefined-chain", 3)]);
    // Both backends name line 3.
    let rule_first = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A FOO -j ACCEPT",
        ":FOO - [0:0]",
        "-A INPUT -j FOO",
        "COMMIT",
    ]);
    assert_eq!(found(&rule_first), [("undefined-chain", 3)]);
    // A builtin chain exists before its `:` line.
    let builtin = dump(&[
        "*filter",
        "-A INPUT -j ACCEPT",
        ":INPUT DROP [0:0]",
        "COMMIT",
    ]);
    assert_eq!(found(&builtin), []);
}

#[test]
fn a_chain_of_another_table_is_undefined() {
    let text = dump(&[
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        "-A PREROUTING -j SHARED",
        "COMMIT",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":SHARED - [0:0]",
        "-A INPUT -j SHARED",
        "-A SHARED -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("undefined-chain", 3)]);
}

// ---------------------------------------------------------------------------------------------
// chain-loop
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reachable_loop_is_an_error_on_the_closing_rule() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        ":C - [0:0]",
        "-A INPUT -j A",           // 6
        "-A A -p tcp -j B",        // 7
        "-A B -p udp -j C",        // 8
        "-A C -s 10.0.0.0/8 -j A", // 9 closes the loop
        "COMMIT",
    ]);
    assert_eq!(lint(&text), [("chain-loop", 9, Error)]);
    let report = check_source("t".into(), Arc::from(text.as_str()), None);
    let f = report
        .findings
        .iter()
        .find(|f| f.lint.name == "chain-loop")
        .unwrap();
    // The related locations walk from INPUT into the loop and round it.
    let lines: Vec<u32> = f.related.iter().map(|r| r.span.line).collect();
    assert_eq!(lines, [6, 7, 8, 9]);
}

#[test]
fn a_loop_entered_last_is_blamed_on_the_entry() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":PING - [0:0]",
        ":PONG - [0:0]",
        "-A PING -j PONG",
        "-A PONG -j PING",
        "-A INPUT -p icmp -j PING", // 7: the kernel blames this line
        "COMMIT",
    ]);
    assert_eq!(lint(&text), [("chain-loop", 7, Error)]);
}

#[test]
fn two_loops_and_the_first_closing_line() {
    // nft reports line 11 first (A/B), then 12 (C/D, reachable only from then).
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        ":C - [0:0]",
        ":D - [0:0]",
        "-A C -j D",
        "-A INPUT -j A",
        "-A A -j B",
        "-A D -j C",
        "-A B -j A",
        "-A INPUT -j C",
        "-A INPUT -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(
        lint(&text),
        [("chain-loop", 11, Error), ("chain-loop", 12, Error)]
    );
}

#[test]
fn an_unreachable_loop_is_a_warning() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":PING - [0:0]",
        ":PONG - [0:0]",
        "-A PING -j PONG",
        "-A PONG -j PING",
        "COMMIT",
    ]);
    assert_eq!(
        lint(&text),
        [
            ("unreachable-chain", 3, Warning),
            ("unreachable-chain", 4, Warning),
            ("chain-loop", 6, Warning),
        ]
    );
}

#[test]
fn self_loop_and_goto_loop() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":SELF - [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        "-A INPUT -p tcp -j SELF",
        "-A SELF -p tcp -j SELF", // 7
        "-A INPUT -g A",
        "-A A -p udp -g B",
        "-A B -p udp -g A", // 10
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("chain-loop", 7), ("chain-loop", 10)]);
}

// ---------------------------------------------------------------------------------------------
// chain-too-deep
// ---------------------------------------------------------------------------------------------

fn nested(depth: usize) -> String {
    let mut s = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 1..=depth {
        s.push_str(&format!(":C{i} - [0:0]\n"));
    }
    s.push_str("-A INPUT -j C1\n");
    for i in 1..depth {
        s.push_str(&format!("-A C{i} -p tcp -j C{}\n", i + 1));
    }
    s.push_str(&format!("-A C{depth} -j ACCEPT\nCOMMIT\n"));
    s
}

#[test]
fn sixteen_nested_jumps_are_too_deep_fifteen_are_not() {
    // 2 header lines + 16 declarations; `-A C15 -j C16` is line 34.
    assert_eq!(lint(&nested(16)), [("chain-too-deep", 34, Error)]);
    assert_eq!(lint(&nested(15)), []);
}

#[test]
fn a_hundred_thousand_deep_chain_does_not_overflow_the_stack() {
    // Every walk is iterative: this must neither crash nor take long.
    let text = nested(100_000);
    let start = std::time::Instant::now();
    let findings = lint(&text);
    assert_eq!(findings, [("chain-too-deep", 100_018, Error)]);
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    // And a 30,000-long loop (the parser is slow in debug builds).
    let looped = nested(30_000).replace("-A C30000 -j ACCEPT", "-A C30000 -j C1");
    let findings = lint(&looped);
    assert_eq!(findings, [("chain-loop", 60_003, Error)]);
}

// ---------------------------------------------------------------------------------------------
// invalid-chain-for-table
// ---------------------------------------------------------------------------------------------

#[test]
fn hook_names_the_table_lacks() {
    let text = dump(&[
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]", // 3: legacy refuses, nft makes a user chain
        "-A FORWARD -j ACCEPT",
        "COMMIT",
        "*raw",
        ":PREROUTING ACCEPT [0:0]",
        "-A INPUT -j ACCEPT", // 8: both refuse
        "COMMIT",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":PREROUTING - [0:0]", // 12: an ordinary user chain with a hook's name
        "-A INPUT -j PREROUTING",
        "-A PREROUTING -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [
            ("invalid-chain-for-table", 3),
            ("invalid-chain-for-table", 8)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// target-not-allowed-here
// ---------------------------------------------------------------------------------------------

#[test]
fn table_restrictions_hold_even_in_unreachable_chains() {
    let text = dump(&[
        "*mangle",
        ":INPUT ACCEPT [0:0]",
        ":U - [0:0]",
        "-A U -j REJECT", // 4
        "COMMIT",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1", // 8
        "-A INPUT -j NOTRACK",                               // 9
        "-A INPUT -p tcp -j REJECT",
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [
            ("unreachable-chain", 3),
            ("target-not-allowed-here", 4),
            ("target-not-allowed-here", 8),
            ("target-not-allowed-here", 9),
        ]
    );
}

#[test]
fn hook_restrictions_follow_the_jumps() {
    let text = dump(&[
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":FWD - [0:0]",
        ":SRC - [0:0]",
        ":DEAD - [0:0]",
        "-A PREROUTING -j FWD",
        "-A OUTPUT -j FWD",
        "-A FWD -p tcp -j DNAT --to-destination 10.0.0.2", // fine
        "-A POSTROUTING -j SRC",
        "-A INPUT -j SRC",
        "-A SRC -s 10.0.0.0/8 -j SNAT --to-source 192.0.2.1", // fine: POSTROUTING and INPUT
        "-A SRC -j MASQUERADE",                               // 15: refused, INPUT reaches it
        "-A DEAD -p tcp -j DNAT --to-destination 10.0.0.3",   // unreachable: loads
        "-A PREROUTING -j MASQUERADE",                        // 17
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [
            ("unreachable-chain", 8),
            ("target-not-allowed-here", 15),
            ("target-not-allowed-here", 17),
        ]
    );
}

#[test]
fn the_jump_that_connects_a_refusing_hook_later_is_blamed() {
    let text = dump(&[
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        "-A A -p tcp -j DNAT --to-destination 10.0.0.2", // 6
        "-A POSTROUTING -j B",
        "-A PREROUTING -j A",
        "-A B -o eth0 -j A", // 9: nft blames this rule
        "-A POSTROUTING -j MASQUERADE",
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("target-not-allowed-here", 9)]);
    let report = check_source("t".into(), Arc::from(text.as_str()), None);
    let f = &report.findings[0];
    let related: Vec<u32> = f.related.iter().map(|r| r.span.line).collect();
    assert_eq!(related, [6, 7, 9], "the DNAT rule, then the path");
}

#[test]
fn more_placements_measured_with_a_real_load() {
    let text = dump(&[
        "*mangle",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        "-A PREROUTING -p tcp -j TPROXY --on-port 1 --tproxy-mark 0x1", // fine
        "-A INPUT -p tcp -j TPROXY --on-port 1 --tproxy-mark 0x1",      // 6
        "-A PREROUTING -j CLASSIFY --set-class 1:1",                    // 7
        "-A FORWARD -j CLASSIFY --set-class 1:1",                       // fine
        "-A INPUT -p tcp -j TCPMSS --clamp-mss-to-pmtu",                // 9
        "-A INPUT -p tcp -j TCPMSS --set-mss 1400",                     // fine
        "-A INPUT -j DSCP --set-dscp 1",                                // fine
        "COMMIT",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -j DSCP --set-dscp 1", // 16
        "-A OUTPUT -p tcp -j SYNPROXY",  // 17
        "-A INPUT -j TRACE",             // 18, warning: nft loads it
        "-A INPUT -j OUTPUT",            // 19: jump to a builtin chain
        "COMMIT",
    ]);
    assert_eq!(
        lint(&text),
        [
            ("target-not-allowed-here", 6, Error),
            ("target-not-allowed-here", 7, Error),
            ("target-not-allowed-here", 9, Error),
            ("target-not-allowed-here", 16, Error),
            ("target-not-allowed-here", 17, Error),
            ("target-not-allowed-here", 18, Warning),
            ("target-not-allowed-here", 19, Error),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// unreachable-chain and empty-chain
// ---------------------------------------------------------------------------------------------

#[test]
fn reachability_goes_through_chains() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        ":ORPHAN - [0:0]",
        ":ORPHAN_CHILD - [0:0]",
        ":PLACEHOLDER - [0:0]",
        ":UNUSED - [0:0]",
        "-A INPUT -j A",
        "-A A -g B",
        "-A B -j PLACEHOLDER",
        "-A ORPHAN -j ORPHAN_CHILD",
        "-A ORPHAN_CHILD -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(
        lint(&text),
        [
            ("unreachable-chain", 5, Warning),
            ("unreachable-chain", 6, Warning),
            ("empty-chain", 7, Info),
            ("unreachable-chain", 8, Warning),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// unreachable-rule and duplicate-rule
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_after_a_rule_that_always_leaves() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":LOGDROP - [0:0]",
        ":MAYBE - [0:0]",
        "-A INPUT -m comment --comment \"catch all\" -j ACCEPT",
        "-A INPUT -p tcp -j DROP", // 8
        "-A FORWARD -j LOGDROP",
        "-A FORWARD -s 10.0.0.0/8 -j ACCEPT", // 10: LOGDROP always drops
        "-A OUTPUT -j MAYBE",
        "-A OUTPUT -p udp -j ACCEPT", // fine: MAYBE can return
        "-A LOGDROP -j LOG",
        "-A LOGDROP -j DROP",
        "-A MAYBE -p tcp -j RETURN",
        "-A MAYBE -j DROP",
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [("unreachable-rule", 8), ("unreachable-rule", 10)]
    );
}

#[test]
fn only_rules_that_certainly_match_everything_end_a_chain() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -m limit --limit 5/min -j ACCEPT",
        "-A INPUT -m statistic --mode random --probability 0.5 -j ACCEPT",
        "-A INPUT -m set --match-set blocked src -j DROP",
        "-A INPUT -m conntrack --ctstate NEW -j ACCEPT",
        "-A INPUT -m frobnicate --frob -j ACCEPT",
        "-A INPUT -j LOG",
        "-A INPUT -j MARK --set-mark 1",
        "-A INPUT",
        "-A INPUT -p tcp -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(found(&text), []);
}

#[test]
fn goto_and_return_end_a_chain() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        "-A INPUT -j A",
        "-A A -g B",
        "-A A -p tcp -j ACCEPT", // 7
        "-A B -j RETURN",
        "-A B -p udp -j ACCEPT", // 9
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [("unreachable-rule", 7), ("unreachable-rule", 9)]
    );
}

#[test]
fn a_chain_that_may_return_through_a_goto_does_not_always_decide() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":A - [0:0]",
        ":B - [0:0]",
        "-A INPUT -j A",
        "-A INPUT -p tcp -j ACCEPT", // reached: A may return through B
        "-A A -p udp -g B",
        "-A A -j DROP",
        "-A B -j RETURN",
        "COMMIT",
    ]);
    assert_eq!(found(&text), []);
}

#[test]
fn duplicates_are_reported_once_with_the_first_copy_related() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "[5:300] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",
        "[0:0] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", // 5: counters differ
        "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment x -j ACCEPT", // not a copy
        "-A INPUT -j DROP",
        "-A INPUT -j DROP", // 8: dead because of its own first copy: duplicate only
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT", // 9: dead because of DROP: unreachable only
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [
            ("duplicate-rule", 5),
            ("duplicate-rule", 8),
            ("unreachable-rule", 9),
        ]
    );
    let report = check_source("t".into(), Arc::from(text.as_str()), None);
    let f = report
        .findings
        .iter()
        .find(|f| f.lint.name == "duplicate-rule")
        .unwrap();
    assert_eq!(f.related[0].span.line, 3);
    assert_eq!(f.rule, Some(3));
}

#[test]
fn no_dead_rule_findings_inside_unreachable_chains() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":OLD - [0:0]",
        "-A OLD -j DROP",
        "-A OLD -j ACCEPT",
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("unreachable-chain", 3)]);
}

// ---------------------------------------------------------------------------------------------
// interface-never-matches and return-from-builtin
// ---------------------------------------------------------------------------------------------

#[test]
fn interfaces_that_never_match() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":IN_ONLY - [0:0]",
        ":BOTH - [0:0]",
        ":OUT_ONLY - [0:0]",
        "-A INPUT -j IN_ONLY",
        "-A INPUT -j BOTH",
        "-A FORWARD -j BOTH",
        "-A OUTPUT -j OUT_ONLY",
        "-A IN_ONLY -o eth0 -j ACCEPT",   // 12
        "-A IN_ONLY ! -o eth0 -j ACCEPT", // negated: not reported
        "-A IN_ONLY -o + -j ACCEPT",      // bare wildcard: not reported
        "-A IN_ONLY -i eth0 -j ACCEPT",   // fine
        "-A BOTH -o eth0 -j ACCEPT",      // fine: FORWARD has one
        "-A OUT_ONLY -i eth1 -j ACCEPT",  // 17
        "-A OUTPUT -i eth1 -j ACCEPT",    // 18
        "COMMIT",
    ]);
    assert_eq!(
        found(&text),
        [
            ("interface-never-matches", 12),
            ("interface-never-matches", 17),
            ("interface-never-matches", 18),
        ]
    );
}

#[test]
fn return_in_builtin_chains() {
    let text = dump(&[
        "*filter",
        ":INPUT DROP [0:0]",
        ":USER - [0:0]",
        "-A INPUT -s 192.0.2.0/24 -j RETURN", // 4
        "-A INPUT -j USER",
        "-A USER -p tcp -j RETURN", // fine in a user chain
        "COMMIT",
    ]);
    assert_eq!(found(&text), [("return-from-builtin", 4)]);
}

// ---------------------------------------------------------------------------------------------
// The graph itself
// ---------------------------------------------------------------------------------------------

#[test]
fn graph_hooks_and_decisions() {
    let text = dump(&[
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":SVC - [0:0]",
        ":SEP - [0:0]",
        "-A PREROUTING -j SVC",
        "-A OUTPUT -j SVC",
        "-A SVC -m statistic --mode random --probability 0.5 -j SEP",
        "-A SVC -j SEP",
        "-A SEP -p tcp -j DNAT --to-destination 10.0.0.1:80",
        "-A SEP -j DNAT --to-destination 10.0.0.2:80",
        "COMMIT",
    ]);
    let parsed = syntax::parse(&text, None);
    let g = JumpGraph::build(&parsed.ruleset);
    let svc = g.find(0, "SVC").unwrap();
    let sep = g.find(0, "SEP").unwrap();
    assert_eq!(g.hooks(svc).names(), ["PREROUTING", "OUTPUT"]);
    assert_eq!(g.hooks(sep).names(), ["PREROUTING", "OUTPUT"]);
    assert!(g.always_decides(sep));
    assert!(g.always_decides(svc));
    assert_eq!(g.exit_rule(svc), Some(1));
    assert_eq!(g.graph.edge_count(), 4);
}

#[test]
fn graph_command_prints_dot_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.rules");
    std::fs::write(
        &path,
        dump(&[
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":A - [0:0]",
            ":B - [0:0]",
            ":LOST - [0:0]",
            "-A INPUT -j A",
            "-A A -g B",
            "COMMIT",
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            "COMMIT",
        ]),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_iptlint");
    let out = std::process::Command::new(bin)
        .args(["graph", "--table", "filter", "--format", "dot"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph iptables {"), "{dot}");
    assert!(
        dot.contains("\"filter/INPUT\" -> \"filter/A\" [label=\"#1\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"filter/A\" -> \"filter/B\" [label=\"#1\", style=dashed];"),
        "{dot}"
    );
    assert!(
        dot.contains("(unreachable)") && dot.contains("(empty)"),
        "{dot}"
    );
    assert!(
        !dot.contains("nat/"),
        "--table filter shows only filter: {dot}"
    );

    let out = std::process::Command::new(bin)
        .args(["graph", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let filter = &json["tables"][0];
    assert_eq!(filter["name"], "filter");
    let edges = filter["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[1]["kind"], "goto");
    assert_eq!(edges[1]["line"], 7);
    let lost = filter["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "LOST")
        .unwrap();
    assert_eq!(lost["reachable"], false);
    assert_eq!(json["tables"][1]["name"], "nat");

    let out = std::process::Command::new(bin)
        .args(["graph", "--table", "mangle"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a table the file lacks");
}

#[test]
fn the_covering_set_takes_the_largest_overlaps_first() {
    // Line 9 is covered by the four quarters (lines 3-6) and by the two
    // halves (lines 7-8); the smaller cover is the one to show.
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -s 10.0.0.0/10 -j DROP",
        "-A INPUT -s 10.64.0.0/10 -j DROP",
        "-A INPUT -s 10.128.0.0/10 -j DROP",
        "-A INPUT -s 10.192.0.0/10 -j DROP",
        "-A INPUT -s 10.0.0.0/9 -j DROP",
        "-A INPUT -s 10.128.0.0/9 -j DROP",
        "-A INPUT -s 10.0.0.0/8 -j DROP",
        "COMMIT",
    ]);
    let report = check_source("t".into(), Arc::from(text.as_str()), None);
    let f = report
        .findings
        .iter()
        .find(|f| f.lint.name == "shadowed-rule" && f.span.line == 9)
        .unwrap_or_else(|| panic!("line 9 is shadowed: {:?}", report.findings));
    let related: Vec<u32> = f.related.iter().map(|r| r.span.line).collect();
    assert_eq!(related, [7, 8], "{}", f.message);
    assert!(f.message.contains("together"), "{}", f.message);
}

#[test]
fn a_duplicate_statistic_rule_is_not_called_pointless() {
    let text = dump(&[
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -p udp -m statistic --mode random --probability 0.5 -j DROP",
        "-A INPUT -p udp -m statistic --mode random --probability 0.5 -j DROP",
        "-A INPUT -p tcp -j DROP",
        "-A INPUT -p tcp -j DROP",
        "COMMIT",
    ]);
    let report = check_source("t".into(), Arc::from(text.as_str()), None);
    let dups: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.lint.name == "duplicate-rule")
        .collect();
    assert_eq!(dups.len(), 2, "{:?}", report.findings);
    assert!(
        dups[0].message.contains("draws again"),
        "{}",
        dups[0].message
    );
    assert!(
        !dups[1].message.contains("draws again"),
        "{}",
        dups[1].message
    );
    assert_eq!(dups[1].help.as_deref(), Some("delete one of the copies"));
}
