//! Throughput of each stage (parse, jump graph, all lints, the whole check)
//! on synthetic dumps shaped like the two kinds of
//! real rule sets that get large: kube-proxy's nat table and a long flat INPUT
//! chain. For timings against the real tools on exact kube-proxy layouts, see
//! `bench/compare.sh` and `examples/gen-dump.rs`.

use std::fmt::Write;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn kube_like(services: usize) -> String {
    let mut chains = String::new();
    let mut rules = String::new();
    for s in 0..services {
        let svc = format!("KUBE-SVC-{s:016X}");
        let _ = writeln!(chains, ":{svc} - [0:0]");
        let _ = writeln!(
            rules,
            "-A KUBE-SERVICES -d 10.96.{}.{}/32 -p tcp -m comment --comment \"ns/svc{s}:http cluster IP\" -m tcp --dport 80 -j {svc}",
            s / 256 % 256,
            s % 256
        );
        for e in 0..3 {
            let sep = format!("KUBE-SEP-{s:012X}{e:04X}");
            let _ = writeln!(chains, ":{sep} - [0:0]");
            let prob = ["0.33333333349", "0.50000000000"];
            if e < 2 {
                let _ = writeln!(
                    rules,
                    "-A {svc} -m statistic --mode random --probability {} -j {sep}",
                    prob[e]
                );
            } else {
                let _ = writeln!(rules, "-A {svc} -j {sep}");
            }
            let ip = format!("10.244.{}.{}", (s * 3 + e) / 256 % 256, (s * 3 + e) % 256);
            let _ = writeln!(rules, "-A {sep} -s {ip}/32 -j KUBE-MARK-MASQ");
            let _ = writeln!(
                rules,
                "-A {sep} -p tcp -m tcp -j DNAT --to-destination {ip}:8080"
            );
        }
    }
    format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n{chains}\
         -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n{rules}COMMIT\n"
    )
}

fn flat(rules: usize) -> String {
    let mut out =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for r in 0..rules {
        let verdict = if r % 7 == 0 { "DROP" } else { "ACCEPT" };
        let _ = writeln!(
            out,
            "-A INPUT -s 192.{}.{}.{}/32 -p tcp -m tcp --dport {} -j {verdict}",
            r / 65536 % 256,
            r / 256 % 256,
            r % 256,
            1024 + r % 60000
        );
    }
    out.push_str("COMMIT\n");
    out
}

fn bench(c: &mut Criterion) {
    for (name, text) in [
        ("kube-2k-services", kube_like(2000)),
        ("flat-20k-rules", flat(20_000)),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(10);
        group.bench_function("parse", |b| {
            b.iter(|| iptlint::syntax::parse(black_box(&text), None))
        });
        let ruleset = iptlint::syntax::parse(&text, None).ruleset;
        group.bench_function("graph", |b| {
            b.iter(|| iptlint::graph::JumpGraph::build(black_box(&ruleset)))
        });
        group.bench_function("lints", |b| {
            b.iter(|| iptlint::lints::run(black_box(&ruleset)))
        });
        let source: Arc<str> = Arc::from(text.as_str());
        group.bench_function("check", |b| {
            b.iter(|| {
                iptlint::check::check_source("bench.rules".into(), black_box(source.clone()), None)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
