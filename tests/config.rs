//! Selection and configuration through the CLI: `--select`, `--ignore`,
//! `--severity`, `iptlint.toml` / `.iptlint.toml` found by walking up,
//! `[[overrides]]`, `--config`, `--no-config`, and mistakes in all of them.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

/// A dump with one warning of each of three lints: unreachable-chain
/// (IPT201), duplicate-rule (IPT203), return-from-builtin (IPT302); and an
/// info, empty-chain (IPT301).
const DUMP: &str = "\
*filter
:INPUT DROP [0:0]
:UNUSED - [0:0]
:EMPTY - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -j EMPTY
-A INPUT -s 192.0.2.1/32 -j RETURN
-A UNUSED -j ACCEPT
COMMIT
";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The codes reported, with severities: `warning IPT203`.
    fn found(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once(": ")?;
                let (severity, rest) = rest.split_once('[')?;
                let (code, _) = rest.split_once(']')?;
                Some(format!("{severity} {code}"))
            })
            .collect()
    }
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let out = iptlint()
        .current_dir(dir)
        .args(["check", "--format", "compact"])
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

/// In line order.
const ALL_FOUR: [&str; 4] = [
    "warning IPT201",
    "info IPT301",
    "warning IPT203",
    "warning IPT302",
];

#[test]
fn by_default_every_lint_reports() {
    let dir = project(&[("a.rules", DUMP)]);
    let r = run(dir.path(), &["a.rules"]);
    assert_eq!(r.found(), ALL_FOUR);
    assert_eq!(r.code, 1);
}

#[test]
fn select_and_ignore_take_names_codes_prefixes_and_all() {
    let dir = project(&[("a.rules", DUMP)]);
    let p = dir.path();
    assert_eq!(
        run(p, &["--select", "IPT2", "a.rules"]).found(),
        ["warning IPT201", "warning IPT203"]
    );
    assert_eq!(
        run(p, &["--select", "duplicate-rule,IPT302", "a.rules"]).found(),
        ["warning IPT203", "warning IPT302"]
    );
    assert_eq!(
        run(
            p,
            &[
                "--ignore",
                "IPT3",
                "--ignore",
                "unreachable-chain",
                "a.rules"
            ]
        )
        .found(),
        ["warning IPT203"]
    );
    // The more specific wins, whichever flag it is in.
    assert_eq!(
        run(p, &["--select", "IPT2", "--ignore", "IPT203", "a.rules"]).found(),
        ["warning IPT201"]
    );
    assert_eq!(
        run(p, &["--ignore", "ALL", "--select", "IPT301", "a.rules"]).found(),
        ["info IPT301"]
    );
    assert_eq!(
        run(p, &["--select", "IPT20", "--ignore", "IPT2", "a.rules"]).found(),
        ["warning IPT201", "warning IPT203"]
    );
    // A tie: ignore wins.
    assert_eq!(
        run(p, &["--select", "IPT3", "--ignore", "IPT3", "a.rules"]).found(),
        Vec::<String>::new()
    );
    // Nothing left at warning: exit 0.
    let r = run(p, &["--select", "empty-chain", "a.rules"]);
    assert_eq!((r.code, r.found()), (0, vec!["info IPT301".to_string()]));
}

#[test]
fn severity_overrides_change_output_and_exit_status() {
    let dir = project(&[("a.rules", DUMP)]);
    let p = dir.path();
    let r = run(
        p,
        &[
            "--severity",
            "IPT2=info,return-from-builtin=info",
            "a.rules",
        ],
    );
    assert_eq!(
        r.found(),
        ["info IPT201", "info IPT301", "info IPT203", "info IPT302"]
    );
    assert_eq!(r.code, 0);
    let r = run(
        p,
        &[
            "--severity",
            "empty-chain=error",
            "--fail-on",
            "error",
            "--select",
            "IPT301",
            "a.rules",
        ],
    );
    assert_eq!((r.code, r.found()), (1, vec!["error IPT301".to_string()]));
}

#[test]
fn unknown_names_in_flags_exit_2_with_a_suggestion() {
    let dir = project(&[("a.rules", DUMP)]);
    let p = dir.path();
    let r = run(p, &["--select", "duplicate-rules", "a.rules"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "iptlint: error: --select: unknown lint `duplicate-rules`; did you mean `duplicate-rule`?\n"
    );
    assert_eq!(r.stdout, "");
    let r = run(p, &["--ignore", "IPT9", "a.rules"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown lint `IPT9`"), "{}", r.stderr);
    let r = run(p, &["--severity", "empty-chain", "a.rules"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("expected LINT=LEVEL"), "{}", r.stderr);
    let r = run(p, &["--severity", "emty-chain=fatal", "a.rules"]);
    assert_eq!(
        r.stderr,
        "iptlint: error: --severity: unknown lint `emty-chain`; did you mean `empty-chain`?\n\
         iptlint: error: --severity: the level of `emty-chain` is error, warning or info, not `fatal`\n"
    );
}

#[test]
fn the_config_file_is_found_by_walking_up() {
    let dir = project(&[
        (
            "iptlint.toml",
            "ignore = [\"IPT3\"]\nfail-on = \"error\"\n[severity]\nduplicate-rule = \"error\"\n",
        ),
        ("hosts/web/a.rules", DUMP),
    ]);
    let p = dir.path();
    let r = run(p, &["hosts/web/a.rules"]);
    assert_eq!(r.found(), ["warning IPT201", "error IPT203"]);
    assert_eq!(r.code, 1);
    // From inside the directory, and for a whole directory.
    let r = run(&p.join("hosts/web"), &["a.rules"]);
    assert_eq!(r.found(), ["warning IPT201", "error IPT203"]);
    let r = run(p, &["hosts"]);
    assert_eq!(r.found(), ["warning IPT201", "error IPT203"]);
    // Standard input: from the current directory.
    let out = iptlint()
        .current_dir(p.join("hosts"))
        .args(["check", "--format", "compact", "-"])
        .write_stdin(DUMP)
        .output()
        .unwrap();
    let r = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::new(),
    };
    assert_eq!(r.found(), ["warning IPT201", "error IPT203"]);
    // fail-on = error: the warning alone would not fail.
    let r = run(p, &["--ignore", "duplicate-rule", "hosts/web/a.rules"]);
    assert_eq!((r.code, r.found()), (0, vec!["warning IPT201".to_string()]));
}

#[test]
fn the_nearest_config_wins_and_dot_iptlint_toml_first() {
    let dir = project(&[
        ("iptlint.toml", "select = [\"IPT2\"]\n"),
        ("sub/iptlint.toml", "select = [\"IPT3\"]\n"),
        (
            "sub/.iptlint.toml",
            "[tool.iptlint]\nselect = [\"IPT302\"]\n",
        ),
        ("a.rules", DUMP),
        ("sub/b.rules", DUMP),
    ]);
    let r = run(dir.path(), &["a.rules", "sub/b.rules"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].starts_with("a.rules:") && lines[0].contains("IPT201"));
    assert!(lines[1].starts_with("a.rules:") && lines[1].contains("IPT203"));
    assert!(lines[2].starts_with("sub/b.rules:") && lines[2].contains("IPT302"));
}

#[test]
fn command_line_flags_override_the_config() {
    let dir = project(&[
        (
            "iptlint.toml",
            "select = [\"IPT2\"]\nignore = [\"duplicate-rule\"]\nfail-on = \"never\"\n[severity]\nIPT2 = \"error\"\n",
        ),
        ("a.rules", DUMP),
    ]);
    let p = dir.path();
    let r = run(p, &["a.rules"]);
    assert_eq!((r.code, r.found()), (0, vec!["error IPT201".to_string()]));
    // --select starts afresh: the config's ignore no longer applies (ruff).
    let r = run(p, &["--select", "IPT20", "a.rules"]);
    assert_eq!(r.found(), ["error IPT201", "error IPT203"]);
    // --ignore adds to the config's selection.
    let r = run(p, &["--ignore", "IPT201", "a.rules"]);
    assert_eq!(r.found(), Vec::<String>::new());
    // --severity and --fail-on win over the config's.
    let r = run(
        p,
        &[
            "--severity",
            "unreachable-chain=warning",
            "--fail-on",
            "warning",
            "a.rules",
        ],
    );
    assert_eq!((r.code, r.found()), (1, vec!["warning IPT201".to_string()]));
}

#[test]
fn overrides_apply_to_matching_paths_relative_to_the_config() {
    let dir = project(&[
        (
            "iptlint.toml",
            "ignore = [\"IPT3\"]\n\n[[overrides]]\npaths = [\"kube/*.rules\"]\nignore = [\"unreachable-chain\"]\n\n[[overrides]]\npaths = [\"*.v6\"]\nselect = [\"return-from-builtin\"]\n",
        ),
        ("kube/node.rules", DUMP),
        ("kube/deep/node.rules", DUMP),
        ("host.rules", DUMP),
        (
            "v6/edge/rules.v6",
            &DUMP.replace("192.0.2.1/32", "2001:db8::1/128"),
        ),
    ]);
    let p = dir.path();
    let r = run(p, &["."]);
    let mut by_file: Vec<(String, String)> = r
        .stdout
        .lines()
        .map(|l| {
            let file = l.split(':').next().unwrap().trim_start_matches("./");
            let code = l.split_once('[').unwrap().1.split_once(']').unwrap().0;
            (file.to_string(), code.to_string())
        })
        .collect();
    by_file.sort();
    let expected: Vec<(String, String)> = [
        ("host.rules", "IPT201"),
        ("host.rules", "IPT203"),
        ("kube/deep/node.rules", "IPT201"),
        ("kube/deep/node.rules", "IPT203"),
        ("kube/node.rules", "IPT203"),
        ("v6/edge/rules.v6", "IPT302"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(by_file, expected, "{}", r.stdout);
    // The same from another directory: globs are relative to the config.
    let r = run(&p.join("kube"), &["node.rules"]);
    assert_eq!(r.found(), ["warning IPT203"]);
}

#[test]
fn config_and_no_config_flags() {
    let dir = project(&[
        ("iptlint.toml", "select = [\"IPT2\"]\n"),
        (
            "elsewhere/strict.toml",
            "select = [\"empty-chain\"]\nfail-on = \"info\"\n",
        ),
        ("a.rules", DUMP),
    ]);
    let p = dir.path();
    let r = run(p, &["--no-config", "a.rules"]);
    assert_eq!(r.found(), ALL_FOUR);
    let r = run(p, &["--config", "elsewhere/strict.toml", "a.rules"]);
    assert_eq!((r.code, r.found()), (1, vec!["info IPT301".to_string()]));
    let r = run(p, &["--config", "missing.toml", "a.rules"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("iptlint: error: missing.toml: "),
        "{}",
        r.stderr
    );
    let r = run(p, &["--config", "x.toml", "--no-config", "a.rules"]);
    assert_eq!(r.code, 2);
}

#[test]
fn a_bad_config_is_an_error_at_each_mistake_and_nothing_is_checked() {
    let dir = project(&[
        (
            "iptlint.toml",
            "select = [\"ALL\"]\nignroe = [\"IPT3\"]\n[severity]\nduplicate-rul = \"error\"\n\n[[overrides]]\npaths = [\"kube/*.rules\"]\nfail-on = \"always\"\n",
        ),
        ("a.rules", DUMP),
    ]);
    let r = run(dir.path(), &["a.rules"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    let config = dir.path().join("iptlint.toml");
    let config = config.display();
    assert_eq!(
        r.stderr,
        format!(
            "iptlint: error: {config}:2:1: unknown key `ignroe` in the configuration; did you mean `ignore`?\n\
             iptlint: error: {config}:4:1: unknown lint `duplicate-rul`; did you mean `duplicate-rule`?\n\
             iptlint: error: {config}:8:11: `fail-on` is `error`, `warning`, `info` or `never`, not `always`\n"
        )
    );
}

#[test]
fn invalid_toml_is_an_error_with_a_position() {
    let dir = project(&[("iptlint.toml", "select = [\"ALL\"\n"), ("a.rules", DUMP)]);
    let r = run(dir.path(), &["a.rules"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("iptlint.toml:"), "{}", r.stderr);
    assert!(r.stderr.contains("not valid TOML"), "{}", r.stderr);
    for text in [
        "\u{0}",
        "[[overrides]]\npaths = 3\n",
        "severity = 1\n",
        "[tool]\niptlint = 2\n",
        "select = [1, {}]\n",
    ] {
        let dir = project(&[("iptlint.toml", text), ("a.rules", DUMP)]);
        let r = run(dir.path(), &["a.rules"]);
        assert_eq!(r.code, 2, "{text:?}");
        assert!(
            r.stderr.starts_with("iptlint: error: "),
            "{text:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{text:?}: {}", r.stderr);
    }
}

#[test]
fn an_ignored_syntax_error_is_not_printed_but_exits_2() {
    let dir = project(&[(
        "a.rules",
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n",
    )]);
    let r = run(dir.path(), &["--ignore", "invalid-value", "a.rules"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    let r = run(dir.path(), &["--severity", "IPT0=warning", "a.rules"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.found(), ["warning IPT002"]);
}

#[test]
fn many_files_with_stderr_not_a_terminal_print_no_progress() {
    let files: Vec<(String, &str)> = (0..200)
        .map(|i| (format!("d/{i:03}.rules"), DUMP))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let dir = project(&refs);
    let out = iptlint()
        .current_dir(dir.path())
        .args(["check", "--no-config", "d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
