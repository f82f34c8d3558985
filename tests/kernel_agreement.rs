//! Kernel agreement: iptlint must reject what the real `iptables-restore` rejects, on the same line,
//! and must not report errors for what it accepts.
//!
//! Every `tests/fixtures/kernel/NN-name.rules` has a `NN-name.expect` next to it:
//!
//! ```text
//! kernel: reject 5          (or `kernel: accept`) -- real load with iptables-restore (nft backend)
//! legacy: reject 5          (or `legacy: accept`) -- real load with iptables-legacy-restore
//! message: ...              what iptables-restore printed on stderr (help hint dropped, lines joined by " | ")
//! legacy-message: ...       the same for iptables-legacy-restore
//! ```
//!
//! The verdicts come from a real load (not `--test`, which misses everything the kernel checks) in a
//! private network namespace: `unshare -n iptables-restore < file`. The line is the one the tool
//! names in "Error occurred at line: N" or, failing that, in "line N ...".
//!
//! * `recorded_kernel_verdicts_still_hold` re-runs that load when it can (root, the tools, and a
//!   working `unshare -n`) and checks the recorded verdicts; otherwise it says why and skips.
//!   With `IPTLINT_REGEN_KERNEL_FIXTURES=1` it rewrites the `.expect` files instead.
//! * `iptlint_agrees_with_kernel` always runs `iptlint check --format json` on every fixture.
//! * `examples_load_in_the_kernel` checks that `examples/*.rules` load with both real tools.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::kernel;

/// Fixtures where iptlint may deliberately differ from the nft-backend verdict. Each entry says
/// what iptlint may do instead and why. Everything not listed here must agree with `kernel:`.
const ALLOW_LIST: &[(&str, Alternative, &str)] = &[
    (
        "04-chain-bogus-policy",
        Alternative::Legacy,
        "iptables-nft ignores the policy word on a user-chain line, so `:FOO BOGUS` loads; \
         iptables-legacy rejects it and iptlint may report it as an error",
    ),
    (
        "05-policy-on-user-chain",
        Alternative::Legacy,
        "iptables-nft silently drops a policy given to a user chain; iptables-legacy rejects it \
         and iptlint may report it as an error",
    ),
    (
        "13-jump-to-undefined-chain",
        Alternative::Legacy,
        "iptables-nft only notices the missing jump target at COMMIT and reports the COMMIT line; \
         iptables-legacy (and iptlint) report the rule that jumps",
    ),
    (
        "114-jump-attached",
        Alternative::Legacy,
        "`-jACCEPT` jumps to a chain named `-jACCEPT`: iptables-nft only notices the missing \
         chain at COMMIT; iptables-legacy (and iptlint) report the rule that jumps",
    ),
    (
        "120-mirror-target",
        Alternative::Legacy,
        "iptables 1.8.9 has no MIRROR extension, so `-j MIRROR` jumps to a missing chain: \
         iptables-nft reports the COMMIT line, iptables-legacy (and iptlint) the rule",
    ),
    (
        "25-duplicate-chain-declaration",
        Alternative::Legacy,
        "iptables-nft merges a repeated `:CHAIN` line; iptables-legacy rejects it and iptlint \
         may report it as an error",
    ),
    (
        "152-clusterip-target",
        Alternative::Any,
        "the test kernel (6.3 or later) has no CLUSTERIP target, older kernels load it: iptlint \
         warns (a host's kernel decides), so it reports no error here",
    ),
    (
        "09-unterminated-quote",
        Alternative::Any,
        "iptables-restore 1.8.9 accepts an unterminated quote and swallows the rest of the line \
         (target included) into the comment; iptlint may flag this as an error",
    ),
];

#[derive(Clone, Copy, Debug)]
enum Alternative {
    /// iptlint may follow the `legacy:` verdict instead of the `kernel:` one.
    Legacy,
    /// iptlint's verdict is not checked for this fixture (the difference is still printed).
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject(usize),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Accept => write!(f, "accept"),
            Verdict::Reject(line) => write!(f, "reject {line}"),
        }
    }
}

fn parse_verdict(text: &str) -> Option<Verdict> {
    match text.trim() {
        "accept" => Some(Verdict::Accept),
        other => other
            .strip_prefix("reject ")?
            .trim()
            .parse()
            .ok()
            .map(Verdict::Reject),
    }
}

struct Fixture {
    name: String,
    rules: PathBuf,
    kernel: Verdict,
    legacy: Verdict,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kernel")
}

fn expect_path(rules: &Path) -> PathBuf {
    rules.with_extension("expect")
}

fn rules_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "rules"))
        .collect();
    files.sort();
    files
}

/// Loads every fixture with its `.expect`, panicking on a missing or malformed one.
fn load_fixtures() -> Vec<Fixture> {
    let dir = fixture_dir();
    let fixtures: Vec<Fixture> = rules_files(&dir)
        .into_iter()
        .map(|rules| {
            let name = rules.file_stem().unwrap().to_string_lossy().into_owned();
            let expect = expect_path(&rules);
            let text = fs::read_to_string(&expect)
                .unwrap_or_else(|e| panic!("{name}: cannot read {}: {e}", expect.display()));
            let field = |key: &str| {
                let value = text
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                    .unwrap_or_else(|| panic!("{name}.expect: no `{key}:` line"));
                parse_verdict(value)
                    .unwrap_or_else(|| panic!("{name}.expect: bad `{key}:` value {value:?}"))
            };
            let (kernel, legacy) = (field("kernel"), field("legacy"));
            if name.contains("-ok-") {
                assert_eq!(kernel, Verdict::Accept, "{name}: an ok fixture must load");
            }
            Fixture {
                name,
                rules,
                kernel,
                legacy,
            }
        })
        .collect();
    assert!(
        fixtures.len() >= 20,
        "expected about 25 kernel fixtures in {}",
        dir.display()
    );
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "expect") {
            assert!(
                path.with_extension("rules").exists(),
                "{} has no .rules",
                path.display()
            );
        }
    }
    for (name, _, _) in ALLOW_LIST {
        assert!(
            fixtures.iter().any(|f| f.name == *name),
            "allow-list names unknown fixture {name}"
        );
    }
    fixtures
}

// ---------------------------------------------------------------------------------------------
// The real tools
// ---------------------------------------------------------------------------------------------

/// The real-load tools, or the reason they cannot be used here.
struct Tools {
    unshare: PathBuf,
    nft: PathBuf,
    legacy: Option<PathBuf>,
}

fn kernel_tools() -> Result<Tools, String> {
    let unshare = kernel::namespaces()?;
    let nft = kernel::find_tool("iptables-restore").ok_or("no `iptables-restore` in PATH")?;
    Ok(Tools {
        unshare,
        nft,
        legacy: kernel::find_tool("iptables-legacy-restore"),
    })
}

/// Really loads `rules` with `tool` in a fresh network namespace.
/// Returns the verdict and stderr without the help hint, lines joined by " | ".
fn real_load(tools: &Tools, tool: &Path, rules: &Path) -> (Verdict, String) {
    let input = fs::File::open(rules).unwrap();
    let out = Command::new(&tools.unshare)
        .arg("-n")
        .arg(tool)
        .stdin(input)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Try `"))
        .collect::<Vec<_>>()
        .join(" | ");
    if out.status.success() {
        return (Verdict::Accept, message);
    }
    let line = line_after(&stderr, "Error occurred at line: ")
        .or_else(|| line_after(&stderr, "line "))
        .unwrap_or_else(|| {
            panic!(
                "{}: rejected without a line number: {stderr}",
                rules.display()
            )
        });
    (Verdict::Reject(line), message)
}

/// The first number that directly follows `marker` in `text`.
fn line_after(text: &str, marker: &str) -> Option<usize> {
    text.match_indices(marker).find_map(|(i, _)| {
        let rest = &text[i + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

#[test]
fn recorded_kernel_verdicts_still_hold() {
    let fixtures = load_fixtures();
    let tools = match kernel_tools() {
        Ok(tools) => tools,
        Err(why) => {
            println!("skipping the real iptables-restore check: {why}");
            return;
        }
    };
    let regen = std::env::var_os("IPTLINT_REGEN_KERNEL_FIXTURES").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for fx in &fixtures {
        let (kernel, message) = real_load(&tools, &tools.nft, &fx.rules);
        let legacy = tools
            .legacy
            .as_ref()
            .map(|tool| real_load(&tools, tool, &fx.rules));
        if regen {
            let (legacy, legacy_message) =
                legacy.expect("regenerating needs iptables-legacy-restore too");
            let none = |m: String| if m.is_empty() { "(none)".to_owned() } else { m };
            let text = format!(
                "kernel: {kernel}\nlegacy: {legacy}\nmessage: {}\nlegacy-message: {}\n",
                none(message),
                none(legacy_message)
            );
            fs::write(expect_path(&fx.rules), text).unwrap();
            println!("{:40} kernel: {kernel:10} legacy: {legacy}", fx.name);
            continue;
        }
        if kernel != fx.kernel {
            failures.push(format!(
                "{}: recorded kernel: {}, real load: {kernel} ({message})",
                fx.name, fx.kernel
            ));
        }
        match legacy {
            Some((legacy, message)) if legacy != fx.legacy => failures.push(format!(
                "{}: recorded legacy: {}, real load: {legacy} ({message})",
                fx.name, fx.legacy
            )),
            Some(_) => {}
            None => println!(
                "{}: no iptables-legacy-restore, legacy verdict not re-checked",
                fx.name
            ),
        }
    }
    assert!(
        failures.is_empty(),
        "recorded kernel verdicts changed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn examples_load_in_the_kernel() {
    let tools = match kernel_tools() {
        Ok(tools) => tools,
        Err(why) => {
            println!("skipping the real iptables-restore check of examples/: {why}");
            return;
        }
    };
    let examples = rules_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"));
    assert!(!examples.is_empty(), "no examples/*.rules");
    for example in examples {
        for tool in std::iter::once(&tools.nft).chain(tools.legacy.as_ref()) {
            let (verdict, message) = real_load(&tools, tool, &example);
            assert_eq!(
                verdict,
                Verdict::Accept,
                "{} does not load with {}: {message}",
                example.display(),
                tool.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// iptlint
// ---------------------------------------------------------------------------------------------

/// What iptlint said about one file.
struct Lint {
    exit: Option<i32>,
    /// Lines of findings with severity "error".
    error_lines: BTreeSet<usize>,
    /// Set when the output broke the JSON contract.
    problem: Option<String>,
}

impl Lint {
    fn verdict_matches(&self, expected: Verdict) -> bool {
        if self.problem.is_some() {
            return false;
        }
        match expected {
            Verdict::Reject(line) => {
                matches!(self.exit, Some(1 | 2)) && self.error_lines.contains(&line)
            }
            Verdict::Accept => matches!(self.exit, Some(0 | 1)) && self.error_lines.is_empty(),
        }
    }

    fn describe(&self) -> String {
        let exit = self.exit.map_or("signal".to_owned(), |c| c.to_string());
        match &self.problem {
            Some(problem) => format!("exit {exit}, {problem}"),
            None => format!("exit {exit}, errors on lines {:?}", self.error_lines),
        }
    }
}

fn run_iptlint(rules: &Path) -> Lint {
    let out = Command::new(env!("CARGO_BIN_EXE_iptlint"))
        .args(["check", "--format", "json"])
        .arg(rules)
        .output()
        .expect("cannot run iptlint");
    let exit = out.status.code();
    let mut lint = Lint {
        exit,
        error_lines: BTreeSet::new(),
        problem: None,
    };
    let json: serde_json::Value = match serde_json::from_slice(&out.stdout) {
        Ok(json) => json,
        Err(e) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.lines().next().unwrap_or("");
            lint.problem = Some(format!("stdout is not JSON ({e}); stderr: {stderr}"));
            return lint;
        }
    };
    if json["version"] != 1 {
        lint.problem = Some(format!("JSON version is {}, expected 1", json["version"]));
        return lint;
    }
    let Some(findings) = json["findings"].as_array() else {
        lint.problem = Some("JSON has no `findings` array".into());
        return lint;
    };
    for finding in findings {
        if finding["severity"] == "error" {
            match finding["line"].as_u64() {
                Some(line) => {
                    lint.error_lines.insert(line as usize);
                }
                None => lint.problem = Some(format!("error finding without a line: {finding}")),
            }
        }
    }
    lint
}

#[test]
fn iptlint_agrees_with_kernel() {
    let fixtures = load_fixtures();
    let (mut agree, mut disagree, mut allowed) = (0, Vec::new(), 0);
    for fx in &fixtures {
        let lint = run_iptlint(&fx.rules);
        if lint.verdict_matches(fx.kernel) {
            agree += 1;
            continue;
        }
        let allowance = ALLOW_LIST.iter().find(|(name, _, _)| *name == fx.name);
        let detail = format!(
            "{}: kernel: {}, iptlint: {}",
            fx.name,
            fx.kernel,
            lint.describe()
        );
        match allowance {
            Some((_, Alternative::Legacy, why)) if lint.verdict_matches(fx.legacy) => {
                allowed += 1;
                println!(
                    "allowed (iptlint follows legacy: {}): {detail}; {why}",
                    fx.legacy
                );
            }
            Some((_, Alternative::Any, why)) if lint.problem.is_none() => {
                allowed += 1;
                println!("allowed: {detail}; {why}");
            }
            _ => {
                println!("DISAGREE: {detail}");
                disagree.push(detail);
            }
        }
    }
    println!(
        "kernel agreement: {agree} agree, {} disagree",
        disagree.len()
    );
    println!("kernel agreement: {allowed} allow-listed differences tolerated");
    assert!(
        disagree.is_empty(),
        "iptlint disagrees with iptables-restore on {} fixture(s):\n{}",
        disagree.len(),
        disagree.join("\n")
    );
}
