//! The benchmark dump generator (`examples/gen-dump.rs`) must be
//! deterministic and must produce dumps that the real `iptables-restore`
//! accepts. Loading happens in a private network namespace (`unshare -n`),
//! so the host's firewall is never touched; the loading part is skipped
//! (with a message) when not root or when `unshare`/`iptables-restore` are
//! unavailable.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn gen_dump(args: &[&str]) -> Vec<u8> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .arg("run")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--example", "gen-dump", "--"])
        .args(args)
        .output()
        .expect("failed to spawn cargo");
    assert!(
        out.status.success(),
        "gen-dump {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "gen-dump {args:?} wrote nothing");
    out.stdout
}

/// Why the real-kernel part cannot run here, if it cannot.
fn kernel_skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .map(str::to_owned);
    if euid.as_deref() != Some("0") {
        return Some("not running as root".into());
    }
    match Command::new("iptables-restore")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => return Some(format!("iptables-restore --version exited with {s}")),
        Err(e) => return Some(format!("iptables-restore not runnable: {e}")),
    }
    match Command::new("unshare")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("`unshare -n true` exited with {s}")),
        Err(e) => Some(format!("unshare not runnable: {e}")),
    }
}

fn iptables_version() -> String {
    Command::new("iptables-restore")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs `sh -c script` in a fresh network namespace with `dump` on stdin.
fn in_netns(script: &str, dump: &[u8]) -> std::process::Output {
    let mut child = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    let mut stdin = child.stdin.take().unwrap();
    let data = dump.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for unshare");
    writer.join().unwrap();
    out
}

fn strip_comments(b: &[u8]) -> Vec<&str> {
    std::str::from_utf8(b)
        .expect("utf-8 dump")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn check_loads(name: &str, dump: &[u8]) {
    if let Some(why) = kernel_skip_reason() {
        eprintln!("SKIP loading {name} with iptables-restore: {why}");
        return;
    }
    // Really commit it (in the private namespace), then read it back.
    let out = in_netns("iptables-restore && iptables-save", dump);
    assert!(
        out.status.success(),
        "iptables-restore rejected the {name} dump ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The generator aims to print exactly what iptables-save v1.8.x
    // (nf_tables) prints; other versions/backends may format differently.
    let version = iptables_version();
    if version.contains("v1.8.") && version.contains("nf_tables") {
        let want = strip_comments(dump);
        let got = strip_comments(&out.stdout);
        if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
            panic!(
                "{name}: iptables-save output differs from the generated dump at line {i}:\n  generated: {:?}\n  saved:     {:?}",
                want.get(i),
                got.get(i)
            );
        }
    } else {
        eprintln!("note: not comparing iptables-save output for {name} ({version})");
    }
}

fn check_deterministic(args: &[&str]) -> Vec<u8> {
    let a = gen_dump(args);
    let b = gen_dump(args);
    assert!(a == b, "gen-dump {args:?} is not deterministic");
    let mut explicit = args.to_vec();
    explicit.extend(["--seed", "1"]);
    assert!(
        a == gen_dump(&explicit),
        "default seed is not 1 for {args:?}"
    );
    let mut other = args.to_vec();
    other.extend(["--seed", "2"]);
    assert!(
        a != gen_dump(&other),
        "--seed 2 gives the same dump as seed 1 for {args:?}"
    );
    a
}

#[test]
fn kube_dump_is_deterministic_and_loads() {
    let args = ["kube", "--services", "20", "--endpoints", "3"];
    let dump = check_deterministic(&args);
    let text = String::from_utf8(dump.clone()).unwrap();
    for needle in [
        "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-",
        ":KUBE-SVC-NPX46M4PTMTKRN6Y - [0:0]",
    ] {
        assert!(text.contains(needle), "kube dump lacks {needle:?}");
    }
    check_loads("kube 20x3", &dump);

    // Big enough (>1000 endpoints) for kube-proxy's large-cluster mode,
    // where KUBE-SVC-*/KUBE-SEP-* rules carry no comments.
    let large = gen_dump(&["kube", "--services", "400", "--endpoints", "3"]);
    let text = String::from_utf8(large.clone()).unwrap();
    assert!(
        !text.contains(" -> 10.244."),
        "large-cluster mode should drop endpoint comments"
    );
    check_loads("kube 400x3", &large);
}

#[test]
fn flat_dump_is_deterministic_and_loads() {
    let args = ["flat", "--rules", "200"];
    let dump = check_deterministic(&args);
    let text = String::from_utf8(dump.clone()).unwrap();
    let n = text
        .lines()
        .filter(|l| l.starts_with("-A INPUT -s ") && l.contains("/32 -p tcp -m tcp --dport "))
        .count();
    assert_eq!(n, 200, "flat dump should have 200 per-address INPUT rules");
    check_loads("flat 200", &dump);
}
