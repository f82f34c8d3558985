//! Suppression comments through the CLI: `# iptlint: ignore[...]` before a
//! rule, after a chain declaration, `ignore-file`, a rule's own `--comment`,
//! `unused-suppression`, and mistakes in the comments.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

/// Runs `check --format compact` on `text` in an empty directory (no config
/// file above it matters: `--no-config`), returning status, stdout, stderr.
fn check(text: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rules");
    fs::write(&path, text).unwrap();
    let out = iptlint()
        .current_dir(dir.path())
        .args(["check", "--no-config", "--format", "compact"])
        .args(extra)
        .arg(Path::new("t.rules"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `line:col code` of every finding in compact output.
fn found(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let rest = l.strip_prefix("t.rules:").unwrap_or(l);
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().unwrap();
            let col = parts.next().unwrap();
            let code = rest
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map_or("", |(c, _)| c);
            format!("{line}:{col} {code}")
        })
        .collect()
}

const DUPLICATE: &str = "\
*filter
:INPUT DROP [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
";

#[test]
fn without_a_suppression_the_finding_is_reported() {
    let (code, out, _) = check(DUPLICATE, &[]);
    assert_eq!(code, 1);
    assert_eq!(found(&out), ["4:1 IPT203"]);
}

#[test]
fn a_comment_line_suppresses_the_next_rule_by_name_or_code() {
    for name in ["duplicate-rule", "IPT203", "ipt203"] {
        let text = DUPLICATE.replace(
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
            &format!(
                "# iptlint: ignore[{name}] the probe needs its own rule\n\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT"
            ),
        );
        let (code, out, err) = check(&text, &[]);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""), "{name}");
    }
}

#[test]
fn a_suppression_for_another_rule_does_not_hide_the_finding_and_is_unused() {
    // Before the first rule, which is not the duplicate.
    let text = DUPLICATE.replace(
        ":INPUT DROP [0:0]\n",
        ":INPUT DROP [0:0]\n\n# iptlint: ignore[duplicate-rule]\n",
    );
    let (code, out, _) = check(&text, &[]);
    assert_eq!(code, 1);
    assert_eq!(found(&out), ["4:19 IPT303", "6:1 IPT203"]);
    assert!(out.contains(
        "unused-suppression: `duplicate-rule` (IPT203) is suppressed on the rule at line 5, which has no such finding"
    ));
}

#[test]
fn directly_after_a_chain_declaration_it_covers_the_chain() {
    let text = "\
*filter
:INPUT ACCEPT [0:0]
:WEB - [0:0]
# iptlint: ignore[duplicate-rule]
-A INPUT -j WEB
-A WEB -p tcp -m tcp --dport 443 -j ACCEPT
-A WEB -p tcp -m tcp --dport 443 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
";
    let (code, out, _) = check(text, &[]);
    assert_eq!(code, 1);
    // The duplicate in WEB is suppressed, the one in INPUT is not.
    assert_eq!(found(&out), ["9:1 IPT203"]);

    // Directly after the last declaration, but meant for the first rule:
    // it covers the chain, and the unused report says how to fix that.
    let meant_for_rule = "\
*filter
:INPUT ACCEPT [0:0]
:WEB - [0:0]
# iptlint: ignore[return-from-builtin]
-A INPUT -s 192.0.2.1/32 -j RETURN
-A INPUT -j WEB
COMMIT
";
    let out = iptlint()
        .args(["check", "--no-config", "--format", "json", "-"])
        .write_stdin(meant_for_rule)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["IPT301", "IPT303", "IPT302"]);
    assert!(
        findings[1]["help"]
            .as_str()
            .unwrap()
            .contains("leave a blank line after the declaration")
    );

    // With a blank line between, it is about the next rule instead (which
    // has no duplicate finding): both duplicates are reported.
    let spaced = text.replace(":WEB - [0:0]\n", ":WEB - [0:0]\n\n");
    let (_, out, _) = check(&spaced, &[]);
    assert_eq!(found(&out), ["5:19 IPT303", "8:1 IPT203", "10:1 IPT203"]);
}

#[test]
fn after_a_new_chain_command_it_covers_the_chain() {
    let text = "\
*filter
:INPUT ACCEPT [0:0]
-N PLACEHOLDER
# iptlint: ignore[empty-chain] filled by the deploy script
-A INPUT -j PLACEHOLDER
COMMIT
";
    let (code, out, _) = check(text, &["--fail-on", "info"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn ignore_file_covers_the_whole_file() {
    let text = format!("# iptlint: ignore-file[IPT203, unreachable-chain]\n{DUPLICATE}");
    let (code, out, _) = check(&text, &[]);
    // unreachable-chain found nothing: reported as unused, at its name.
    assert_eq!(code, 0);
    assert_eq!(found(&out), ["1:32 IPT303"]);
    assert!(out.contains("is suppressed in this file"));
}

#[test]
fn a_rules_own_comment_suppresses_that_rule() {
    let bare = "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 192.0.2.1/32 -j RETURN\nCOMMIT\n";
    let (code, out, _) = check(bare, &[]);
    assert_eq!((code, found(&out)), (1, vec!["3:26 IPT302".to_string()]));
    let text = bare.replace(
        "-j RETURN",
        "-m comment --comment \"legacy; iptlint: ignore[return-from-builtin]\" -j RETURN",
    );
    let (code, out, err) = check(&text, &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    // On a rule with nothing to suppress: unused, pointing into the comment.
    let text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -m comment --comment \"iptlint: ignore[IPT302]\" -j ACCEPT\nCOMMIT\n";
    let (code, out, _) = check(text, &[]);
    assert_eq!(code, 0);
    assert_eq!(found(&out), ["3:54 IPT303"]);
    assert!(out.contains("is suppressed on this rule"), "{out}");
}

#[test]
fn a_suppression_before_no_rule_is_reported() {
    let text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n# iptlint: ignore[duplicate-rule]\nCOMMIT\n";
    let (code, out, _) = check(text, &[]);
    assert_eq!(code, 0);
    assert_eq!(found(&out), ["4:1 IPT303"]);
    assert!(
        out.contains("covers nothing: line 5 is not a rule"),
        "{out}"
    );
}

#[test]
fn unused_suppression_can_be_ignored_and_suppressed() {
    let text = "*filter\n:INPUT DROP [0:0]\n# iptlint: ignore[duplicate-rule]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n";
    let (_, out, _) = check(text, &["--ignore", "unused-suppression"]);
    assert_eq!(out, "");
    let with_file = format!("# iptlint: ignore-file[unused-suppression]\n{text}");
    let (_, out, _) = check(&with_file, &[]);
    assert_eq!(out, "");
}

#[test]
fn a_suppression_counts_as_used_even_when_its_lint_is_not_selected() {
    let text = DUPLICATE.replace(
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
        "# iptlint: ignore[duplicate-rule]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
    );
    let (code, out, _) = check(&text, &["--select", "IPT3"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn mistakes_in_a_suppression_are_errors_with_did_you_mean() {
    let text = DUPLICATE.replace(
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
        "# iptlint: ignore[duplicte-rule]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
    );
    let (code, out, err) = check(&text, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "iptlint: error: t.rules:4:19: unknown lint `duplicte-rule`; did you mean `duplicate-rule`?\n"
    );
    // The findings are still reported.
    assert_eq!(found(&out), ["5:1 IPT203"]);

    let text = "*filter\n:INPUT DROP [0:0]\n# iptlint: ignroe[IPT203]\n-A INPUT -m comment --comment \"iptlint: ignore[IPT2]\" -j ACCEPT\nCOMMIT\n";
    let (code, _, err) = check(text, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "iptlint: error: t.rules:3:12: unknown suppression `ignroe`: did you mean `ignore`?\n\
         iptlint: error: t.rules:4:48: a suppression names single lints, by name or code, not `IPT2`\n"
    );
}

#[test]
fn a_suppressed_syntax_error_is_hidden_but_still_exits_2() {
    let text = "*filter\n:INPUT DROP [0:0]\n# iptlint: ignore[invalid-value]\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n";
    let (code, out, err) = check(text, &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (2, "", ""));
    let (code, out, _) = check(text, &["--ignore", "IPT0"]);
    assert_eq!((code, out.as_str()), (2, ""));
}

#[test]
fn an_example_dump_with_crlf_and_odd_comments_never_panics() {
    for text in [
        "# iptlint: ignore[\r\n*filter\r\nCOMMIT\r\n",
        "# iptlint:\n",
        "*filter\n:INPUT DROP [0:0]\n# iptlint: ignore[IPT203]",
        "*filter\n-A INPUT -m comment --comment \"iptlint: ignore[é]\" -j ACCEPT\nCOMMIT\n",
        "*filter\n-A INPUT -m comment --comment \"\\\"iptlint: ignore-file[IPT203]\" -j ACCEPT\nCOMMIT\n",
        "# iptlint: ignore[IPT203]\n# iptlint: ignore[IPT203]\n",
    ] {
        let (code, _, err) = check(text, &[]);
        assert!(code <= 2, "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{text:?}: {err}");
    }
}
