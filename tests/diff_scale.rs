//! `iptlint diff` on generated kube-proxy dumps: the walk stays within its
//! budget of pieces (`--max-pieces`), a dump that needs more ends with a
//! clear error and exit 2, and the merged regions still find a one-rule
//! change.

use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;

fn gen_kube(services: &str) -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Std::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--example", "gen-dump", "--", "kube", "--services"])
        .arg(services)
        .args(["--endpoints", "3"])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the dump is text")
}

fn iptlint() -> Command {
    Command::cargo_bin("iptlint").expect("the binary is built")
}

#[test]
fn a_small_budget_gives_up_with_exit_2_and_the_default_decides() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("kube.rules");
    std::fs::write(&dump, gen_kube("150")).unwrap();

    let out = iptlint()
        .arg("diff")
        .arg(&dump)
        .arg(&dump)
        .args(["--max-pieces", "3000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "no verdict after giving up");
    assert!(err.starts_with("iptlint diff: gave up after "), "{err}");
    assert!(err.contains("on the input path of"), "{err}");
    assert!(
        err.contains("budget of 3000 pieces (--max-pieces)"),
        "{err}"
    );

    // The same dump with the default budget: decided, equivalent.
    let out = iptlint()
        .arg("diff")
        .arg(&dump)
        .arg(&dump)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("are equivalent"), "{text}");
}

#[test]
fn one_changed_nodeport_is_found_among_hundreds_of_services() {
    let a = gen_kube("300");
    // Move one NodePort: packets to the old port now miss every rule, and
    // those to the new one are sent to the service.
    let old = a
        .lines()
        .find(|l| l.starts_with("-A KUBE-NODEPORTS -p tcp") && l.contains("--dport 3"))
        .expect("the dump has a NodePort");
    let port: u16 = old
        .split("--dport ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let new_port = 29_999u16;
    let changed = old.replace(&format!("--dport {port} "), &format!("--dport {new_port} "));
    let b: String = a
        .lines()
        .map(|l| if l == old { changed.as_str() } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.rules"), dir.path().join("b.rules"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, &b).unwrap();
    let out = iptlint()
        .arg("diff")
        .arg(&pa)
        .arg(&pb)
        .args(["--path", "input", "--format", "json", "--limit", "1000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diffs = doc["differences"].as_array().unwrap();
    assert!(!diffs.is_empty());
    let mut ports = Vec::new();
    for d in diffs {
        let w = d["witness"].as_str().unwrap();
        let p: u16 = w
            .split("dport ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("witness names a port: {w}"));
        assert!(p == port || p == new_port, "{w}");
        ports.push(p);
        // At the new port B sends the packet to an endpoint (DNAT), A does
        // not; at the old port the other way round.
        let dnat = |side: &str| {
            d[side]["rewrites"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("dst = "))
        };
        if p == new_port {
            assert!(dnat("b") && !dnat("a"), "{d}");
        } else {
            assert!(dnat("a") && !dnat("b"), "{d}");
        }
    }
    assert!(
        ports.contains(&port) && ports.contains(&new_port),
        "{ports:?}"
    );
}
