//! `iptlint translate` judged by the kernel (root, `unshare -n`, `nft`;
//! every test skips with a message otherwise).
//!
//! * `corpus_translations_load`: every corpus dump whose original really
//!   loads (MANIFEST.tsv) is translated, with and without merging, and the
//!   script loads with `nft -f` in a private namespace, twice (the script
//!   owns its tables). The counts are asserted.
//! * `txlate_agreement`: every `iptables-translate` case of the installed
//!   version's `*.txlate` files is wrapped in a minimal dump and translated;
//!   both translations are loaded into the same chain and listed by `nft`,
//!   which normalizes both. The agreement rate is printed and has a floor.
//! * `ipset_rules_load_with_their_sets`: `-m set` with `--ipsets`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::kernel;

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    p.join("MANIFEST.tsv").is_file().then_some(p)
}

fn iptlint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iptlint"))
}

fn skip(why: &str) -> bool {
    eprintln!("skipping: {why}");
    true
}

fn no_kernel() -> bool {
    match kernel::tools(&["nft"]) {
        Ok(()) => false,
        Err(why) => skip(&why),
    }
}

/// Translates `dump` into `out`; returns the exit status.
fn translate(dump: &Path, out: &Path, extra: &[&str]) -> i32 {
    let st = iptlint()
        .arg("translate")
        .arg(dump)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("run iptlint");
    st.status.code().unwrap_or(-1)
}

#[test]
fn corpus_translations_load() {
    let Some(corpus) = corpus() else {
        skip("no ../shared/corpus");
        return;
    };
    if no_kernel() {
        return;
    }
    let manifest = fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let loading: Vec<&str> = manifest
        .lines()
        .filter(|l| l.starts_with("dumps/") && l.contains("real apply nft backend: OK"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(!loading.is_empty(), "MANIFEST names no loading dump");
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = 0;
    let mut with_sets = 0;
    let mut exact = 0;
    let mut failures = Vec::new();
    for rel in &loading {
        let dump = corpus.join(rel);
        let text = fs::read_to_string(&dump).unwrap();
        if text.contains("-m set") {
            with_sets += 1;
        }
        for (mode, extra) in [("merged", &[][..]), ("rule by rule", &["--no-merge"][..])] {
            let out = dir.path().join("out.nft");
            let status = translate(&dump, &out, extra);
            assert!(status == 0 || status == 1, "{rel}: exit {status}");
            if status == 0 && mode == "merged" {
                exact += 1;
            }
            let run = kernel::in_netns("nft -f \"$1\" && nft -f \"$1\"", &[&out]);
            if run.status.success() {
                if mode == "merged" {
                    loaded += 1;
                }
            } else {
                failures.push(format!("{rel} ({mode}): {}", kernel::stderr_summary(&run)));
            }
        }
    }
    eprintln!(
        "translate: {loaded} of {} loading dumps load after translation ({exact} translated in full, {with_sets} use -m set)",
        loading.len()
    );
    assert!(
        failures.is_empty(),
        "translations nft refuses:\n{}",
        failures.join("\n")
    );
    assert_eq!(loaded, loading.len());
}

/// One `*-translate` case: the command's words and the expected nft commands.
struct Case {
    file: String,
    v6: bool,
    args: Vec<String>,
    expected: Vec<String>,
}

/// Splits a command line the way a shell would for these files: words,
/// with '...' and "..." quoting.
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn txlate_cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txlate"))
        .collect();
    files.sort();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let mut current: Option<Case> = None;
        for line in text.lines() {
            let words = shell_words(line);
            match words.first().map(String::as_str) {
                Some("iptables-translate" | "ip6tables-translate" | "iptables" | "ip6tables") => {
                    cases.extend(current.take());
                    current = Some(Case {
                        file: name.clone(),
                        v6: words[0].starts_with("ip6"),
                        args: words[1..].to_vec(),
                        expected: Vec::new(),
                    });
                }
                Some("nft") => {
                    if let Some(c) = current.as_mut() {
                        c.expected.push(words[1..].join(" "));
                    }
                }
                Some(w) if w.ends_with("-translate") => cases.extend(current.take()),
                _ => {}
            }
        }
        cases.extend(current);
    }
    cases.retain(|c| !c.expected.is_empty());
    cases
}

/// The case as a one-rule dump: table, chain, the rule as `-A`.
fn case_dump(c: &Case) -> Option<(String, String, String)> {
    let mut table = "filter".to_string();
    let mut chain = None;
    let mut spec = Vec::new();
    let mut it = c.args.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-t" => table = it.next()?.clone(),
            "-A" | "-I" => chain = Some(it.next()?.clone()),
            _ => spec.push(if w.is_empty() || w.contains(char::is_whitespace) {
                format!("\"{w}\"")
            } else {
                w.clone()
            }),
        }
    }
    let chain = chain?;
    let builtin =
        ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"].contains(&chain.as_str());
    let decl = if builtin {
        format!(":{chain} ACCEPT [0:0]")
    } else {
        format!(":{chain} - [0:0]")
    };
    let dump = format!("*{table}\n{decl}\n-A {chain} {}\nCOMMIT\n", spec.join(" "));
    Some((dump, table, chain))
}

#[test]
fn txlate_agreement() {
    let Some(corpus) = corpus() else {
        skip("no ../shared/corpus");
        return;
    };
    if no_kernel() {
        return;
    }
    let cases = txlate_cases(&corpus.join("iptables-tests/extensions-v1.8.9"));
    assert!(cases.len() > 100, "only {} txlate cases found", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let (mut agree, mut refused, mut ref_fails, mut ours_fail, mut differ, mut neither) =
        (0, 0, 0, 0, 0, 0);
    let mut report = Vec::new();
    for c in &cases {
        let Some((dump, table, chain)) = case_dump(c) else {
            refused += 1;
            continue;
        };
        let ext = if c.v6 { "v6" } else { "v4" };
        let dump_path = dir.path().join(format!("case.{ext}"));
        fs::write(&dump_path, &dump).unwrap();
        let ours = dir.path().join("ours.nft");
        let status = translate(&dump_path, &ours, &["--counters", "--no-merge"]);
        if status != 0 {
            refused += 1;
            report.push(format!(
                "iptlint declines  {}: {}",
                c.file,
                c.args.join(" ")
            ));
            continue;
        }
        let reference = dir.path().join("ref.nft");
        fs::write(&reference, c.expected.join("\n") + "\n").unwrap();
        let fam = if c.v6 { "ip6" } else { "ip" };
        let script = format!(
            "nft -f \"$1\" || {{ echo ===OURSFAIL; exit 0; }}; echo ===A; nft list chain {fam} {table} {chain}; \
             nft flush chain {fam} {table} {chain}; nft -f \"$2\" || {{ echo ===REFFAIL; exit 0; }}; \
             echo ===B; nft list chain {fam} {table} {chain}"
        );
        let out = kernel::in_netns(&script, &[&ours, &reference]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rules = |part: &str| -> Vec<String> {
            part.lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("table ")
                        && !l.starts_with("chain ")
                        && !l.starts_with("type ")
                        && *l != "}"
                })
                .map(str::to_string)
                .collect()
        };
        let both_fail = || {
            let script = format!(
                "nft -f \"$2\" && exit 0; nft add table {fam} {table} && nft add chain {fam} {table} {chain} && nft -f \"$2\""
            );
            !kernel::in_netns(&script, &[&ours, &reference])
                .status
                .success()
        };
        if text.contains("===OURSFAIL") && both_fail() {
            // Neither text loads: the kernel lacks the feature, or the case
            // jumps to a chain it never declares.
            neither += 1;
        } else if text.contains("===OURSFAIL") {
            ours_fail += 1;
            report.push(format!(
                "OUR OUTPUT FAILS  {}: {}: {}",
                c.file,
                c.args.join(" "),
                kernel::stderr_summary(&out)
            ));
        } else if text.contains("===REFFAIL") {
            ref_fails += 1;
            report.push(format!(
                "reference fails   {}: {} (iptlint loads: {})",
                c.file,
                c.args.join(" "),
                rules(text.split("===A").nth(1).unwrap_or("")).join(" / ")
            ));
        } else {
            let a = rules(
                text.split("===A")
                    .nth(1)
                    .and_then(|t| t.split("===B").next())
                    .unwrap_or(""),
            );
            let b = rules(text.split("===B").nth(1).unwrap_or(""));
            if a == b {
                agree += 1;
            } else {
                differ += 1;
                report.push(format!(
                    "differs           {}: {}\n    iptlint:   {}\n    reference: {}",
                    c.file,
                    c.args.join(" "),
                    a.join(" / "),
                    b.join(" / ")
                ));
            }
        }
    }
    let total = cases.len();
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "txlate agreement: {agree} of {total} cases agree after the kernel normalizes both ({:.1}%); \
         {differ} differ, {refused} declined by iptlint (kept as comments), \
         {ref_fails} where only iptlint's text loads, {neither} where neither loads here, \
         {ours_fail} where only the reference loads",
        100.0 * agree as f64 / total as f64
    );
    assert_eq!(ours_fail, 0, "iptlint wrote text nft refuses");
    assert!(
        agree * 100 >= total * 72,
        "agreement fell to {agree} of {total}"
    );
}

#[test]
fn ipset_rules_load_with_their_sets() {
    if kernel::tools(&["nft", "ipset", "iptables-restore"]).is_err() {
        skip("needs nft, ipset and iptables-restore as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sets = dir.path().join("sets.ipset");
    fs::write(
        &sets,
        "create blocked hash:net family inet hashsize 1024 maxelem 65536\n\
         add blocked 10.1.0.0/16\nadd blocked 192.0.2.7\n\
         create web hash:ip,port family inet hashsize 1024 maxelem 65536\n\
         add web 10.0.0.1,tcp:80\nadd web 10.0.0.2,udp:53\n",
    )
    .unwrap();
    let dump = dir.path().join("d.v4");
    fs::write(
        &dump,
        "*filter\n:INPUT ACCEPT [0:0]\n\
         -A INPUT -m set --match-set blocked src -j DROP\n\
         -A INPUT -m set ! --match-set blocked dst -m set --match-set web dst,dst -j ACCEPT\n\
         COMMIT\n",
    )
    .unwrap();
    // The original loads with its sets.
    let orig = kernel::in_netns(
        "ipset restore < \"$1\" && iptables-restore < \"$2\"",
        &[&sets, &dump],
    );
    assert!(
        orig.status.success(),
        "original: {}",
        kernel::stderr_summary(&orig)
    );
    let out = dir.path().join("out.nft");
    let without = translate(&dump, &out, &[]);
    assert_eq!(
        without, 1,
        "without --ipsets the set rules are not translated"
    );
    let ipsets_arg = sets.to_str().unwrap().to_string();
    assert_eq!(translate(&dump, &out, &["--ipsets", &ipsets_arg]), 0);
    let script = fs::read_to_string(&out).unwrap();
    assert!(script.contains("set blocked {"), "{script}");
    assert!(script.contains("ip saddr @blocked drop"), "{script}");
    assert!(
        script.contains("ip daddr . meta l4proto . th dport @web"),
        "{script}"
    );
    let run = kernel::in_netns(
        "nft -f \"$1\" && nft -f \"$1\" && nft list set ip filter web",
        &[&out],
    );
    assert!(run.status.success(), "{}", kernel::stderr_summary(&run));
    let listed = String::from_utf8_lossy(&run.stdout);
    assert!(listed.contains("10.0.0.1 . tcp . 80"), "{listed}");
    // A later translation with fewer elements replaces the set's content.
    let fewer = dir.path().join("fewer.ipset");
    fs::write(
        &fewer,
        "create blocked hash:net family inet
add blocked 10.1.0.0/16
         create web hash:ip,port family inet
add web 10.0.0.2,udp:53
",
    )
    .unwrap();
    let out2 = dir.path().join("out2.nft");
    assert_eq!(
        translate(&dump, &out2, &["--ipsets", fewer.to_str().unwrap()]),
        0
    );
    let run = kernel::in_netns(
        "nft -f \"$1\" && nft -f \"$2\" && nft list set ip filter web && nft list set ip filter blocked",
        &[&out, &out2],
    );
    assert!(run.status.success(), "{}", kernel::stderr_summary(&run));
    let listed = String::from_utf8_lossy(&run.stdout);
    assert!(!listed.contains("10.0.0.1 . tcp . 80"), "{listed}");
    assert!(!listed.contains("192.0.2.7"), "{listed}");
    assert!(listed.contains("10.0.0.2 . udp . 53"), "{listed}");
}
