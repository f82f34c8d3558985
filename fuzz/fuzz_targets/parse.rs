//! The line reader and builder alone: any bytes, both families. Every span
//! a finding carries must lie inside the text, on character boundaries.
#![no_main]

use iptlint::model::Family;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::source::Source::decode(data.to_vec());
    for family in [None, Some(Family::Ipv6)] {
        let parsed = iptlint::syntax::parse(&text, family);
        for f in &parsed.findings {
            let (start, end) = (f.span.start as usize, f.span.end as usize);
            assert!(
                start <= end && end <= text.len(),
                "span {start}..{end} outside the text"
            );
            assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
            assert!(f.span.line >= 1 && f.span.column >= 1);
        }
    }
});
