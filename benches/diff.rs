//! The fate walk and the comparison behind `iptlint diff`: a kube-proxy-like
//! dump (services with a ClusterIP rule, a chain of `statistic` picks and a
//! DNAT per endpoint) against itself, and a flat INPUT chain against a copy
//! with one rule changed.
//!
//! `cargo bench --bench diff`. For the whole binary at scale:
//! `cargo run --release --example gen-dump -- kube --services 10000
//! --endpoints 3 > /tmp/k10k.rules; target/release/iptlint diff /tmp/k10k.rules
//! /tmp/k10k.rules`.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iptlint::fate::{Conditions, Path, Walker, compare};
use iptlint::model::Family;
use iptlint::space::SpaceContext;

fn kube(services: usize, endpoints: usize) -> String {
    let mut nat = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n",
    );
    let mut rules = String::from(
        "-A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n",
    );
    for s in 0..services {
        let _ = writeln!(nat, ":SVC{s} - [0:0]");
        let _ = writeln!(
            rules,
            "-A KUBE-SERVICES -d 10.96.{}.{}/32 -p tcp -m tcp --dport {} -j SVC{s}",
            s / 256 % 256,
            s % 256,
            80 + s % 7
        );
        for e in 0..endpoints {
            let _ = writeln!(nat, ":SEP{s}x{e} - [0:0]");
            let pick = if e + 1 < endpoints {
                format!(
                    " -m statistic --mode random --probability {:.5}",
                    1.0 / (endpoints - e) as f64
                )
            } else {
                String::new()
            };
            let _ = writeln!(rules, "-A SVC{s}{pick} -j SEP{s}x{e}");
            let ip = format!(
                "10.244.{}.{}",
                (s * endpoints + e) / 256 % 256,
                (s * endpoints + e) % 256
            );
            let _ = writeln!(rules, "-A SEP{s}x{e} -s {ip}/32 -j KUBE-MARK-MASQ");
            let _ = writeln!(
                rules,
                "-A SEP{s}x{e} -p tcp -m tcp -j DNAT --to-destination {ip}:8080"
            );
        }
    }
    nat.push_str(&rules);
    nat.push_str("COMMIT\n");
    nat
}

fn flat(rules: usize, changed: Option<usize>) -> String {
    let mut out = String::from("*filter\n:INPUT DROP [0:0]\n");
    for r in 0..rules {
        let port = if Some(r) == changed { 9999 } else { 22 + r % 5 };
        let _ = writeln!(
            out,
            "-A INPUT -s 10.{}.{}.0/24 -p tcp -m tcp --dport {port} -j ACCEPT",
            r / 256 % 256,
            r % 256
        );
    }
    out.push_str("COMMIT\n");
    out
}

fn diff(a: &str, b: &str) -> usize {
    let ra = iptlint::syntax::parse(a, Some(Family::Ipv4)).ruleset;
    let rb = iptlint::syntax::parse(b, Some(Family::Ipv4)).ruleset;
    let rules = [&ra, &rb]
        .into_iter()
        .flat_map(|r| &r.tables)
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules);
    let ctx = SpaceContext::for_rules(Family::Ipv4, rules);
    let (wa, wb) = (
        Walker::new(&ra, &ctx, a, false),
        Walker::new(&rb, &ctx, b, false),
    );
    let mut conds = Conditions::default();
    let mut n = 0;
    for path in Path::ALL {
        let la = wa
            .walk(path, &ctx.universe(), &mut conds)
            .expect("within budget");
        let lb = wb
            .walk(path, &ctx.universe(), &mut conds)
            .expect("within budget");
        n += compare(path, &ctx, &la, &lb, usize::MAX)
            .expect("no budget")
            .len();
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    group.sample_size(10);
    let k = kube(500, 3);
    group.bench_function("kube-500x3-self", |b| b.iter(|| black_box(diff(&k, &k))));
    let (f, g) = (flat(5_000, None), flat(5_000, Some(2_500)));
    assert_eq!(diff(&f, &g), 2, "one changed port: two regions differ");
    group.bench_function("flat-5k-one-change", |b| b.iter(|| black_box(diff(&f, &g))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
