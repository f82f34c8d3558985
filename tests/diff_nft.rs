//! `iptlint diff` across formats: an iptables dump against its nft
//! translation, read back by iptlint's nft reader.
//!
//! * Generated dumps (kube-proxy style and flat ones) and their translations
//!   are equivalent; with `--numgen`, every difference is a "may differ"
//!   that rests on a `numgen` draw (the reader keeps `numgen` unknown).
//! * Every corpus dump `iptables-restore --test` accepts, against its
//!   translation: equivalent when translate translated every rule; when it
//!   left rules out (as `# iptlint: not translated` comments), no *certain*
//!   difference: the rules left out are the ones iptlint cannot model. A
//!   dump that jumps to chains it never declares (iptables-restore refuses
//!   to load it, though `--test` passes) gives a translation nft refuses
//!   too: the reader refuses it at the jump.
//! * Hand-mutated translations (a port, a verdict, a removed map element)
//!   differ, and the report names the mutated line of the nft file.
//! * Kernel: the mutated nft files load with `nft -c -f` in a private netns,
//!   so the diff compares rule sets the kernel takes.

mod support;
use support::gen_dump;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn iptlint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iptlint"))
}

/// `iptlint translate` of a file: the script and the exit code.
fn translate(dump: &Path, extra: &[&str]) -> (String, i32) {
    let out = iptlint()
        .arg("translate")
        .args(extra)
        .arg(dump)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "translate {} failed: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout).unwrap(), code)
}

/// `iptlint diff --format json A B`, with at most 6 GB of address space
/// (see `corpus_dumps_against_their_translations`).
fn diff(a: &Path, b: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 6000000; exec \"$0\" diff \"$@\"")
        .arg(env!("CARGO_BIN_EXE_iptlint"))
        .args(extra)
        .arg(a)
        .arg(b);
    cmd.output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn assert_equivalent(a: &Path, b: &Path) {
    let out = diff(a, b, &["--format", "json"]);
    let doc = json(&out);
    assert_eq!(
        doc["equivalent"],
        true,
        "{} vs {}: {} differences, the first: {}",
        a.display(),
        b.display(),
        doc["difference_count"],
        doc["differences"][0]
    );
    assert_eq!(out.status.code(), Some(0));
}

/// The kernel takes the file (`nft -c -f` in a private netns), when
/// namespaces and nft are there.
fn nft_loads(file: &Path) {
    if let Err(why) = support::kernel::tools(&["nft"]) {
        eprintln!("skipped the kernel check of {}: {why}", file.display());
        return;
    }
    let out = support::kernel::in_netns("nft -c -f \"$1\"", &[file]);
    assert!(
        out.status.success(),
        "nft -c -f {}: {}",
        file.display(),
        support::kernel::stderr_summary(&out)
    );
}

#[test]
fn generated_dumps_are_equivalent_to_their_translations() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["kube", "--services", "30", "--endpoints", "3"][..],
        &[
            "kube",
            "--services",
            "12",
            "--endpoints",
            "1",
            "--seed",
            "4",
        ],
        &["flat", "--rules", "200"],
        &["flat", "--rules", "300", "--seed", "5"],
    ] {
        let dump = write(dir.path(), "g.rules", &gen_dump(args));
        let (nft, code) = translate(&dump, &[]);
        assert_eq!(code, 0, "{args:?}: translate left rules out");
        let nft = write(dir.path(), "g.nft", &nft);
        nft_loads(&nft);
        assert_equivalent(&dump, &nft);
        // Either way round, and the nft file against itself.
        assert_equivalent(&nft, &dump);
        assert_equivalent(&nft, &nft);
    }
}

#[test]
fn numgen_draws_stay_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write(
        dir.path(),
        "k.rules",
        &gen_dump(&["kube", "--services", "6", "--endpoints", "3"]),
    );
    let (nft, _) = translate(&dump, &["--numgen"]);
    assert!(nft.contains("numgen random mod 3 vmap"), "{nft}");
    let nft = write(dir.path(), "k.nft", &nft);
    nft_loads(&nft);
    let out = diff(&dump, &nft, &["--format", "json", "--limit", "100000"]);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["certain_count"], 0, "a numgen draw is never certain");
    for d in doc["differences"].as_array().unwrap() {
        let on_numgen = d["b"]["assumptions"].as_array().unwrap().iter().any(|a| {
            a["condition"]
                .as_str()
                .unwrap()
                .contains("numgen random mod 3")
        });
        assert!(on_numgen, "a difference not due to numgen: {d}");
    }
    assert_equivalent(&nft, &nft);
}

/// Chains a dump jumps to without declaring them.
fn undeclared_jumps(text: &str) -> bool {
    let parsed = iptlint::syntax::parse(text, None);
    parsed.ruleset.tables.iter().any(|t| {
        t.chains.iter().flat_map(|c| &c.rules).any(|r| {
            r.jump_chain()
                .is_some_and(|(name, _)| t.chain(name).is_none_or(|c| !c.declared))
        })
    })
}

#[test]
fn corpus_dumps_against_their_translations() {
    let Some(corpus) = support::corpus::dir() else {
        eprintln!("skipped: no corpus at ../shared/corpus");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut equivalent, mut partial, mut refused, mut too_complex, mut no_memory) =
        (0, 0, 0, Vec::new(), Vec::new());
    for dump in support::corpus::accepted_dumps(&corpus) {
        let text = std::fs::read_to_string(&dump).unwrap();
        let (nft, code) = translate(&dump, &[]);
        let nft_path = write(dir.path(), "t.nft", &nft);
        let out = diff(&dump, &nft_path, &["--format", "json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = dump.strip_prefix(&corpus).unwrap().display().to_string();
        if undeclared_jumps(&text) {
            // The kernel refuses such a dump (check says so); translate
            // keeps the jumps to missing chains as comments, and nft loads
            // the rest. What diff says of a dump that never loads is moot.
            assert_eq!(code, 1, "{name}");
            assert!(
                nft.contains("which the table does not have (the kernel refuses the dump)"),
                "{name}"
            );
            refused += 1;
            continue;
        }
        if stderr.contains("gave up") {
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            too_complex.push(name);
            continue;
        }
        let Some(status) = out.status.code() else {
            // Killed at the address-space cap: --max-pieces must prevent
            // that (sqrl_shorewall_2014 once took 22 GB in compare).
            no_memory.push(name);
            continue;
        };
        let doc = json(&out);
        if code == 0 {
            assert_eq!(doc["equivalent"], true, "{name}: {}", doc["differences"][0]);
            assert_eq!(status, 0);
            equivalent += 1;
        } else {
            assert!(nft.contains("# iptlint: not translated"));
            assert_eq!(doc["certain_count"], 0, "{name}: {}", doc["differences"][0]);
            partial += 1;
        }
    }
    eprintln!(
        "corpus: {equivalent} equivalent to their translation, {partial} partly translated with only \"may differ\", {refused} that jump to chains they never declare (the kernel refuses them); too complex for diff: {too_complex:?}; out of memory: {no_memory:?}"
    );
    assert!(equivalent > 0);
    assert!(no_memory.is_empty(), "diff outgrew 6 GB: {no_memory:?}");
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}`"))
        + 1
}

/// A mutated translation differs (`certain`: for sure, not only behind an
/// unknown condition), and the human report points at `line` of the nft file.
fn assert_differs_at(dump: &Path, nft: &Path, line: usize, certain: bool) {
    let out = diff(dump, nft, &["--format", "json", "--limit", "1000"]);
    let doc = json(&out);
    let counts = (&doc["difference_count"], &doc["certain_count"]);
    assert_eq!(out.status.code(), Some(1), "{counts:?}");
    if certain {
        assert!(doc["certain_count"].as_u64().unwrap() > 0, "{counts:?}");
    }
    let human = diff(dump, nft, &["--limit", "1000"]);
    let text = String::from_utf8_lossy(&human.stdout);
    let at = format!("{}:{line}", nft.display());
    assert!(text.contains(&at), "no `{at}` in:\n{text}");
}

fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "no `{from}`");
    text.replacen(from, to, 1)
}

#[test]
fn mutated_translations_differ_at_the_mutated_line() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let kube = examples.join("kube-proxy.rules");
    let (kube_nft, _) = translate(&kube, &[]);
    let mut files = Vec::new();

    // A changed port in a verdict map element. The service's endpoint is
    // drawn at random (`meta random` in B, `-m statistic` in A), and A
    // draws where B does not: the difference is "may differ".
    // The report names the rules that rewrote the packets differently (the
    // endpoints' DNAT), not the map: check the packets instead.
    let element = "10.96.0.10 . tcp . 53 ";
    let m = mutate(&kube_nft, element, "10.96.0.10 . tcp . 54 ");
    let p = write(dir.path(), "port.nft", &m);
    let out = diff(&kube, &p, &["--limit", "1000"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("dst 10.96.0.10 proto tcp dport 54"), "{text}");
    assert!(text.contains("dst 10.96.0.10 proto tcp dport 53"), "{text}");
    files.push(p);

    // A map element's verdict changed: B decides at that element's line.
    // (A's fate rests on a random draw, so the engine says "may differ".)
    let m = mutate(&kube_nft, ": jump KUBE-SVC-ERIFXISQEP7F7OF4", ": drop");
    let p = write(dir.path(), "element-verdict.nft", &m);
    assert_differs_at(&kube, &p, line_of(&m, ": drop"), false);
    files.push(p);

    // A small dump without unknown conditions: its mutations differ for sure.
    let small = write(
        dir.path(),
        "small.rules",
        "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:WEB - [0:0]\n\
         -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A INPUT -i lo -j ACCEPT\n\
         -A INPUT -p tcp -m multiport --dports 80,443 -j WEB\n\
         -A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A WEB -s 192.0.2.0/24 -j DROP\n\
         -A WEB -j ACCEPT\nCOMMIT\n",
    );
    let (small_nft, code) = translate(&small, &[]);
    assert_eq!(code, 0);
    let p = write(dir.path(), "small.nft", &small_nft);
    assert_equivalent(&small, &p);
    // `trace` reads nft too, and names its lines.
    let out = iptlint()
        .args(["trace", "--proto", "tcp", "--dport", "443", "--in", "eth0"])
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let web = format!("{}:{}", p.display(), line_of(&small_nft, "\t\taccept"));
    assert!(text.contains(&format!("ACCEPT by {web}")), "{text}");

    files.push(p);

    // A changed port in a set.
    let m = mutate(
        &small_nft,
        "tcp dport { 80, 443 } jump WEB",
        "tcp dport { 80, 8443 } jump WEB",
    );
    let p = write(dir.path(), "set.nft", &m);
    // Port 8443 now reaches WEB, port 443 the policy: the report names both.
    assert_differs_at(&small, &p, line_of(&m, "policy drop"), true);
    files.push(p);

    // accept swapped for drop.
    let m = mutate(&small_nft, "iifname \"lo\" accept", "iifname \"lo\" drop");
    let p = write(dir.path(), "verdict.nft", &m);
    assert_differs_at(&small, &p, line_of(&m, "iifname \"lo\" drop"), true);
    files.push(p);

    // A verdict map element's verdict, with one endpoint per service (no
    // random draw): B decides at that element's line.
    let one = write(
        dir.path(),
        "one.rules",
        &gen_dump(&["kube", "--services", "5", "--endpoints", "1"]),
    );
    let (one_nft, _) = translate(&one, &[]);
    let first = one_nft.find(" : jump KUBE-SVC-").expect("a vmap");
    let chain: String = one_nft[first + 8..]
        .chars()
        .take_while(|c| !matches!(c, ',' | ' '))
        .collect();
    let m = mutate(&one_nft, &format!(" : jump {chain}"), " : drop");
    let p = write(dir.path(), "one-element.nft", &m);
    assert_differs_at(&one, &p, line_of(&m, " : drop"), true);
    files.push(p);

    // A verdict map element removed: its packets now take a later rule of
    // the chain (the `fib daddr type local` one on the next line).
    let gone = "10.96.120.34 . tcp . 80 comment \"default/nginx:http cluster IP\" : jump KUBE-SVC-P4Q3KNUAWJVP4ILH, ";
    let m = mutate(&kube_nft, gone, "");
    let p = write(dir.path(), "element.nft", &m);
    let out = diff(&kube, &p, &["--limit", "1000"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("dst 10.96.120.34"), "{text}");
    // A still sends them to an endpoint (its DNAT line is named), B not.
    assert!(text.contains("--to-destination 10.244.1.5:8080"), "{text}");
    assert!(text.contains("B: no rule rewrites these fields"), "{text}");
    files.push(p);

    // The unmutated translations are equivalent, so the mutation is what differs.
    let p = write(dir.path(), "kube.nft", &kube_nft);
    assert_equivalent(&kube, &p);
    files.push(p);

    // The kernel takes every file compared here.
    for f in &files {
        nft_loads(f);
    }
}

#[test]
fn refusals_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write(
        dir.path(),
        "a.rules",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    for (name, text, line, col, needle) in [
        (
            "prio.nft",
            "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 10; policy accept;\n\t}\n}\n",
            3,
            3,
            "priority 10",
        ),
        (
            "stmt.nft",
            "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 0;\n\t\ttcp dport 22 synproxy mss 1460\n\t}\n}\n",
            4,
            16,
            "synproxy",
        ),
        (
            "overlap.nft",
            "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 0;\n\t\tip saddr { 10.0.0.0/8, 10.1.0.0/16 } jump C\n\t}\n\tchain C {\n\t}\n}\n",
            4,
            3,
            "overlap",
        ),
    ] {
        let p = write(dir.path(), name, text);
        let out = diff(&dump, &p, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        let at = format!("{}:{line}:{col}:", p.display());
        assert!(stderr.contains(&at), "{name}: no `{at}` in {stderr}");
        assert!(stderr.contains(needle), "{name}: no `{needle}` in {stderr}");
    }
}
