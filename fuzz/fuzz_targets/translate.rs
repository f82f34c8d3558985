//! `iptlint translate` on any bytes: a readable dump translates without a
//! panic, merged and rule by rule, and the merge report is JSON. (That the
//! kernel loads the script is tests/translate_kernel.rs's job.)
#![no_main]

use iptlint::syntax;
use iptlint::translate::{Options, report_json, translate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::source::Source::decode(data.to_vec());
    let parsed = syntax::parse(&text, None);
    if parsed.findings.iter().any(|f| f.is_input_error()) {
        return;
    }
    for merge in [false, true] {
        let opts = Options {
            merge,
            ..Options::default()
        };
        let t = translate(&parsed.ruleset, &text, &opts);
        assert!(t.rules_in == parsed.ruleset.rule_count());
        assert!(t.untranslated <= t.rules_in);
        serde_json::from_str::<serde_json::Value>(&report_json(&t)).expect("the report is JSON");
    }
});
