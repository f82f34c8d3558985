//! The real rule sets of `../shared/corpus`: everything the real
//! `iptables-restore --test` accepts must parse without a syntax error, and
//! printing the model back and parsing it again must give the same model.
//! Skips (with a message) when `../shared` is absent.

use std::path::{Path, PathBuf};

use iptlint::check::family_from_path;
use iptlint::syntax;

mod support;

fn corpus_dir() -> Option<PathBuf> {
    support::corpus::dir()
}

/// The dumps and restore inputs MANIFEST.tsv marks as accepted by the real
/// `iptables-restore --test` (nft backend).
fn accepted_dumps(corpus: &Path) -> Vec<PathBuf> {
    support::corpus::accepted_under(corpus, &["dumps/", "iptables-tests/shell-testcases/"])
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("corpus file is readable")).into_owned()
}

#[test]
fn every_accepted_corpus_dump_parses_without_syntax_errors() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipping: ../shared/corpus is absent");
        return;
    };
    let dumps = accepted_dumps(&corpus);
    assert!(
        dumps.len() > 50,
        "MANIFEST.tsv lists only {} accepted dumps",
        dumps.len()
    );
    let mut failures = Vec::new();
    let mut rules = 0;
    for path in &dumps {
        let parsed = syntax::parse(&read(path), family_from_path(path));
        rules += parsed.ruleset.rule_count();
        for f in parsed.findings.iter().filter(|f| f.is_input_error()) {
            failures.push(format!(
                "{}:{}:{}: {}",
                path.display(),
                f.span.line,
                f.span.column,
                f.message
            ));
        }
    }
    println!(
        "corpus: {} accepted dumps parsed, {rules} rules, {} syntax errors",
        dumps.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "syntax errors in dumps iptables accepts:\n{}",
        failures.join("\n")
    );
}

#[test]
fn printing_and_reparsing_every_corpus_dump_gives_the_same_model() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipping: ../shared/corpus is absent");
        return;
    };
    let mut checked = 0;
    for path in accepted_dumps(&corpus) {
        let family = family_from_path(&path);
        let first = syntax::parse(&read(&path), family).ruleset;
        let printed = first.to_string();
        let second = syntax::parse(&printed, Some(first.family));
        assert!(
            !second.findings.iter().any(|f| f.is_input_error()),
            "{}: the printed model does not parse:\n{printed}\n{:?}",
            path.display(),
            second.findings
        );
        // The printer always writes COMMIT, so compare what the tables hold.
        let content = |r: &iptlint::model::Ruleset| {
            r.tables
                .iter()
                .map(|t| (t.name, t.chains.clone()))
                .collect::<Vec<_>>()
        };
        if content(&first) != content(&second.ruleset) {
            panic!(
                "{}: round trip changed the model: {}",
                path.display(),
                first_difference(&first, &second.ruleset)
            );
        }
        checked += 1;
    }
    println!("round trip: {checked} dumps");
}

/// Names the first chain or rule that differs, so a failure is readable.
fn first_difference(a: &iptlint::model::Ruleset, b: &iptlint::model::Ruleset) -> String {
    for (ta, tb) in a.tables.iter().zip(&b.tables) {
        let names =
            |t: &iptlint::model::Table| t.chains.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if names(ta) != names(tb) {
            return format!(
                "table {}: chains {:?} became {:?}",
                ta.name,
                names(ta),
                names(tb)
            );
        }
        for (ca, cb) in ta.chains.iter().zip(&tb.chains) {
            if ca != cb {
                for (ra, rb) in ca.rules.iter().zip(&cb.rules) {
                    if ra != rb {
                        return format!("chain {}: rule\n{ra:#?}\nbecame\n{rb:#?}", ca.name);
                    }
                }
                return format!("chain {}: {ca:?}\nbecame\n{cb:?}", ca.name);
            }
        }
    }
    format!("{} tables became {}", a.tables.len(), b.tables.len())
}

/// Every corpus file, accepted by iptables or not (a syntax error is a finding too), through
/// the whole check: the positions the renderers show are found from each span alone.
#[test]
fn every_corpus_finding_has_the_positions_its_span_says() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipping: ../shared/corpus is absent");
        return;
    };
    let mut files = Vec::new();
    let mut dirs = vec![corpus.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus directory is readable") {
            let path = entry.expect("corpus entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("md" | "tsv")
            ) {
                files.push(path);
            }
        }
    }
    let mut findings = 0;
    for path in &files {
        let text = read(path);
        let report = iptlint::check::check_source(
            path.display().to_string(),
            text.as_str(),
            family_from_path(path),
        );
        findings += report.findings.len();
        support::assert_positions_agree(&path.display().to_string(), &text, &report.findings);
    }
    assert!(
        files.len() > 500 && findings > 1000,
        "{} files, {findings} findings",
        files.len()
    );
}
