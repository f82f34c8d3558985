//! The packet-space algebra on 10,000 random flat rules
//! (`-s IP/32 -p tcp --dport P`, with a few /24s and port ranges so that some
//! pairs really are subsets): compiling every rule, then `is_subset` and
//! `overlaps` for every ordered pair (10^8 each), then each rule minus the
//! earlier rules that overlap it (what shadow analysis does), reporting how
//! many rules that leaves with nothing.
//!
//! `cargo bench --bench space`

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iptlint::model::Rule;
use iptlint::space::{MatchSpace, SpaceContext, rule_match_space};

const RULES: usize = 10_000;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Sources fall in 40 /24 blocks (so 1 in 50 rules, a /24, covers the /32s
/// of its block), ports in 1000..1100 (1 in 20 a range): enough overlap for
/// real subsets and shadowed rules.
fn flat_rules(n: usize) -> String {
    let mut rng = Rng(42);
    let mut out = String::from("*filter\n:INPUT DROP [0:0]\n");
    for _ in 0..n {
        let b = rng.below(40);
        let src = if rng.below(50) == 0 {
            format!("10.0.{b}.0/24")
        } else {
            format!("10.0.{b}.{}/32", rng.below(256))
        };
        let port = if rng.below(20) == 0 {
            let lo = 1000 + rng.below(100);
            format!("{lo}:{}", lo + rng.below(50))
        } else {
            (1000 + rng.below(100)).to_string()
        };
        let verdict = if rng.below(7) == 0 { "DROP" } else { "ACCEPT" };
        let _ = writeln!(
            out,
            "-A INPUT -s {src} -p tcp -m tcp --dport {port} -j {verdict}"
        );
    }
    out.push_str("COMMIT\n");
    out
}

fn bench(c: &mut Criterion) {
    let text = flat_rules(RULES);
    let parsed = iptlint::syntax::parse(&text, None);
    let rules: Vec<&Rule> = parsed.ruleset.tables[0].chains[0].rules.iter().collect();
    assert_eq!(rules.len(), RULES);
    let ctx = SpaceContext::for_ruleset(&parsed.ruleset);
    let spaces: Vec<MatchSpace> = rules.iter().map(|r| rule_match_space(r, &ctx)).collect();

    let mut group = c.benchmark_group("space-10k-flat");
    group.sample_size(10);

    group.throughput(Throughput::Elements(RULES as u64));
    group.bench_function("compile", |b| {
        b.iter(|| {
            let ctx = SpaceContext::for_ruleset(black_box(&parsed.ruleset));
            rules
                .iter()
                .map(|r| rule_match_space(r, &ctx))
                .collect::<Vec<_>>()
        })
    });

    group.throughput(Throughput::Elements((RULES * RULES) as u64));
    group.bench_function("subset-all-pairs", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for a in &spaces {
                for b in &spaces {
                    n += a.may.is_subset(black_box(&b.may)) as usize;
                }
            }
            n
        })
    });
    group.bench_function("overlaps-all-pairs", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for a in &spaces {
                for b in &spaces {
                    n += a.may.overlaps(black_box(&b.may)) as usize;
                }
            }
            n
        })
    });

    // Shadow-style: each rule minus every earlier rule it overlaps. The
    // overlapping pairs are found once, outside the timing (an index's job).
    let earlier: Vec<Vec<usize>> = (0..RULES)
        .map(|i| {
            (0..i)
                .filter(|&j| spaces[i].may.overlaps(&spaces[j].may))
                .collect()
        })
        .collect();
    let pairs: usize = earlier.iter().map(Vec::len).sum();
    let covered = (0..RULES)
        .filter(|&i| {
            let mut rest = spaces[i].may.clone();
            for &j in &earlier[i] {
                rest = rest.difference(&spaces[j].may);
            }
            rest.is_empty()
        })
        .count();
    let subsets = (0..RULES)
        .flat_map(|i| (0..RULES).map(move |j| (i, j)))
        .filter(|&(i, j)| i != j && spaces[i].may.is_subset(&spaces[j].may))
        .count();
    eprintln!(
        "{RULES} rules: {subsets} ordered subset pairs, {pairs} overlapping earlier pairs, \
         {covered} rules covered by the earlier ones"
    );
    group.throughput(Throughput::Elements(RULES as u64));
    group.bench_function(
        format!("residual-after-earlier ({pairs} overlapping pairs)"),
        |b| {
            b.iter(|| {
                let mut dead = 0usize;
                for (i, before) in earlier.iter().enumerate() {
                    let mut rest = spaces[i].may.clone();
                    for &j in before {
                        rest = rest.difference(&spaces[j].may);
                        if rest.is_empty() {
                            break;
                        }
                    }
                    dead += rest.is_empty() as usize;
                }
                dead
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
