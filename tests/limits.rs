//! Limits instead of crashes: every hostile input ends in a correct result or a clear error
//! (status 2), in bounded time and memory. The inputs are made here, small enough for a debug
//! build; each test checks that the mechanism that bounds the real-sized case kicks in (the
//! line split, the input size limit), not that a real gigabyte goes through.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iptlint::check::{self, DEFAULT_MAX_INPUT_BYTES, check_source};
use iptlint::syntax::{MAX_LINE_BYTES, MAX_WORD_BYTES, MAX_WORDS};

fn iptlint(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iptlint"));
    cmd.args(args);
    cmd
}

fn run_on(text: &[u8], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.rules");
    std::fs::write(&file, text).unwrap();
    let mut cmd = iptlint(args);
    cmd.arg(&file);
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn error_messages(out: &Output) -> Vec<String> {
    json(out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Input size: endless streams, devices, huge files
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_input_limit_is_256_mib() {
    assert_eq!(DEFAULT_MAX_INPUT_BYTES, 256 << 20);
    assert_eq!(check::parse_size("256M"), Ok(DEFAULT_MAX_INPUT_BYTES));
    assert_eq!(check::parse_size("1k"), Ok(1024));
    assert_eq!(check::parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(check::parse_size("4096"), Ok(4096));
    for bad in ["", "M", "1T", "-1", "5G", "0", "1.5G"] {
        assert!(check::parse_size(bad).is_err(), "{bad:?} was accepted");
    }
    let out = iptlint(&["check", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[default: 256M]"));
}

#[test]
fn an_endless_stdin_stops_with_a_clear_error() {
    let mut child = iptlint(&["check", "--max-input-size", "1M", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // An endless writer: it stops when iptlint closes the pipe (or after far more than the
    // limit, so that a broken limit fails the test instead of hanging it).
    let writer = std::thread::spawn(move || {
        let chunk = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n".repeat(1000);
        let mut written = 0usize;
        while written < 64 << 20 {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                return written;
            }
            written += chunk.len();
        }
        written
    });
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("<stdin>: more than 1 MiB of input; iptlint stopped reading"),
        "{}",
        stderr(&out)
    );
    assert!(written < 64 << 20, "iptlint read all {written} bytes");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_device_that_never_ends_is_cut_off() {
    if !Path::new("/dev/zero").exists() {
        println!("skipping: no /dev/zero");
        return;
    }
    let out = iptlint(&["check", "--max-input-size", "1M", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/dev/zero: more than 1 MiB of input"));
    let out = iptlint(&["graph", "--max-input-size", "1M", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let text = "# padding\n".repeat(300 * 1024);
    let out = run_on(text.as_bytes(), &["check", "--max-input-size", "2M"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("more than 2 MiB of input"),
        "{}",
        stderr(&out)
    );
    // The same file under the limit is fine.
    let out = run_on(text.as_bytes(), &["check", "--max-input-size", "4M"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------------
// Huge lines and words: iptables-restore's own buffers bound them
// ---------------------------------------------------------------------------------------------

#[test]
fn a_huge_single_line_is_read_in_pieces_like_iptables_restore_does() {
    // 1.5 MB in one line without a newline (a gigabyte one is refused by the input limit):
    // iptables-restore reads it 10,239 bytes at a time, each piece a line of its own. iptlint
    // does the same, so the work per piece is bounded and the time is linear.
    let words = "-s 10.0.0.1 ".repeat(128 << 10);
    let text = format!("*filter\n-A INPUT {words}");
    let report = check_source("huge-line".into(), Arc::from(text.as_str()), None);
    assert!(report.has_input_error());
    assert!(
        report.findings.iter().any(|f| f
            .message
            .contains("reads at most 10239 bytes of a line at a time")),
        "{:?}",
        report.findings.first()
    );
    // Every piece is a line of its own: 1.5 MB in pieces of 10,239 bytes.
    let pieces = report
        .findings
        .iter()
        .filter(|f| f.message.contains("reads at most 10239 bytes"))
        .map(|f| f.span.column)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(pieces.len() > 100, "{} pieces reported", pieces.len());
}

#[test]
fn the_line_length_limit_is_exact() {
    // A comment line of exactly MAX_LINE_BYTES bytes loads; one byte more and the last byte
    // is read as a line of its own (the kernel says "Bad argument `x'").
    let line = |n: usize| format!("#{}", "x".repeat(n - 1));
    let dump = |comment: String| format!("*filter\n{comment}\n-A INPUT -j ACCEPT\nCOMMIT\n");
    let ok = check_source("ok".into(), Arc::from(dump(line(MAX_LINE_BYTES))), None);
    assert!(!ok.has_input_error(), "{:?}", ok.findings);
    let split = check_source(
        "split".into(),
        Arc::from(dump(line(MAX_LINE_BYTES + 1))),
        None,
    );
    assert!(split.has_input_error());
    let f = split
        .findings
        .iter()
        .find(|f| f.lint.code == "IPT001")
        .unwrap();
    assert_eq!((f.span.line, f.span.column), (2, MAX_LINE_BYTES as u32 + 1));
    // A piece that is itself a comment is fine, as it is for the kernel.
    let comment_rest = format!("#{}# and more", "x".repeat(MAX_LINE_BYTES - 1));
    let ok = check_source("rest".into(), Arc::from(dump(comment_rest)), None);
    assert!(!ok.has_input_error(), "{:?}", ok.findings);
}

#[test]
fn the_word_length_and_word_count_limits_are_exact() {
    let comment = |n: usize| {
        format!(
            "*filter\n-A INPUT -m comment --comment \"{}\" -j ACCEPT\nCOMMIT\n",
            "y".repeat(n)
        )
    };
    let ok = check_source("w".into(), Arc::from(comment(MAX_WORD_BYTES)), None);
    assert!(!ok.has_input_error(), "{:?}", ok.findings);
    let long = check_source("w".into(), Arc::from(comment(MAX_WORD_BYTES + 1)), None);
    assert!(
        long.findings
            .iter()
            .any(|f| f.message.contains("Parameter too long")),
        "{:?}",
        long.findings
    );
    // -A INPUT, then groups of four words, then -j ACCEPT.
    let words = |groups: usize, tail: &str| {
        format!(
            "*filter\n-A INPUT {}{tail} -j ACCEPT\nCOMMIT\n",
            "-m comment --comment a ".repeat(groups)
        )
    };
    // 4 + 4 * 61 + 3 = 251 words.
    let ok = check_source("n".into(), Arc::from(words(61, " -p tcp -f")), None);
    assert!(!ok.has_input_error(), "{:?}", ok.findings);
    let many = check_source("n".into(), Arc::from(words(62, "")), None);
    assert!(
        many.findings
            .iter()
            .any(|f| f.message.contains(&format!("at most {MAX_WORDS}"))),
        "{:?}",
        many.findings
    );
}

// ---------------------------------------------------------------------------------------------
// Many chains, deep chains
// ---------------------------------------------------------------------------------------------

#[test]
fn many_chains_are_counted_not_feared() {
    // A million chains is 40 MB, which a release build checks like the benchmark's dumps
    // (linear time); here 20,000 for debug builds, each jumped to from INPUT.
    let n = 20_000;
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..n {
        text.push_str(&format!(":C{i} - [0:0]\n"));
    }
    for i in 0..n {
        text.push_str(&format!(
            "-A INPUT -s 10.{}.{}.0/24 -j C{i}\n",
            i / 256 % 256,
            i % 256
        ));
        text.push_str(&format!("-A C{i} -j ACCEPT\n"));
    }
    text.push_str("COMMIT\n");
    let start = Instant::now();
    let out = run_on(text.as_bytes(), &["check", "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["files"][0]["chains"], n + 3, "{}", stderr(&out));
    assert!(error_messages(&out).is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_hundred_thousand_deep_jump_chain_through_the_whole_cli() {
    // The graph walks are iterative (tests/graph_lints.rs checks the library); this runs the
    // binary, where checking happens on a worker thread with a small stack, and the output
    // formats, which print the related locations of the finding.
    let deep = |depth: usize| {
        let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 1..=depth {
            text.push_str(&format!(":C{i} - [0:0]\n"));
        }
        text.push_str("-A INPUT -j C1\n");
        for i in 1..depth {
            text.push_str(&format!("-A C{i} -p tcp -j C{}\n", i + 1));
        }
        text.push_str(&format!("-A C{depth} -j ACCEPT\nCOMMIT\n"));
        text
    };
    let out = run_on(deep(100_000).as_bytes(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_messages(&out).len(), 1);
    // The other formats and the graph on a shorter one (debug builds parse slowly).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.rules");
    std::fs::write(&file, deep(10_000)).unwrap();
    for format in ["sarif", "human", "compact", "github"] {
        let out = iptlint(&["check", "--format", format])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("IPT106"));
    }
    let out = iptlint(&["graph", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Bytes that are not text
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_in_comments_is_read_like_iptables_does() {
    // iptables does not care about the encoding of comments; neither does iptlint.
    let mut text =
        b"*filter\n# caf\xe9 \xff\xfe\n-A INPUT -m comment --comment \"\xc3\x28 x\" -j ACCEPT\n"
            .to_vec();
    text.extend_from_slice(b"COMMIT\n");
    let out = run_on(&text, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["files"][0]["rules"], 1);
    let out = run_on(&text, &["check", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_nul_byte_is_a_clear_error() {
    let text = b"*filter\n-A INPUT -s 10.0.0.1\0 -j ACCEPT\nCOMMIT\n";
    let out = run_on(text, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let errors = error_messages(&out);
    assert!(
        errors.iter().any(|m| m.contains("control character '\\0'")),
        "{errors:?}"
    );
}

#[test]
fn binary_garbage_is_a_clear_error_not_a_crash() {
    // 1 MiB of seeded noise, and a few well-known binary headers.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let elf = [b"\x7fELF\x02\x01\x01\0".as_slice(), &[0u8; 64]].concat();
    let gzip = b"\x1f\x8b\x08\0\0\0\0\0\0\x03".to_vec();
    for (name, bytes) in [("noise", noise), ("elf", elf), ("gzip", gzip)] {
        let start = Instant::now();
        let out = run_on(&bytes, &["check", "--format", "json"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(!error_messages(&out).is_empty(), "{name}");
        assert!(start.elapsed() < Duration::from_secs(60), "{name}");
    }
}
