//! `iptlint optimize` on any bytes: when the input is a dump iptables can
//! read, every combination of options gives a dump iptlint reads back
//! without a syntax-stage error (the kernel loads the real ones: see
//! tests/optimize_kernel.rs), with no more rules than the input.
#![no_main]

use iptlint::optimize::{Options, optimize};
use iptlint::syntax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::source::Source::decode(data.to_vec());
    let parsed = syntax::parse(&text, None);
    // An unterminated quote keeps the line's newline in its word, which no
    // printed word can hold (IPT006).
    if parsed
        .findings
        .iter()
        .any(|f| f.is_input_error() || f.lint.code == "IPT006")
    {
        return;
    }
    for (ipsets, remove_dead) in [(false, false), (true, false), (false, true), (true, true)] {
        let out = optimize(
            &parsed.ruleset,
            &Options {
                ipsets,
                remove_dead,
            },
        );
        assert!(out.ruleset.rule_count() <= parsed.ruleset.rule_count());
        let printed = out.ruleset.to_string();
        let again = syntax::parse(&printed, Some(parsed.ruleset.family));
        let errors: Vec<_> = again
            .findings
            .iter()
            .filter(|f| f.is_input_error())
            .map(|f| (f.span.line, f.message.clone()))
            .collect();
        assert!(
            errors.is_empty(),
            "optimized output does not parse ({ipsets}, {remove_dead}):\n{printed}\n{errors:?}"
        );
    }
});
