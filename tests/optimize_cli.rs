//! `iptlint optimize` as users run it: what it merges and what it must not,
//! the sets file, set names, the report, `--remove-dead`, bad input.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optimize")
        .join(name)
}

/// Runs `optimize` on a fixture: (dump, sets script, stderr).
fn optimize(name: &str, extra: &[&str]) -> (String, Option<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let sets = dir.path().join("sets");
    // `--no-sets` is this helper's: run without `--ipsets`.
    let with_sets = !extra.contains(&"--no-sets");
    let extra: Vec<&str> = extra
        .iter()
        .copied()
        .filter(|a| *a != "--no-sets")
        .collect();
    let mut cmd = iptlint();
    cmd.arg("optimize").arg(fixture(name)).args(&extra);
    if with_sets {
        cmd.arg("--ipsets").arg(&sets);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        fs::read_to_string(&sets).ok(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn rules(dump: &str) -> Vec<&str> {
    dump.lines().filter(|l| l.starts_with("-A ")).collect()
}

/// `(name, members)` of each set in a restore script.
fn sets_of(script: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in script.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["create", name, ..] => out.push((name.to_string(), Vec::new())),
            ["add", name, member, "-exist"] => {
                let set = out.iter_mut().find(|(n, _)| n == name).expect("created");
                set.1.push(member.to_string());
            }
            _ => panic!("unexpected line in the sets script: {line}"),
        }
    }
    out
}

#[test]
fn runs_become_set_and_multiport_rules() {
    let (dump, sets, _) = optimize("mixed.rules", &[]);
    let sets = sets_of(&sets.expect("sets written"));
    let r = rules(&dump);
    assert_eq!(r.len(), 9, "{dump}");
    assert_eq!(r[0], "-A INPUT -i lo -j ACCEPT");
    // Address + port: the DROP of 10.0.0.9:80 in between meets none of them.
    let sp = sets
        .iter()
        .find(|(n, _)| n.starts_with("iptl-sp-"))
        .unwrap();
    assert_eq!(
        sp.1,
        ["10.0.0.1,tcp:22", "10.0.0.2,tcp:22", "10.0.1.0/24,tcp:22"]
    );
    assert_eq!(
        r[1],
        format!(
            "-A INPUT -p tcp -m set --match-set {} src,dst -j ACCEPT",
            sp.0
        )
    );
    assert_eq!(
        r[2],
        "-A INPUT -s 10.0.0.9/32 -p tcp -m tcp --dport 80 -j DROP"
    );
    let src = sets
        .iter()
        .find(|(n, _)| n.starts_with("iptl-src-"))
        .unwrap();
    assert_eq!(src.1, ["10.9.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]);
    assert_eq!(
        r[3],
        format!("-A INPUT -m set --match-set {} src -j ACCEPT", src.0)
    );
    // Negated addresses never go into a set.
    assert_eq!(r[4], "-A INPUT ! -s 10.20.0.0/16 -j LOG");
    assert_eq!(r[6], "-A INPUT ! -s 10.22.0.0/16 -j LOG");
    assert_eq!(
        r[7],
        "-A INPUT -p tcp -m multiport --dports 443,8443,1000:2000 -j ACCEPT"
    );
    assert_eq!(r[8], "-A INPUT -p udp -m udp --dport 53 -j ACCEPT");
    assert_eq!(sets.len(), 2);
}

#[test]
fn without_ipsets_no_set_is_used_but_ports_still_merge() {
    let (dump, sets, _) = optimize("mixed.rules", &["--no-sets"]);
    assert!(sets.is_none());
    assert!(!dump.contains("-m set"), "{dump}");
    assert!(dump.contains("-m multiport --dports 443,8443,1000:2000"));
    assert!(dump.contains("-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT"));
}

#[test]
fn rules_that_decide_or_rewrite_in_between_stop_a_merge() {
    let (dump, sets, _) = optimize("blocked.rules", &[]);
    let sets = sets_of(&sets.unwrap());
    let r = rules(&dump);
    // 10.0.0.3's ACCEPT cannot pass the DROP of 10.0.0.3/tcp: the first two
    // stay alone (too few for a set), 3 to 6 make one.
    assert_eq!(r[0], "-A INPUT -s 10.0.0.1/32 -j ACCEPT");
    assert_eq!(r[1], "-A INPUT -s 10.0.0.2/32 -j ACCEPT");
    assert_eq!(r[2], "-A INPUT -s 10.0.0.3/32 -p tcp -j DROP");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].1, ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
    assert!(r[3].contains(&sets[0].0));
    // The LOG keeps 10.0.0.7 below it; the MARK keeps 10.0.0.8 below it.
    assert_eq!(
        &r[4..],
        [
            "-A INPUT -d 10.0.0.7/32 -j LOG --log-prefix \"seven \"",
            "-A INPUT -s 10.0.0.7/32 -j ACCEPT",
            "-A INPUT -j MARK --set-xmark 0x1/0x1",
            "-A INPUT -s 10.0.0.8/32 -j ACCEPT",
        ]
    );
}

#[test]
fn ipv6_sets_are_inet6_and_ports_carry_their_protocol() {
    let (dump, sets, _) = optimize("v6.rules", &[]);
    let script = sets.unwrap();
    assert!(script.contains(" hash:ip,port family inet6 "), "{script}");
    assert!(script.contains(" hash:net family inet6 "), "{script}");
    let sets = sets_of(&script);
    let dp = sets
        .iter()
        .find(|(n, _)| n.starts_with("iptl-dp-"))
        .unwrap();
    assert_eq!(
        dp.1,
        [
            "2001:db8::10,tcp:443",
            "2001:db8::11,tcp:443",
            "2001:db8::12,tcp:53",
            "2001:db8::13,tcp:443"
        ]
    );
    assert!(dump.contains(&format!(
        "-p tcp -m set --match-set {} dst,dst -j ACCEPT",
        dp.0
    )));
    // The UDP rule for the same address is another protocol: not in the set.
    assert!(dump.contains("-A INPUT -d 2001:db8::12/128 -p udp -m udp --dport 53 -j ACCEPT"));
}

#[test]
fn set_names_are_valid_and_stable_across_runs() {
    let (dump1, sets1, _) = optimize("mixed.rules", &[]);
    let (dump2, sets2, _) = optimize("mixed.rules", &[]);
    assert_eq!(dump1, dump2);
    assert_eq!(sets1, sets2);
    for (name, _) in sets_of(&sets1.unwrap()) {
        assert!(name.len() <= 31, "{name}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{name}"
        );
    }
}

#[test]
fn json_report_lists_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = iptlint()
        .arg("optimize")
        .arg(fixture("mixed.rules"))
        .arg("--ipsets")
        .arg(dir.path().join("s"))
        .args(["--report", "json", "-o"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "-o writes the dump to the file");
    let report: Value = serde_json::from_slice(&out.stderr).expect("stderr is JSON");
    assert_eq!(report["rules_before"], 15);
    assert_eq!(report["rules_after"], 9);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0]["action"], "merged");
    assert_eq!(changes[0]["lines"], serde_json::json!([7, 8, 10]));
    assert_eq!(changes[0]["how"], "source-address-port-set");
    assert_eq!(changes[2]["how"], "destination-ports");
    assert!(changes[2]["set"].is_null());
    let sets = report["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["members"], 3);
    assert!(report["after"]["worst"].as_u64() < report["before"]["worst"].as_u64());
    let written = fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(rules(&written).len(), 9);
}

#[test]
fn remove_dead_removes_each_kind_and_says_why() {
    let out = iptlint()
        .arg("optimize")
        .arg(fixture("dead.rules"))
        .args(["--remove-dead", "--report", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dump = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_slice(&out.stderr).unwrap();
    let removed: Vec<(u64, &str)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "removed")
        .map(|c| (c["line"].as_u64().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        removed,
        [
            (8, "shadowed-rule"),
            (10, "duplicate-rule"),
            (11, "jump-to-empty-chain"),
            (13, "shadowed-rule"),
            (14, "redundant-rule"),
            (16, "unreachable-rule"),
        ]
    );
    let chains: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "chain-removed")
        .map(|c| c["chain"].as_str().unwrap())
        .collect();
    assert_eq!(chains, ["EMPTY"]);
    assert!(!dump.contains("EMPTY"), "{dump}");
    assert_eq!(
        rules(&dump),
        [
            "-A INPUT -s 10.0.0.0/8 -j DROP",
            "-A INPUT -s 192.168.0.0/16 -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A FORWARD -j ACCEPT",
        ]
    );
}

#[test]
fn without_remove_dead_nothing_is_removed() {
    let (dump, _, stderr) = optimize("dead.rules", &[]);
    assert_eq!(rules(&dump).len(), 10, "{dump}");
    assert!(!stderr.contains("removed"), "{stderr}");
}

#[test]
fn a_dump_iptables_cannot_read_exits_2() {
    iptlint()
        .args(["optimize", "-"])
        .write_stdin("*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n")
        .assert()
        .code(2);
}

#[test]
fn address_lists_of_deciding_rules_go_into_sets() {
    let (dump, sets, _) = optimize("lists.rules", &[]);
    let sets = sets_of(&sets.unwrap());
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(
        sets[0].1,
        ["192.0.2.1,tcp:25", "192.0.2.2,tcp:25", "192.0.2.3,tcp:25"]
    );
    assert_eq!(
        rules(&dump),
        [
            "-A INPUT -s 10.0.0.0/24,10.0.0.1/32 -j LOG --log-prefix \"twice \"".to_string(),
            format!(
                "-A INPUT -p tcp -m set --match-set {} src,dst -j DROP",
                sets[0].0
            ),
        ]
    );
}

#[test]
fn many_ports_become_a_bitmap_port_set_or_several_multiport_rules() {
    let (dump, sets, _) = optimize("ports.rules", &[]);
    let script = sets.unwrap();
    assert!(
        script.contains(" bitmap:port range 0-65535 -exist\n"),
        "{script}"
    );
    let sets = sets_of(&script);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].1.len(), 20);
    assert_eq!(sets[0].1[0], "20");
    assert_eq!(sets[0].1[19], "1000-2000");
    assert_eq!(
        rules(&dump),
        [
            format!(
                "-A INPUT -p tcp -m set --match-set {} dst -j ACCEPT",
                sets[0].0
            ),
            "-A INPUT -p udp -m udp --dport 53 -j ACCEPT".to_string(),
        ]
    );
    // Without sets: 21 slots make two multiport rules, 15 and 6.
    let (dump, _, _) = optimize("ports.rules", &["--no-sets"]);
    let r = rules(&dump);
    assert_eq!(r.len(), 3, "{dump}");
    assert_eq!(
        r[0],
        "-A INPUT -p tcp -m multiport --dports 20,21,22,23,24,25,26,27,28,29,30,31,32,33,34 -j ACCEPT"
    );
    assert_eq!(
        r[1],
        "-A INPUT -p tcp -m multiport --dports 35,36,80,443,1000:2000 -j ACCEPT"
    );
}
