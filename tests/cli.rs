//! The `iptlint` command as users run it: exit statuses, stdin, directories,
//! the JSON report's shape, colour.

use std::fs;

use assert_cmd::Command;
use serde_json::Value;

const CLEAN: &str = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
const UNTERMINATED: &str = "*filter\n-A INPUT -m comment --comment \"ssh -j ACCEPT\nCOMMIT\n";
const BROKEN: &str =
    "*filter\n:INPUT DROP [0:0]\n-A INPUT -s\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n";

fn iptlint() -> Command {
    let mut cmd = Command::cargo_bin("iptlint").expect("the binary is built");
    cmd.env_remove("NO_COLOR");
    cmd
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output).expect("stdout is JSON")
}

#[test]
fn a_clean_file_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clean.rules");
    fs::write(&path, CLEAN).unwrap();
    iptlint().arg("check").arg(&path).assert().code(0);
}

#[test]
fn a_warning_exits_1_unless_fail_on_is_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warn.rules");
    fs::write(&path, UNTERMINATED).unwrap();
    iptlint().arg("check").arg(&path).assert().code(1);
    iptlint()
        .args(["check", "--fail-on", "error"])
        .arg(&path)
        .assert()
        .code(0);
    iptlint()
        .args(["check", "--fail-on", "never"])
        .arg(&path)
        .assert()
        .code(0);
    iptlint()
        .args(["check", "--fail-on", "info"])
        .arg(&path)
        .assert()
        .code(1);
}

#[test]
fn syntax_errors_exit_2_and_are_all_reported_with_positions() {
    let out = iptlint()
        .args(["check", "--format", "json", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out.stdout);
    let findings = report["findings"].as_array().unwrap();
    let positions: Vec<(i64, i64, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["line"].as_i64().unwrap(),
                f["column"].as_i64().unwrap(),
                f["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(positions, vec![(3, 10, "IPT001"), (4, 25, "IPT002")]);
    assert_eq!(findings[0]["message"], "`-s` needs an argument");
}

#[test]
fn an_unreadable_file_exits_2_with_a_message() {
    iptlint()
        .args(["check", "/nonexistent/iptlint-test.rules"])
        .assert()
        .code(2)
        .stderr(predicates_str("/nonexistent/iptlint-test.rules"));
}

#[test]
fn a_usage_error_exits_2() {
    iptlint()
        .args(["check", "--format", "yaml", "x"])
        .assert()
        .code(2);
    iptlint().args(["check"]).assert().code(2);
}

#[test]
fn stdin_is_read_for_dash_and_named_stdin() {
    let out = iptlint()
        .args(["check", "--format", "json", "-"])
        .write_stdin(CLEAN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out.stdout);
    assert_eq!(report["files"][0]["path"], "<stdin>");
    assert_eq!(report["files"][0]["rules"], 2);
}

#[test]
fn directories_are_walked_for_rule_files_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("a.rules"), CLEAN).unwrap();
    fs::write(
        dir.path().join("sub/rules.v6"),
        "*filter\n-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    fs::write(dir.path().join("notes.md"), "not a dump -A").unwrap();
    fs::write(dir.path().join(".hidden.rules"), BROKEN).unwrap();
    let out = iptlint()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json(&out.stdout);
    let files: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(files, vec!["a.rules", "rules.v6"]);
    assert_eq!(report["files"][1]["family"], "ipv6");
}

#[test]
fn the_json_report_has_the_version_1_shape() {
    let out = iptlint()
        .args(["check", "--format", "json", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    let report = json(&out.stdout);
    assert_eq!(report["version"], 1);
    let file = &report["files"][0];
    for key in ["path", "family", "tables", "chains", "rules"] {
        assert!(file.get(key).is_some(), "files[0] lacks {key}");
    }
    let finding = &report["findings"][0];
    for key in [
        "code",
        "name",
        "severity",
        "message",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "table",
        "chain",
        "rule",
        "related",
        "help",
    ] {
        assert!(finding.get(key).is_some(), "findings[0] lacks {key}");
    }
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["table"], "filter");
    assert_eq!(finding["chain"], "INPUT");
    assert_eq!(finding["rule"], 1);
    assert_eq!(report["summary"]["error"], 2);
    assert_eq!(report["summary"]["warning"], 0);
}

#[test]
fn findings_are_sorted_by_path_then_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.rules"), BROKEN).unwrap();
    fs::write(dir.path().join("a.rules"), UNTERMINATED).unwrap();
    let out = iptlint()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report = json(&out.stdout);
    let keys: Vec<(String, i64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 3);
}

#[test]
fn human_output_shows_the_source_line_and_no_colour_when_piped_or_no_color() {
    let out = iptlint()
        .args(["check", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("-A INPUT -p tcp --dport 70000 -j ACCEPT"),
        "{text}"
    );
    assert!(text.contains("<stdin>:4:25"), "{text}");
    assert!(text.contains("IPT002"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in piped output: {text:?}"
    );
    let out = iptlint()
        .env("NO_COLOR", "1")
        .args(["check", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\u{1b}'));
}

#[test]
fn binary_garbage_and_nul_bytes_are_errors_not_panics() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let out = iptlint()
        .args(["check", "--format", "json", "-"])
        .write_stdin(garbage)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = iptlint()
        .args(["check", "-"])
        .write_stdin("*filter\n-A INPUT\0 -j ACCEPT\nCOMMIT\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_rules_and_rule_commands_print_the_catalogue() {
    let out = iptlint()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list = json(&out.stdout);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "syntax-error" && l["code"] == "IPT001")
    );
    let out = iptlint().args(["rule", "old-negation"]).output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("# IPT004 old-negation")
    );
    iptlint().args(["rule", "no-such-lint"]).assert().code(2);
}

fn predicates_str(needle: &'static str) -> impl predicates::Predicate<str> {
    predicates::str::contains(needle)
}

#[test]
fn compact_and_github_formats_give_one_line_per_finding() {
    let out = iptlint()
        .args(["check", "--format", "compact", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "<stdin>:3:10: error[IPT001] syntax-error: `-s` needs an argument",
            "<stdin>:4:25: error[IPT002] invalid-value: `--dport`: port 70000 is above 65535",
        ]
    );
    let out = iptlint()
        .args(["check", "--format", "github", "-"])
        .write_stdin(BROKEN)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "::error file=<stdin>,line=3,col=10,title=IPT001 syntax-error::`-s` needs an argument\n"
        ),
        "{text}"
    );
}

/// `iptlint check` of `path` in `format`, and of the same bytes on standard
/// input, with the file's path shown as `<stdin>`: a regular file is
/// memory-mapped and its pages dropped as it is read, standard input is read
/// into memory, and the reports must not tell them apart.
fn file_and_stdin_reports(path: &std::path::Path, format: &str) -> (String, String) {
    let from_file = iptlint()
        .args(["check", "--format", format])
        .arg(path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let from_stdin = iptlint()
        .args(["check", "--format", format, "-"])
        .env("NO_COLOR", "1")
        .write_stdin(fs::read(path).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        from_file.status.code(),
        from_stdin.status.code(),
        "{format}"
    );
    assert_eq!(from_file.stderr, from_stdin.stderr, "{format}");
    let shown = path.display().to_string();
    (
        String::from_utf8(from_file.stdout)
            .unwrap()
            .replace(&shown, "<stdin>"),
        String::from_utf8(from_stdin.stdout).unwrap(),
    )
}

#[test]
fn a_mapped_file_reports_what_the_same_text_on_stdin_reports() {
    // Over 2 MiB, so that UTF-8 is checked and pages are dropped in several
    // pieces, with findings near the start, across the middle and at the end;
    // non-ASCII text before a finding on its line (columns are characters,
    // not bytes) and CRLF lines.
    let mut text = String::from("*filter\n:INPUT DROP [0:0]\n:ZOLL - [0:0]\n");
    text.push_str("-A INPUT -m comment --comment \"größe 🦀\" -p tcp --dport 22 -j ACCEPT\r\n");
    for i in 0..30_000 {
        text.push_str(&format!(
            "-A ZOLL -s 10.{}.{}.0/24 -m comment --comment \"règle n°{i} ✓\" -j ACCEPT\n",
            i / 256,
            i % 256
        ));
        if i % 10_000 == 0 {
            text.push_str(
                "-A ZOLL -m comment --comment \"dupliqué é\" -p tcp --dport 22 -j ACCEPT\n",
            );
            text.push_str(
                "-A ZOLL -m comment --comment \"dupliqué é\" -p tcp --dport 22 -j ACCEPT\r\n",
            );
        }
    }
    text.push_str("-A INPUT -m comment --comment \"fin ✓\" -p tcp --dport 22 -j ACCEPT\n");
    text.push_str("-A INPUT -j ZOLL\nCOMMIT\n");
    assert!(text.len() > 2 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped.rules");
    fs::write(&path, &text).unwrap();

    let (from_file, from_stdin) = file_and_stdin_reports(&path, "json");
    assert_eq!(from_file, from_stdin);
    let report = json(from_file.as_bytes());
    let findings = report["findings"].as_array().unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    // A finding that starts after non-ASCII text on its line and ends later
    // on it: its end column counts characters.
    let after_non_ascii = findings.iter().find(|f| {
        let line = f["line"].as_u64().unwrap() as usize;
        let column = f["column"].as_u64().unwrap() as usize;
        let before: String = lines[line - 1].chars().take(column - 1).collect();
        f["end_line"] == f["line"]
            && f["end_column"].as_u64().unwrap() as usize > column
            && !before.is_ascii()
    });
    let found: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {}:{}", f["code"], f["line"], f["column"]))
        .collect();
    assert!(after_non_ascii.is_some(), "{found:?}");
    assert!(
        findings
            .iter()
            .any(|f| f["line"].as_u64().unwrap() > 20_000),
        "{found:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("CRLF")),
        "{found:?}"
    );
    for format in ["sarif", "human", "compact"] {
        let (from_file, from_stdin) = file_and_stdin_reports(&path, format);
        assert_eq!(from_file, from_stdin, "{format}");
    }
}

#[test]
fn a_file_that_is_not_utf8_is_read_with_replacement_characters() {
    // The invalid byte comes after the first MiB, whose text was already
    // checked (and its pages dropped) when the file is read again instead.
    let mut bytes = b"*filter\n:INPUT DROP [0:0]\n".to_vec();
    for i in 0.. {
        if bytes.len() > 3 << 19 {
            break;
        }
        let rule = format!(
            "-A INPUT -s 10.{}.{}.0/24 -m comment --comment \"caf\u{e9}\" -j ACCEPT\n",
            i / 256,
            i % 256
        );
        bytes.extend_from_slice(rule.as_bytes());
    }
    bytes.extend_from_slice(b"-A INPUT -j NOWHERE\xff\nCOMMIT\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.rules");
    fs::write(&path, &bytes).unwrap();
    let (from_file, from_stdin) = file_and_stdin_reports(&path, "json");
    assert_eq!(from_file, from_stdin);
    let report = json(from_file.as_bytes());
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("NOWHERE\u{fffd}")),
        "{from_file}"
    );
    let (from_file, from_stdin) = file_and_stdin_reports(&path, "human");
    assert_eq!(from_file, from_stdin);
}
