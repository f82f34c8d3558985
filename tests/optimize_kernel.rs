//! The kernel judges `iptlint optimize`'s output: for every corpus dump the
//! real `iptables-restore` loads, the optimized dump loads too, after
//! `ipset restore` of its sets, in a private network namespace. The same
//! for the benchmark generator's flat and kube-proxy dumps. Skips (with a
//! message) without root, `unshare`, the tools, or `../shared/corpus`.

mod support;
use support::gen_dump;

use std::path::{Path, PathBuf};

use iptlint::check::family_from_path;
use iptlint::model::Family;
use iptlint::optimize::{Options, optimize, sets::restore_script};
use support::{corpus, kernel};

fn restore_tool(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "iptables-restore",
        Family::Ipv6 => "ip6tables-restore",
    }
}

/// Loads `dump` (after `sets`, when given) in a fresh namespace.
fn loads(family: Family, dump: &Path, sets: Option<&Path>) -> Result<(), String> {
    let tool = restore_tool(family);
    let out = match sets {
        // Twice: loading the sets file again must be no error.
        Some(sets) => kernel::in_netns(
            &format!("ipset restore < \"$2\" && ipset restore < \"$2\" && {tool} < \"$1\""),
            &[dump, sets],
        ),
        None => kernel::in_netns(&format!("{tool} < \"$1\""), &[dump]),
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(kernel::stderr_summary(&out))
    }
}

/// Optimizes `text` with `opts` and loads the result; `Err` says why not.
fn optimized_loads(
    text: &str,
    family: Family,
    opts: Options,
    dir: &Path,
) -> Result<(usize, usize), String> {
    let parsed = iptlint::syntax::parse(text, Some(family));
    let result = optimize(&parsed.ruleset, &opts);
    let dump = dir.join("out.rules");
    let sets = dir.join("out.sets");
    std::fs::write(&dump, result.ruleset.to_string()).unwrap();
    std::fs::write(&sets, restore_script(&result.sets)).unwrap();
    loads(family, &dump, Some(&sets))?;
    Ok((result.before.rules, result.after.rules))
}

#[test]
fn optimized_corpus_dumps_load_wherever_the_originals_do() {
    if let Err(why) = kernel::tools(&["iptables-restore", "ip6tables-restore", "ipset"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let Some(corpus) = corpus::dir() else {
        eprintln!("skipping: ../shared/corpus is absent");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (mut loaded, mut checked, mut before, mut after) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in corpus::accepted_dumps(&corpus) {
        let family = family_from_path(&path).unwrap_or(Family::Ipv4);
        if loads(family, &path, None).is_err() {
            continue; // the original does not load here: nothing to compare
        }
        loaded += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for opts in [
            Options {
                ipsets: true,
                remove_dead: false,
            },
            Options {
                ipsets: true,
                remove_dead: true,
            },
        ] {
            checked += 1;
            match optimized_loads(&text, family, opts, tmp.path()) {
                Ok((b, a)) => {
                    before += b;
                    after += a;
                }
                Err(e) => failures.push(format!("{} ({opts:?}): {e}", path.display())),
            }
        }
    }
    println!(
        "optimize: {loaded} corpus dumps load; {checked} optimized versions checked, rules {before} → {after}"
    );
    assert!(loaded >= 40, "only {loaded} corpus dumps load here");
    assert!(
        failures.is_empty(),
        "optimized dumps the kernel refuses:\n{}",
        failures.join("\n")
    );
}

#[test]
fn optimized_generator_dumps_load() {
    if let Err(why) = kernel::tools(&["iptables-restore", "ipset"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["flat", "--rules", "2000"][..],
        &["kube", "--services", "50", "--endpoints", "3"][..],
    ] {
        let text = gen_dump(args);
        for remove_dead in [false, true] {
            let opts = Options {
                ipsets: true,
                remove_dead,
            };
            let (b, a) = optimized_loads(&text, Family::Ipv4, opts, tmp.path())
                .unwrap_or_else(|e| panic!("gen-dump {args:?} ({opts:?}): {e}"));
            println!("gen-dump {args:?} {opts:?}: {b} → {a} rules");
            if args[0] == "flat" {
                // The flat dump is thousands of address+port rules: they
                // must collapse into a handful of set rules.
                assert!(a < 50, "flat dump only went from {b} to {a} rules");
            }
        }
    }
}

#[test]
fn optimized_fixtures_load() {
    if let Err(why) = kernel::tools(&["iptables-restore", "ip6tables-restore", "ipset"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optimize");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    names.sort();
    assert!(names.len() >= 4);
    for path in names {
        let family = if path.to_string_lossy().contains("v6") {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        loads(family, &path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(&path).unwrap();
        let opts = Options {
            ipsets: true,
            remove_dead: true,
        };
        let (b, a) = optimized_loads(&text, family, opts, tmp.path())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(a < b, "{}: {b} → {a}", path.display());
    }
}
