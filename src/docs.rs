//! The lint catalogue's pages (`rules/<CODE>-<name>.md`), built into the binary.

use crate::codes::Lint;

macro_rules! pages {
    ($($code:literal => $file:literal,)*) => {
        /// Every page, by code.
        pub static PAGES: &[(&str, &str)] = &[$(($code, include_str!(concat!("../rules/", $file)))),*];
    };
}

pages! {
    "IPT001" => "IPT001-syntax-error.md",
    "IPT002" => "IPT002-invalid-value.md",
    "IPT003" => "IPT003-unknown-option.md",
    "IPT004" => "IPT004-old-negation.md",
    "IPT005" => "IPT005-single-quoted-argument.md",
    "IPT006" => "IPT006-unterminated-quote.md",
    "IPT007" => "IPT007-crlf-line-ending.md",
    "IPT008" => "IPT008-unknown-extension.md",
    "IPT009" => "IPT009-wrong-address-family.md",
    "IPT101" => "IPT101-option-needs-protocol.md",
    "IPT102" => "IPT102-undefined-chain.md",
    "IPT103" => "IPT103-chain-loop.md",
    "IPT104" => "IPT104-invalid-chain-for-table.md",
    "IPT105" => "IPT105-target-not-allowed-here.md",
    "IPT106" => "IPT106-chain-too-deep.md",
    "IPT107" => "IPT107-match-not-allowed-here.md",
    "IPT150" => "IPT150-rule-position-out-of-range.md",
    "IPT151" => "IPT151-restore-stops-early.md",
    "IPT201" => "IPT201-unreachable-chain.md",
    "IPT202" => "IPT202-unreachable-rule.md",
    "IPT203" => "IPT203-duplicate-rule.md",
    "IPT204" => "IPT204-interface-never-matches.md",
    "IPT205" => "IPT205-unmatchable-rule.md",
    "IPT206" => "IPT206-shadowed-rule.md",
    "IPT207" => "IPT207-redundant-rule.md",
    "IPT301" => "IPT301-empty-chain.md",
    "IPT302" => "IPT302-return-from-builtin.md",
    "IPT303" => "IPT303-unused-suppression.md",
}

/// The page of a lint; every lint has one (a test checks it).
pub fn page(lint: &Lint) -> &'static str {
    PAGES
        .iter()
        .find(|(code, _)| *code == lint.code)
        .map_or("", |(_, text)| text)
}

/// The fenced `iptables` examples under a page's `## Bad` and `## Good`
/// headings. A block marked `iptables crlf` stands for a file with CRLF
/// line endings, which a page cannot show.
pub fn examples(page: &str, heading: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_section = false;
    let mut block: Option<(String, bool)> = None;
    for line in page.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            in_section = h.trim() == heading;
            continue;
        }
        match &mut block {
            Some((b, _)) if line.starts_with("```") => {
                out.push(std::mem::take(b));
                block = None;
            }
            Some((b, crlf)) => {
                b.push_str(line);
                b.push_str(if *crlf { "\r\n" } else { "\n" });
            }
            None if in_section && line.starts_with("```iptables") => {
                block = Some((String::new(), line.trim_end().ends_with("crlf")))
            }
            None => {}
        }
    }
    out
}
