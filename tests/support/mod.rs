//! Helpers shared by the integration tests. Each test crate uses a part of
//! them, hence the `allow(dead_code)`.
#![allow(dead_code)]

pub mod corpus;
pub mod kernel;
pub mod packets;

/// splitmix64: a tiny seeded generator, so every random test reproduces
/// from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A number from the environment (`KERNEL_COUNTERS_DUMPS=40`), or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The text `examples/gen-dump.rs` prints for `args` (`kube --services 6`).
pub fn gen_dump(args: &[&str]) -> String {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--example", "gen-dump", "--"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "gen-dump {args:?} failed");
    String::from_utf8(out.stdout).expect("UTF-8 dump")
}

/// The JSON and SARIF renderers take a finding's start from its span's line
/// and column and find its end by reading only the span's text
/// (`report::end_position`): both must be what counting from the start of
/// the file gives, or their output would change with the way it is found.
pub fn assert_positions_agree(name: &str, text: &str, findings: &[iptlint::diagnostic::Finding]) {
    use iptlint::report::{LineIndex, end_position};
    let index = LineIndex::new(text);
    for f in findings {
        for span in std::iter::once(f.span).chain(f.related.iter().map(|r| r.span)) {
            assert_eq!(
                (span.line as usize, span.column as usize),
                index.position(span.start as usize),
                "{name}: start of {span:?} ({}: {})",
                f.lint.code,
                f.message
            );
            assert_eq!(
                end_position(text, span),
                index.position(span.end as usize),
                "{name}: end of {span:?} ({}: {})",
                f.lint.code,
                f.message
            );
        }
    }
}
