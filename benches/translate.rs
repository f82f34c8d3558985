//! `iptlint translate` at kube-proxy scale: parse and translate (with
//! merging, and rule by rule) a dump shaped like kube-proxy's: one
//! KUBE-SERVICES rule per service, a KUBE-SVC chain of statistic rules per
//! service, two rules per endpoint chain.
//!
//! `cargo bench --bench translate`. Set `IPTLINT_BENCH_DUMP=/path` to
//! measure a real dump instead (e.g. the output of
//! `cargo run --release --example gen-dump -- kube --services 50000 --endpoints 3`).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use iptlint::translate::{Options, translate};

fn kube(services: usize, endpoints: usize) -> String {
    let mut chains = String::new();
    let mut rules = String::new();
    for s in 0..services {
        let ip = format!("10.{}.{}.{}", 96 + s / 65536, s / 256 % 256, s % 256);
        let (proto, port) = if s % 5 == 0 {
            ("udp", 53)
        } else {
            ("tcp", 80 + s % 7)
        };
        let svc = format!("KUBE-SVC-{s:016}");
        let _ = writeln!(chains, ":{svc} - [0:0]");
        let _ = writeln!(
            rules,
            "-A KUBE-SERVICES -d {ip}/32 -p {proto} -m comment --comment \"ns/svc{s}:p cluster IP\" -m {proto} --dport {port} -j {svc}"
        );
        let _ = writeln!(
            rules,
            "-A {svc} ! -s 10.244.0.0/16 -d {ip}/32 -p {proto} -m {proto} --dport {port} -j KUBE-MARK-MASQ"
        );
        for e in 0..endpoints {
            let sep = format!("KUBE-SEP-{s:012}{e:04}");
            let _ = writeln!(chains, ":{sep} - [0:0]");
            let left = endpoints - e;
            if left > 1 {
                let p: f64 = format!("{:.10}", 1.0 / left as f64).parse().unwrap();
                let fixed = (2147483648.0 * p).round() / 2147483648.0;
                let _ = writeln!(
                    rules,
                    "-A {svc} -m statistic --mode random --probability {fixed:.11} -j {sep}"
                );
            } else {
                let _ = writeln!(rules, "-A {svc} -j {sep}");
            }
            let ep = format!(
                "10.244.{}.{}",
                (s * endpoints + e) / 256 % 256,
                (s * endpoints + e) % 256
            );
            let _ = writeln!(rules, "-A {sep} -s {ep}/32 -j KUBE-MARK-MASQ");
            let _ = writeln!(
                rules,
                "-A {sep} -p {proto} -m {proto} -j DNAT --to-destination {ep}:8080"
            );
        }
    }
    format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n{chains}\
         -A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n{rules}COMMIT\n"
    )
}

fn bench(c: &mut Criterion) {
    let text = match std::env::var("IPTLINT_BENCH_DUMP") {
        Ok(path) => std::fs::read_to_string(path).expect("IPTLINT_BENCH_DUMP"),
        Err(_) => kube(10_000, 3),
    };
    let mut group = c.benchmark_group("translate");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    for (name, merge) in [("kube-merged", true), ("kube-rule-by-rule", false)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let rs = iptlint::syntax::parse(black_box(&text), None).ruleset;
                let opts = Options {
                    merge,
                    ..Options::default()
                };
                translate(&rs, &text, &opts).script.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
