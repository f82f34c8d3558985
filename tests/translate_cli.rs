//! `iptlint translate` from the command line: what it prints, what it says
//! on stderr, and its exit status. (The kernel judges the output in
//! `translate_kernel.rs`.)

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/translate")
        .join(name)
}

fn translate() -> Command {
    let mut c = Command::cargo_bin("iptlint").unwrap();
    c.arg("translate");
    c
}

fn stdout_of(args: &[&str], path: &Path) -> (String, String, i32) {
    let out = translate().arg(path).args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn tables_chains_policies_and_an_idempotent_header() {
    let (out, _, _) = stdout_of(&["--no-merge"], &fixture("host.v4"));
    // Declare, then flush, before the blocks: a second load replaces.
    let decl = out
        .find("table ip filter\nflush table ip filter\n")
        .expect(&out);
    let block = out.find("table ip filter {").expect(&out);
    assert!(decl < block);
    assert!(
        out.contains("type filter hook input priority 0; policy drop;"),
        "{out}"
    );
    assert!(
        out.contains("type nat hook prerouting priority -100; policy accept;"),
        "{out}"
    );
    assert!(
        out.contains("type nat hook postrouting priority 100; policy accept;"),
        "{out}"
    );
    assert!(out.contains("jump LOG_AND_DROP"), "{out}");
    assert!(
        out.contains("reject with icmp type host-prohibited"),
        "{out}"
    );
    assert!(out.contains("log prefix \"dropped: \" level warn"), "{out}");
    // The protocol survives a DNAT with ports (tcp dport implies it).
    assert!(
        out.contains("ip daddr 203.0.113.5 tcp dport 8443 dnat to 192.168.1.10:443"),
        "{out}"
    );
    assert!(out.contains("oifname \"eth0\" masquerade"), "{out}");
    assert!(
        out.contains("iifname \"eth*\" ip saddr 10.0.0.0/8"),
        "{out}"
    );
    // No counters unless asked.
    assert!(!out.contains("counter packets"), "{out}");
}

#[test]
fn keyword_chain_names_are_renamed_everywhere() {
    let (out, err, _) = stdout_of(&[], &fixture("host.v4"));
    assert!(out.contains("chain counter_ {"), "{out}");
    assert!(out.contains("jump counter_"), "{out}");
    assert!(!out.contains("jump counter\n"), "{out}");
    assert!(
        err.contains(":6:1: note: chain `counter` is named `counter_`"),
        "{err}"
    );
}

#[test]
fn an_untranslatable_rule_is_kept_as_a_comment_with_exit_1() {
    let (out, err, code) = stdout_of(&[], &fixture("host.v4"));
    assert_eq!(code, 1);
    assert!(
        out.contains("# iptlint: not translated (`-m recent` forgets"),
        "{out}"
    );
    assert!(
        out.contains("-A INPUT -m recent --update --seconds 60"),
        "{out}"
    );
    let path = fixture("host.v4").display().to_string();
    assert!(
        err.contains(&format!("{path}:17:1: warning: rule not translated")),
        "{err}"
    );
}

#[test]
fn counters_only_with_the_flag() {
    let (out, _, _) = stdout_of(&["--counters", "--no-merge"], &fixture("host.v4"));
    assert!(
        out.contains("iifname \"lo\" counter packets 5 bytes 300 accept"),
        "{out}"
    );
    assert!(out.contains("ct state invalid counter drop"), "{out}");
}

#[test]
fn merging_makes_sets_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (out, _, _) = stdout_of(
        &[
            "--report",
            "json",
            "--report-file",
            report.to_str().unwrap(),
        ],
        &fixture("host.v4"),
    );
    assert!(
        out.contains("tcp dport { 22 comment \"ssh 'admin' access\", 80, 443 } accept"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let merges = json["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["kind"], "set");
    assert_eq!(merges[0]["rules"], 3);
    assert_eq!(merges[0]["first_line"], 11);
    assert_eq!(json["untranslated"], 1);
    let (plain, _, _) = stdout_of(&["--no-merge"], &fixture("host.v4"));
    assert!(plain.contains("tcp dport 80 accept"), "{plain}");
    assert!(plain.contains("tcp dport 22 accept"), "{plain}");
    assert!(!plain.contains("dport { 22"), "{plain}");
}

#[test]
fn sets_need_the_ipset_file() {
    translate()
        .arg(fixture("sets.v4"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "needs the ipset definitions: give `--ipsets FILE`",
        ))
        .stdout(predicate::str::contains("# iptlint: not translated"));
    translate()
        .arg(fixture("sets.v4"))
        .arg("--ipsets")
        .arg(fixture("sets.ipset"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("set blocked {"))
        .stdout(predicate::str::contains(
            "elements = { 198.51.100.0/24, 192.0.2.1 }",
        ))
        .stdout(predicate::str::contains("ip saddr @blocked drop"));
}

#[test]
fn output_file_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.nft");
    translate()
        .arg(fixture("sets.v4"))
        .arg("--ipsets")
        .arg(fixture("sets.ipset"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("table ip filter {")
    );
    let bad = dir.path().join("bad.v4");
    std::fs::write(&bad, "*filter\n-A INPUT -p tcp --dport\nCOMMIT\n").unwrap();
    translate()
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.v4:2:"));
    translate()
        .arg(fixture("sets.v4"))
        .arg("--ipsets")
        .arg(dir.path().join("missing.ipset"))
        .assert()
        .code(2);
}

#[test]
fn kube_proxy_dispatch_becomes_one_vmap_rule() {
    let dump = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kube-proxy.rules");
    let (out, _, _) = stdout_of(&["--report", "json"], &dump);
    let nat = &out[out.rfind("table ip nat {").expect("a nat table")..];
    let services = nat
        .lines()
        .skip_while(|l| !l.contains("chain KUBE-SERVICES {"))
        .take_while(|l| l.trim() != "}")
        .filter(|l| l.contains(" vmap {"))
        .count();
    assert_eq!(services, 1, "{out}");
    assert!(
        out.contains("ip daddr . meta l4proto . th dport vmap {"),
        "{out}"
    );
}

#[test]
fn statistic_chains_become_numgen_only_when_asked() {
    let dump = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kube-proxy.rules");
    let (plain, _, _) = stdout_of(&[], &dump);
    assert!(!plain.contains("numgen"), "{plain}");
    // Each statistic rule keeps its own draw, as the kernel stores it.
    assert!(
        plain.contains("meta random & 2147483647 < 1073741824 jump KUBE-SEP-"),
        "{plain}"
    );
    let (merged, _, _) = stdout_of(&["--numgen"], &dump);
    assert!(
        merged.contains("numgen random mod 2 vmap { 0 comment"),
        "{merged}"
    );
    assert!(!merged.contains("meta random"), "{merged}");
}

/// `iptables-restore --test` accepts a jump to a chain the table does not
/// have; a real load refuses the dump, and nft would refuse `jump NOPE`.
#[test]
fn a_jump_to_a_missing_chain_is_not_translated() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("missing.rules");
    std::fs::write(
        &dump,
        "*filter\n:INPUT ACCEPT [0:0]\n:KNOWN - [0:0]\n-A INPUT -p tcp --dport 22 -j NOPE\n-A INPUT -j KNOWN\nCOMMIT\n",
    )
    .unwrap();
    let (out, err, code) = stdout_of(&[], &dump);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("# iptlint: not translated (it jumps to chain `NOPE`"),
        "{out}"
    );
    assert!(!out.contains("jump NOPE"), "{out}");
    assert!(out.contains("jump KNOWN"), "{out}");
    assert!(
        err.contains("missing.rules:4:1: warning: rule not translated"),
        "{err}"
    );
}
