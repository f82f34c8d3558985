//! Times the stages of `check` on one dump (parse, lint context, lints) and,
//! with `parse-only`, stops after parsing so that `/usr/bin/time -v` shows the
//! model's own peak memory. With `one-thread` everything runs on the main
//! thread (a one-thread rayon pool that includes it), so that
//! `valgrind --tool=callgrind --toggle-collect=iptlint::lints::run` counts
//! every instruction of the lints, the parallel parts too.
use std::time::Instant;

// The allocator of the `iptlint` binary, so that the stages cost what they
// cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    iptlint::disable_transparent_huge_pages();
    let path = std::env::args()
        .nth(1)
        .expect("usage: phase-times DUMP [parse-only|one-thread]");
    let mode = std::env::args().nth(2);
    if mode.as_deref() == Some("one-thread") {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .expect("a one-thread pool");
        pool.install(|| phases(&path, false));
    } else {
        phases(&path, mode.as_deref() == Some("parse-only"));
    }
}

fn phases(path: &str, parse_only: bool) {
    // Read as `iptlint check FILE` reads: mapped, and released as parsed.
    let file = std::fs::File::open(path).expect("readable dump");
    let src = iptlint::source::Source::map_file(&file)
        .unwrap_or_else(|| std::fs::read_to_string(path).expect("readable dump").into());
    let t = Instant::now();
    let parsed = iptlint::syntax::parse_releasing(&src, None, &mut |r| src.release(r));
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
