//! `iptlint trace` as users run it: one packet's walk, every outcome of a
//! partly specified packet, JSON, bad flags.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace/host.rules")
}

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

fn trace_json(args: &[&str]) -> Value {
    let out = iptlint()
        .arg("trace")
        .arg(fixture())
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn outcomes(doc: &Value) -> &Vec<Value> {
    doc["paths"][0]["outcomes"].as_array().unwrap()
}

const SSH_FROM_LAN: &[&str] = &[
    "--proto",
    "tcp",
    "--src",
    "192.168.1.7",
    "--dst",
    "10.0.0.1",
    "--dport",
    "22",
    "--in",
    "eth0",
    "--state",
    "NEW",
];

#[test]
fn a_concrete_packet_has_one_outcome_with_its_jump() {
    let out = iptlint()
        .arg("trace")
        .arg(fixture())
        .args(SSH_FROM_LAN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("path input (PREROUTING → INPUT): 1 outcome\n"),
        "{text}"
    );
    assert!(text.contains("jump SSH"), "{text}");
    assert!(
        text.contains("host.rules:34: -A SSH -s 192.168.1.0/24 -j ACCEPT  => matched"),
        "{text}"
    );
    // The rule before failed on its state test, and says so.
    assert!(
        text.contains("not matched: `-m conntrack --ctstate RELATED,ESTABLISHED` fails"),
        "{text}"
    );
    let doc = trace_json(SSH_FROM_LAN);
    let o = outcomes(&doc);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["verdict"], "accept");
    let filter: Vec<&Value> = o[0]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["table"] == "filter")
        .collect();
    assert_eq!(filter.len(), 1);
    assert_eq!(filter[0]["line"], 34, "{:#}", o[0]["decisions"]);
    assert_eq!(filter[0]["chain"], "SSH");
}

#[test]
fn return_from_a_user_chain_goes_on_after_the_jump() {
    // 10/8 returns from SSH, then the tcp REJECT at line 33 decides.
    let doc = trace_json(&[
        "--proto", "tcp", "--src", "10.1.1.1", "--dport", "22", "--in", "eth0", "--state", "NEW",
    ]);
    let o = outcomes(&doc);
    assert_eq!(o.len(), 1, "{o:#?}");
    assert_eq!(o[0]["verdict_detail"], "REJECT (tcp-reset)");
    let steps = o[0]["steps"].as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().filter_map(|s| s["kind"].as_str()).collect();
    let jump = kinds.iter().position(|k| *k == "jump").unwrap();
    assert_eq!(kinds[jump + 3], "return", "{kinds:?}");
    assert_eq!(steps[jump + 3]["line"], 35);
}

#[test]
fn an_unknown_match_follows_both_outcomes() {
    let doc = trace_json(&[
        "--proto", "tcp", "--dport", "23", "--in", "eth0", "--state", "NEW",
    ]);
    let o = outcomes(&doc);
    assert_eq!(o.len(), 2, "{o:#?}");
    let mut seen: Vec<(String, bool)> = o
        .iter()
        .map(|x| {
            let a = &x["assumptions"][0];
            assert_eq!(a["condition"], "-m recent --name telnet --rcheck");
            assert_eq!(a["line"], 32);
            (
                x["verdict"].as_str().unwrap().to_string(),
                a["holds"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("accept".to_string(), true), ("reject".to_string(), false)]
    );
}

#[test]
fn dnat_and_mark_are_applied_on_the_way() {
    let doc = trace_json(&[
        "--proto", "tcp", "--dport", "8080", "--in", "eth0", "--state", "NEW",
    ]);
    let o = outcomes(&doc);
    assert_eq!(o.len(), 1, "{o:#?}");
    assert_eq!(o[0]["verdict"], "accept");
    let rw: Vec<&str> = o[0]["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        rw.contains(&"dst = 10.0.0.5") && rw.contains(&"dport = 80"),
        "{rw:?}"
    );
    assert!(rw.contains(&"mark = mark & 0xffffff00 ^ 0x10"), "{rw:?}");
    // Accepted by the rule that tests the rewritten port 80 and the mark.
    assert_eq!(
        o[0]["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["line"] == 30)
            .count(),
        1
    );
    // An established packet of such a connection skips the nat table.
    let doc = trace_json(&[
        "--proto",
        "tcp",
        "--dport",
        "8080",
        "--in",
        "eth0",
        "--state",
        "ESTABLISHED",
    ]);
    let steps = outcomes(&doc)[0]["steps"].as_array().unwrap().clone();
    assert!(steps.iter().any(|s| s["kind"] == "nat-skipped"));
}

#[test]
fn unspecified_fields_give_every_outcome() {
    let doc = trace_json(&["--in", "eth0", "--path", "input"]);
    let o = outcomes(&doc);
    let verdicts: std::collections::BTreeSet<&str> =
        o.iter().filter_map(|x| x["verdict"].as_str()).collect();
    // Accepted (lo, established, ssh from the LAN, ...), dropped by the
    // policy or SSH, rejected by the tcp-reset rule.
    assert_eq!(
        verdicts.into_iter().collect::<Vec<_>>(),
        ["accept", "drop", "reject"]
    );
    assert_eq!(
        doc["paths"][0]["outcome_count"].as_u64().unwrap() as usize,
        o.len()
    );
    for x in o {
        assert!(!x["packets"].as_array().unwrap().is_empty());
        assert!(x["witness"].is_string());
    }
}

#[test]
fn one_hook_alone() {
    let doc = trace_json(&[
        "--hook", "input", "--proto", "udp", "--dport", "53", "--in", "eth0",
    ]);
    assert_eq!(doc["paths"][0]["path"], "INPUT");
    let o = outcomes(&doc);
    // Without PREROUTING's raw table nothing makes it UNTRACKED.
    for x in o {
        let tables: Vec<&str> = x["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "table")
            .filter_map(|s| s["hook"].as_str())
            .collect();
        assert!(tables.iter().all(|h| *h == "INPUT"), "{tables:?}");
    }
}

#[test]
fn bad_flags_exit_2() {
    for bad in [
        &["--src", "2001:db8::1"][..],
        &["--dport", "70000"],
        &["--state", "SLEEPY"],
        &["--hook", "SIDEWAYS"],
        &["--proto", "nosuchproto"],
    ] {
        iptlint()
            .arg("trace")
            .arg(fixture())
            .args(bad)
            .assert()
            .code(2);
    }
    iptlint()
        .args(["trace", "/nonexistent/x.rules"])
        .assert()
        .code(2);
}
