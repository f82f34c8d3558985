//! `iptlint optimize` at scale: the library call (`optimize::optimize`) on
//! flat INPUT chains of 100,000 rules, parsed once outside the timing.
//!
//! - `flat-100k-addr-port`: `-s IP/32 -p tcp --dport P -j ACCEPT|DROP`, the
//!   shape of the benchmark generator's flat dump: every rule can gather
//!   into one of two `hash:ip,port` sets across the whole chain;
//! - `flat-100k-wide`: `-s 10.0.0.0/8 -p tcp --dport P`, no host address to
//!   index by: every join scans its bounded window of wide rules, so this is
//!   the case that shows the pass stays linear;
//! - `flat-10k-remove-dead`: `--remove-dead` as well (lints, rounds).
//!
//! `cargo bench --bench optimize`. For the whole binary on the generator's
//! dumps, see the figures in the commit message and README text.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iptlint::optimize::{Options, optimize};

fn flat(rules: usize, wide: bool) -> String {
    let mut out =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for r in 0..rules {
        let verdict = if r % 7 == 0 { "DROP" } else { "ACCEPT" };
        let source = if wide {
            "10.0.0.0/8".to_string()
        } else {
            format!("10.{}.{}.{}/32", r / 65536 % 256, r / 256 % 256, r % 256)
        };
        let _ = writeln!(
            out,
            "-A INPUT -s {source} -p tcp -m tcp --dport {} -j {verdict}",
            1 + r % 60_000
        );
    }
    out.push_str("COMMIT\n");
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("optimize");
    group.sample_size(10);
    let sets = Options {
        ipsets: true,
        remove_dead: false,
    };
    let all = Options {
        ipsets: true,
        remove_dead: true,
    };
    for (name, text, opts) in [
        ("flat-100k-addr-port", flat(100_000, false), sets),
        ("flat-100k-wide", flat(100_000, true), sets),
        ("flat-10k-remove-dead", flat(10_000, false), all),
    ] {
        let ruleset = iptlint::syntax::parse(&text, None).ruleset;
        group.bench_function(name, |b| b.iter(|| optimize(black_box(&ruleset), &opts)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
