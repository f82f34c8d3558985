//! Every lint has its page in `rules/`, and every page's examples behave as
//! the page says: each Bad example produces the lint, no Good example does.

use std::sync::Arc;

use iptlint::check::check_source;
use iptlint::{codes, docs};

#[test]
fn every_lint_has_a_page_named_after_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for lint in codes::ALL {
        let file = dir.join(format!("{}-{}.md", lint.code, lint.name));
        assert!(
            file.is_file(),
            "{} has no page {}",
            lint.code,
            file.display()
        );
        let page = docs::page(lint);
        assert!(
            page.starts_with(&format!("# {} {}\n", lint.code, lint.name)),
            "{}: page title",
            lint.code
        );
        assert!(
            page.contains(&format!("- Severity: {}", lint.severity.as_str())),
            "{}: page severity",
            lint.code
        );
    }
    let pages = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        pages,
        codes::ALL.len(),
        "a page in rules/ belongs to no lint"
    );
}

#[test]
fn every_page_example_behaves_as_documented() {
    let mut checked = 0;
    for lint in codes::ALL {
        let page = docs::page(lint);
        let bad = docs::examples(page, "Bad");
        let good = docs::examples(page, "Good");
        assert!(!bad.is_empty(), "{}: no Bad example", lint.code);
        assert!(!good.is_empty(), "{}: no Good example", lint.code);
        for example in &bad {
            let report = check_source("bad.rules".into(), Arc::from(example.as_str()), None);
            assert!(
                report.findings.iter().any(|f| f.lint.code == lint.code),
                "{} {}: the Bad example does not produce it:\n{example}\nfindings: {:?}",
                lint.code,
                lint.name,
                report
                    .findings
                    .iter()
                    .map(|f| (f.lint.code, &f.message))
                    .collect::<Vec<_>>()
            );
            checked += 1;
        }
        for example in &good {
            let report = check_source("good.rules".into(), Arc::from(example.as_str()), None);
            assert!(
                !report.findings.iter().any(|f| f.lint.code == lint.code),
                "{} {}: the Good example produces it:\n{example}",
                lint.code,
                lint.name
            );
            checked += 1;
        }
    }
    println!("rule pages: {checked} examples checked");
}
