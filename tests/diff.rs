//! `iptlint diff` as users run it: known differences with their witness
//! and deciding rules, known-equivalent rewrites, marks and NAT, unknown
//! conditions, exit statuses, JSON.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diff")
        .join(name)
}

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

fn diff(a: &str, b: &str) -> (i32, String) {
    let out = iptlint()
        .arg("diff")
        .arg(fixture(a))
        .arg(fixture(b))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn diff_json(a: &str, b: &str) -> (i32, Value) {
    let out = iptlint()
        .arg("diff")
        .arg(fixture(a))
        .arg(fixture(b))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    (out.status.code().unwrap(), doc)
}

#[test]
fn a_narrowed_source_is_a_difference_with_its_witness() {
    let (code, text) = diff("a.rules", "b.rules");
    assert_eq!(code, 1, "{text}");
    // A accepts ssh from 10.0.0.128/25 (a.rules:7); B only from /25 lower
    // half, so its INPUT policy drops the rest.
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("src 10.0.0.128/25 proto tcp dport 22"),
        "{first}"
    );
    assert!(
        first.contains("on PREROUTING→INPUT: A accepts ("),
        "{first}"
    );
    assert!(first.contains("a.rules:7), B drops ("), "{first}");
    assert!(first.contains("b.rules:2, filter INPUT policy)"), "{first}");
    assert!(text.contains("witness: 10.0.0.128 -> "), "{text}");
    assert!(text.contains("differ: 1 region differ"), "{text}");

    let (code, doc) = diff_json("a.rules", "b.rules");
    assert_eq!(code, 1);
    assert_eq!(doc["equivalent"], false);
    assert_eq!(doc["difference_count"], 1);
    let d = &doc["differences"][0];
    assert_eq!(d["path"], "input");
    assert_eq!(d["certain"], true);
    assert_eq!(d["a"]["verdict"], "accept");
    assert_eq!(d["b"]["verdict"], "drop");
    assert!(d["witness"].as_str().unwrap().contains("dport 22"));
}

#[test]
fn reordered_independent_rules_are_equivalent() {
    let (code, text) = diff("a.rules", "a_reordered.rules");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("are equivalent"), "{text}");
}

#[test]
fn merged_rules_are_equivalent() {
    // Two /25s for one /24, multiport for two rules, a chain that accepts.
    let (code, text) = diff("a.rules", "a_merged.rules");
    assert_eq!(code, 0, "{text}");
    let (code, doc) = diff_json("a_merged.rules", "a.rules");
    assert_eq!(code, 0);
    assert_eq!(doc["equivalent"], true);
    assert_eq!(doc["differences"].as_array().unwrap().len(), 0);
}

#[test]
fn a_different_mark_is_a_difference() {
    let (code, text) = diff("mark_a.rules", "mark_b.rules");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("A accepts with mark = 0x1 (")
            && text.contains("B accepts with mark = 0x2 ("),
        "{text}"
    );
    assert!(
        text.contains("mark_a.rules:7: -A PREROUTING -i eth0 -p udp"),
        "{text}"
    );
    // Only udp port 53 from eth0 differs, on the two paths through PREROUTING.
    let (_, doc) = diff_json("mark_a.rules", "mark_b.rules");
    let paths: Vec<&str> = doc["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["input", "forward"]);
    for d in doc["differences"].as_array().unwrap() {
        let w = d["witness"].as_str().unwrap();
        assert!(
            w.contains("proto 17") && w.contains("dport 53") && w.contains("in eth0"),
            "{w}"
        );
    }
}

#[test]
fn a_different_nat_target_is_a_difference() {
    let (code, text) = diff("mark_a.rules", "nat_b.rules");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("A accepts with dst = 10.0.0.5"), "{text}");
    assert!(text.contains("B accepts with dst = 10.0.0.6"), "{text}");
    // Only a connection's first packet is NATed: every difference is NEW.
    let (_, doc) = diff_json("mark_a.rules", "nat_b.rules");
    for d in doc["differences"].as_array().unwrap() {
        assert!(d["witness"].as_str().unwrap().contains("ct New"), "{d:#}");
    }
}

#[test]
fn unknown_conditions_are_shared_by_text_or_may_differ() {
    let (code, _) = diff("unknown_a.rules", "unknown_a.rules");
    assert_eq!(code, 0);
    let (code, text) = diff("unknown_a.rules", "unknown_b.rules");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("may differ: A drops"), "{text}");
    assert!(
        text.contains("assuming `-m recent --name ssh --rcheck` holds"),
        "{text}"
    );
    assert!(
        text.contains("0 regions differ, 1 more may differ"),
        "{text}"
    );
    let (_, doc) = diff_json("unknown_a.rules", "unknown_b.rules");
    assert_eq!(doc["differences"][0]["certain"], false);
}

/// The two dumps are walked apart, each naming its conditions as it meets
/// them: C meets its own condition (`dns`) before the one it shares with
/// A (`ssh`). Shared by text, `ssh` is still one condition: only the UDP
/// packets C adds may differ, never SSH.
#[test]
fn a_condition_is_shared_whatever_the_order_it_is_met_in() {
    let (code, doc) = diff_json("unknown_a.rules", "unknown_c.rules");
    assert_eq!(code, 1, "{doc}");
    let diffs = doc["differences"].as_array().unwrap();
    assert!(!diffs.is_empty());
    for d in diffs {
        assert!(d["witness"].as_str().unwrap().contains("proto 17"), "{d}");
    }
}

#[test]
fn kube_proxy_against_itself_and_one_changed_endpoint() {
    let (code, text) = diff("kube.rules", "kube.rules");
    assert_eq!(code, 0, "{text}");
    let (code, doc) = diff_json("kube.rules", "kube_changed.rules");
    assert_eq!(code, 1);
    let diffs = doc["differences"].as_array().unwrap();
    assert!(!diffs.is_empty());
    for d in diffs {
        // Which endpoint serves a connection is random: "may differ", and
        // every difference is the changed DNAT at line 77.
        assert_eq!(d["certain"], false);
        let lines: Vec<u64> = d["a"]["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["line"].as_u64())
            .collect();
        assert!(lines.contains(&77), "{lines:?}");
        assert!(d["witness"].as_str().unwrap().contains("dport 9153"));
    }
}

#[test]
fn errors_exit_2() {
    iptlint()
        .arg("diff")
        .arg(fixture("a.rules"))
        .arg("/nonexistent/b.rules")
        .assert()
        .code(2);
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.rules");
    std::fs::write(&broken, "*filter\n-A INPUT -s\nCOMMIT\n").unwrap();
    iptlint()
        .arg("diff")
        .arg(fixture("a.rules"))
        .arg(&broken)
        .assert()
        .code(2);
    let v6 = dir.path().join("ip6tables.rules");
    std::fs::write(
        &v6,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8::/32 -j DROP\nCOMMIT\n",
    )
    .unwrap();
    let out = iptlint()
        .arg("diff")
        .arg(fixture("a.rules"))
        .arg(&v6)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one family"));
}

#[test]
fn one_path_only() {
    // The mark differs on input and forward, not on output.
    let out = iptlint()
        .arg("diff")
        .arg(fixture("mark_a.rules"))
        .arg(fixture("mark_b.rules"))
        .args(["--path", "output"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}
