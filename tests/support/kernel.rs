//! The real tools and a private network namespace, for tests that let the
//! kernel judge. Every test that uses them skips (with a message) when they
//! are missing: not root, no `unshare -n`, a tool not installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A program on `PATH` or in the usual sbin directories.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

pub fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uids = s.lines().find_map(|l| l.strip_prefix("Uid:"))?.to_owned();
            Some(uids.split_whitespace().nth(1) == Some("0")) // effective uid
        })
        .unwrap_or(false)
}

/// Root, and `unshare -n` works: commands can run in a fresh network
/// namespace of their own. `Err` says why not, for the skip message.
pub fn namespaces() -> Result<PathBuf, String> {
    if !running_as_root() {
        return Err("not running as root".into());
    }
    let unshare = find_tool("unshare").ok_or("no `unshare` in PATH")?;
    let works = Command::new(&unshare)
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return Err("`unshare -n true` does not work here".into());
    }
    Ok(unshare)
}

/// Namespaces work and every tool named is installed.
pub fn tools(names: &[&str]) -> Result<(), String> {
    namespaces()?;
    for name in names {
        find_tool(name).ok_or_else(|| format!("no `{name}` in PATH"))?;
    }
    Ok(())
}

/// Runs a shell script in a fresh network namespace (loopback down, no
/// rules, no sets) and returns what it printed. `$1`, `$2`, ... are `args`.
pub fn in_netns(script: &str, args: &[&Path]) -> Output {
    let unshare = namespaces().expect("in_netns needs namespaces; check `tools` first");
    Command::new(unshare)
        .args(["-n", "sh", "-c", script, "sh"])
        .args(args)
        .output()
        .expect("cannot run unshare")
}

/// Stderr of a run, trimmed lines joined with " | ", without the usage hint.
pub fn stderr_summary(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Try `"))
        .collect::<Vec<_>>()
        .join(" | ")
}
