//! The exact dead-rule lints (`unmatchable-rule`, `shadowed-rule`) at scale:
//! all lints on flat INPUT chains of 100,000 `-s IP/32 -p tcp --dport P -j
//! ACCEPT|DROP` rules, once with many distinct ports and once with three,
//! so that every rule shares its port with a third of the chain: the index
//! must still meet each rule only with the rules that can overlap it.
//!
//! `cargo bench --bench dead_rules`. For the whole binary:
//! `target/release/iptlint check /tmp/flat100k.rules` on the output of
//! `flat(100_000)` (see the report in the commit message).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn flat(rules: usize, ports: usize) -> String {
    let mut out =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for r in 0..rules {
        let verdict = if r % 7 == 0 { "DROP" } else { "ACCEPT" };
        let _ = writeln!(
            out,
            "-A INPUT -s 10.{}.{}.{}/32 -p tcp -m tcp --dport {} -j {verdict}",
            r / 65536 % 256,
            r / 256 % 256,
            r % 256,
            [22, 80, 443, 8080][r % 4 % ports.max(1)] + if ports > 4 { r % ports } else { 0 }
        );
    }
    out.push_str("COMMIT\n");
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dead-rules");
    group.sample_size(10);
    for (name, text) in [
        ("flat-100k-many-ports", flat(100_000, 60_000)),
        ("flat-100k-three-ports", flat(100_000, 3)),
    ] {
        let ruleset = iptlint::syntax::parse(&text, None).ruleset;
        group.bench_function(name, |b| {
            b.iter(|| iptlint::lints::run(black_box(&ruleset)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
