//! Times the stages of `check` on one dump (parse, lint context, lints) and,
//! with `parse-only`, stops after parsing so that `/usr/bin/time -v` shows the
//! model's own peak memory.
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("usage: phase-times DUMP [parse-only]");
    let parse_only = std::env::args().nth(2).as_deref() == Some("parse-only");
    let src = std::fs::read_to_string(&path).expect("readable dump");
    let t = Instant::now();
    let parsed = iptlint::syntax::parse(&src, None);
    eprintln!("parse {:?}", t.elapsed());
    if parse_only {
        eprintln!("rules {}", parsed.ruleset.rule_count());
        return;
    }
    let t = Instant::now();
    let cx = iptlint::lints::LintContext::new(&parsed.ruleset);
    eprintln!("lint context {:?}", t.elapsed());
    drop(cx);
    let t = Instant::now();
    let f = iptlint::lints::run(&parsed.ruleset);
    eprintln!("lints {:?} ({} findings)", t.elapsed(), f.len());
}
