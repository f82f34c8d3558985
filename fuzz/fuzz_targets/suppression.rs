//! The suppression comment lexer on any text: it returns a suppression, no
//! suppression or an error whose range lies inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match iptlint::suppression::lex(text) {
        Ok(Some(s)) => {
            for (_, range) in &s.entries {
                assert!(text.get(range.clone()).is_some(), "entry range {range:?}");
            }
        }
        Ok(None) => {}
        Err(e) => assert!(
            e.range.start <= e.range.end && e.range.end <= text.len(),
            "error range {:?}",
            e.range
        ),
    }
});
