//! Printing the model is lossless: when a text parses without a syntax-stage
//! error, the model printed back (as iptables-save writes it) parses without
//! one too and gives the same tables.
//!
//! (Unterminated quotes are left out: the word keeps the line's newline.)
#![no_main]

use iptlint::syntax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::source::Source::decode(data.to_vec());
    let first = syntax::parse(&text, None);
    // An unterminated quote keeps the line's newline in its word, which no
    // printed word can hold; iptlint warns about it (IPT006).
    if first
        .findings
        .iter()
        .any(|f| f.is_input_error() || f.lint.code == "IPT006")
    {
        return;
    }
    let printed = first.ruleset.to_string();
    let second = syntax::parse(&printed, Some(first.ruleset.family));
    let errors: Vec<_> = second
        .findings
        .iter()
        .filter(|f| f.is_input_error())
        .map(|f| (f.span.line, f.message.clone()))
        .collect();
    assert!(
        errors.is_empty(),
        "printed model does not parse:\n{printed}\n{errors:?}"
    );
    let content = |r: &iptlint::model::Ruleset| {
        r.tables
            .iter()
            .map(|t| (t.name, t.chains.clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        content(&first.ruleset) == content(&second.ruleset),
        "round trip changed the model:\n{printed}"
    );
});
