//! The pre-commit hook in `.pre-commit-hooks.yaml`, run by the real
//! `pre-commit` (from PyPI) the way a user tries it: `pre-commit try-repo`
//! in a temporary git repository. A dump with an error fails the hook, a
//! clean one passes, and only files the hook's `files:` pattern matches are
//! checked.
//!
//! `language: rust` makes pre-commit `cargo install` this repository (a
//! release build) into a fresh cache on every `try-repo`. To keep that
//! cheap:
//! - the working tree (tracked and untracked files, as `git ls-files` lists
//!   them) is copied into a temporary repository and committed, so the hook
//!   under test is the code under test, committed or not;
//! - `CARGO_TARGET_DIR` is this repository's target directory, so the
//!   release dependencies that `cargo bench --no-run` (in `.ci/run`) or
//!   `cargo build --release` built are reused, and each install compiles
//!   only iptlint itself (about 30 s; a cold target directory costs a few
//!   minutes once). `cargo test --release` holds the release directory's
//!   lock, so a release test build uses `target/pre-commit-hook/` instead;
//! - two `try-repo` runs: a clean dump passes; `--all-files` fails on the
//!   broken dumps and shows which names the hook's `files:` pattern takes.
//!
//! Skips, saying so, when `pre-commit`, `git` or `cargo` is missing
//! (`.ci/run` installs pre-commit).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn works(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn git(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=iptlint test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A committed copy of this repository's working tree.
fn snapshot(root: &Path, into: &Path) {
    let listed = git(
        root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root.join(&name);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = into.join(&name);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
    git(into, &["init", "-q"]);
    git(into, &["add", "-A"]);
    git(into, &["commit", "-q", "-m", "snapshot"]);
}

const CLEAN: &str = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
/// A syntax error (IPT002) on line 3.
const BROKEN: &str =
    "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 70000 -j ACCEPT\nCOMMIT\n";

struct Hook {
    snapshot: PathBuf,
    work: PathBuf,
    home: PathBuf,
    target: PathBuf,
}

impl Hook {
    fn try_repo(&self, args: &[&str]) -> (i32, String) {
        let started = Instant::now();
        let out = Command::new("pre-commit")
            .current_dir(&self.work)
            .arg("try-repo")
            .arg(&self.snapshot)
            .arg("iptlint")
            .args(args)
            .env("PRE_COMMIT_HOME", &self.home)
            .env("PRE_COMMIT_COLOR", "never")
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("PRE_COMMIT")
            .output()
            .expect("pre-commit runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "pre-commit try-repo {args:?}: {:?} in {:.1}s",
            out.status.code(),
            started.elapsed().as_secs_f64()
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

/// The target directory pre-commit's `cargo install` builds in: see the
/// module docs.
fn target_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if cfg!(debug_assertions) {
        target
    } else {
        target.join("pre-commit-hook")
    }
}

#[test]
fn the_hook_fails_on_a_broken_dump_and_passes_a_clean_one() {
    for tool in ["pre-commit", "git", "cargo"] {
        if !works(tool) {
            eprintln!(
                "skipping the pre-commit hook test: `{tool}` is not installed (pip install pre-commit)"
            );
            return;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let hook = Hook {
        snapshot: temp.path().join("iptlint"),
        work: temp.path().join("firewall"),
        home: temp.path().join("pre-commit-home"),
        target: target_dir(root),
    };
    fs::create_dir_all(&hook.snapshot).unwrap();
    snapshot(root, &hook.snapshot);

    // The repository a user runs the hook in.
    let files: &[(&str, &str)] = &[
        ("hosts/web.rules", CLEAN),
        ("hosts/db.rules", BROKEN),
        ("etc/iptables/rules.v4", CLEAN),
        ("etc/iptables/rules.v6", BROKEN),
        ("backup/iptables-2024-01-01.txt", BROKEN),
        // Not a name the hook matches: never checked, broken or not.
        ("notes.txt", BROKEN),
        ("hosts/web.rules.orig", BROKEN),
    ];
    for (name, text) in files {
        let path = hook.work.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    git(&hook.work, &["init", "-q"]);
    git(&hook.work, &["add", "-A"]);

    let (code, out) = hook.try_repo(&["--files", "hosts/web.rules", "etc/iptables/rules.v4"]);
    assert_eq!(code, 0, "clean dumps pass:\n{out}");
    assert!(out.contains("Passed"), "{out}");

    // Every matching name, and only those; the broken ones fail the hook.
    let (code, out) = hook.try_repo(&["--all-files"]);
    assert_eq!(code, 1, "broken dumps fail:\n{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("invalid-value"), "{out}");
    for checked in [
        "hosts/db.rules",
        "etc/iptables/rules.v6",
        "backup/iptables-2024-01-01.txt",
    ] {
        assert!(out.contains(checked), "{checked} is checked:\n{out}");
    }
    for skipped in ["notes.txt", "web.rules.orig"] {
        assert!(!out.contains(skipped), "{skipped} is not checked:\n{out}");
    }
    assert!(out.contains("Found 3 error(s)"), "{out}");
}
