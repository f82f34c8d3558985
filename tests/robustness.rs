//! No input makes iptlint panic: mutated real-looking dumps and random bytes
//! go through the whole check pipeline. (Coverage-guided fuzzing is a
//! separate, longer job; this keeps a seeded sample in every test run.)

use std::sync::Arc;

use iptlint::check::check_source;

mod support;
use support::Rng;

const SEED_DUMP: &str = include_str!("../examples/host-firewall.rules");
const KUBE_DUMP: &str = include_str!("../examples/kube-proxy.rules");

const PIECES: &[&str] = &[
    "!",
    "-j",
    "-g",
    "-m",
    "-p",
    "-s",
    "-d",
    "--dport",
    "\"",
    "'",
    "[0:0]",
    "*nat",
    ":X - [0:0]",
    "COMMIT",
    "-A",
    "-I",
    "-D",
    "-N",
    "-X",
    "-F",
    "-P",
    "-h",
    "tcp",
    "::1",
    "[",
    "]",
    "--to-destination",
    "1:",
    ":",
    "\\",
    "\t",
    "\r",
    "\0",
    "é",
    "-4",
    "-6",
    "--comment",
    "#",
    "RETURN",
    "X",
    "0x",
    "/",
    ",",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(words.len());
        match rng.below(5) {
            0 => {
                words.remove(at);
            }
            1 => {
                let w = words[at].clone();
                words.insert(at, w);
            }
            2 => words[at] = PIECES[rng.below(PIECES.len())].to_string(),
            3 => {
                let other = rng.below(words.len());
                words.swap(at, other);
            }
            _ => {
                let piece = PIECES[rng.below(PIECES.len())];
                words[at].push_str(piece);
            }
        }
        if words.is_empty() {
            words.push(String::new());
        }
    }
    words.join(" ")
}

#[test]
fn mutated_dumps_never_panic() {
    let mut rng = Rng(7);
    let mut errors = 0;
    for i in 0..800 {
        let base = if i % 2 == 0 { SEED_DUMP } else { KUBE_DUMP };
        let text = mutate(&mut rng, base);
        let report = check_source(format!("mutant-{i}"), Arc::from(text.as_str()), None);
        errors += report.findings.len();
        support::assert_positions_agree(&format!("mutant {i}"), &text, &report.findings);
        for f in &report.findings {
            assert!(
                f.span.start <= f.span.end && f.span.end as usize <= text.len(),
                "mutant {i}: span out of range"
            );
            assert!(
                text.is_char_boundary(f.span.start as usize)
                    && text.is_char_boundary(f.span.end as usize)
            );
        }
    }
    assert!(errors > 0, "mutations should break something");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(11);
    for _ in 0..300 {
        let len = rng.below(2000);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let report = check_source("random".into(), Arc::from(text.as_str()), None);
        support::assert_positions_agree("random", &text, &report.findings);
    }
}

#[test]
fn a_very_long_line_and_many_chains_are_handled() {
    let long = format!(
        "*filter\n-A INPUT -m comment --comment \"{}\" -j ACCEPT\nCOMMIT\n",
        "x".repeat(1_000_000)
    );
    let report = check_source("long".into(), Arc::from(long.as_str()), None);
    // iptables-restore refuses it: the word is longer than 1,023 bytes, and the line longer
    // than its 10,239-byte buffer (the rest is read as lines of their own).
    assert!(report.has_input_error());
    let unexpected: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.span.line != 2 || !["IPT001", "IPT006"].contains(&f.lint.code))
        .map(|f| (f.span.line, f.lint.code))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    // Spans in the later pieces of the line count the columns before them.
    support::assert_positions_agree("long", &long, &report.findings);
    let mut many = String::from("*filter\n");
    for i in 0..20_000 {
        many.push_str(&format!(":C{i} - [0:0]\n-A C{i} -j RETURN\n"));
    }
    many.push_str("COMMIT\n");
    let report = check_source("many".into(), Arc::from(many.as_str()), None);
    assert_eq!(report.chains, 20_003);
}

/// The input is data, never instructions: a dump that names programs, paths and hosts makes
/// iptlint run nothing, open nothing and write nothing but its report.
#[test]
fn a_dump_names_things_iptlint_never_touches() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    let c = canary.display();
    let dump = format!(
        "*filter\n\
         # $(touch {c}-1) `touch {c}-2`\n\
         -A INPUT -s evil.example.invalid -m comment --comment \"$(touch {c}-3); touch {c}-4\" -j ACCEPT\n\
         -A INPUT -m set --match-set {c}-5 src -j LOG --log-prefix \"{c}-6\"\n\
         -A INPUT -j {c}-7\n\
         -A INPUT -m comment --comment \"iptlint: ignore-file[{c}-8]\" -j DROP\n\
         COMMIT\n"
    );
    let input = dir.path().join("dump.rules");
    std::fs::write(&input, &dump).unwrap();
    let before = listing(dir.path());
    for format in ["human", "json", "sarif", "compact", "github"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iptlint"))
            .args(["check", "--no-config", "--format", format])
            .arg(&input)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{format}"); // the unknown lint in ignore-file
    }
    // The other commands read the same dump: none of them runs, resolves or writes anything
    // it was not told to on the command line.
    let dump_arg = input.display().to_string();
    for args in [
        vec!["translate", dump_arg.as_str()],
        vec!["optimize", dump_arg.as_str()],
        vec!["diff", dump_arg.as_str(), dump_arg.as_str()],
        vec!["trace", dump_arg.as_str(), "--proto", "tcp"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iptlint"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.code().is_some(), "{args:?} was killed");
    }
    assert_eq!(
        listing(dir.path()),
        before,
        "iptlint created or removed files"
    );
    // And by construction: the library and the binary have no way to run a program, resolve
    // a name or write a file. A change that adds one must say why here:
    // - `translate` and `optimize` write the files their `-o`, `--ipsets` and `--report-file`
    //   options name on the command line (never a path from the dump), with `fs::write`.
    const WRITES_WHERE_TOLD: &[&str] = &["commands/optimize.rs", "commands/translate.rs"];
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let writes = WRITES_WHERE_TOLD.iter().any(|f| path.ends_with(f));
                for api in [
                    "Command::new",
                    "process::Command",
                    "to_socket_addrs",
                    "File::create",
                    "fs::write",
                    "OpenOptions",
                    "TcpStream",
                    "UdpSocket",
                ] {
                    if writes && api == "fs::write" {
                        continue;
                    }
                    assert!(!text.contains(api), "{} uses {api}", path.display());
                }
            }
        }
    }
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
