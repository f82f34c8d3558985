//! Lint selectors: what `--select`, `--ignore`, `--severity` and the config
//! file's `select`, `ignore` and `severity` take.
//!
//! A selector is `ALL`, a code prefix (`IPT`, `IPT2`, `IPT20`), an exact code
//! (`IPT203`) or a lint name (`duplicate-rule`). When several selectors match
//! one lint, the more specific one decides: an exact code or name beats a
//! longer prefix, which beats a shorter prefix, which beats `ALL` (ruff's
//! rule, `rule_selector.rs`).

use std::fmt;

use crate::codes::{self, Lint};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every lint.
    All,
    /// Every lint whose code starts with this (upper-case) prefix.
    Prefix(String),
    /// One lint, by code or name.
    Lint(&'static Lint),
}

impl Selector {
    /// Reads a selector; case does not matter for `ALL` and codes.
    pub fn parse(text: &str) -> Result<Selector, UnknownLint> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("ALL") {
            return Ok(Selector::All);
        }
        if let Some(lint) = codes::find(text) {
            return Ok(Selector::Lint(lint));
        }
        let upper = text.to_ascii_uppercase();
        if let Some(digits) = upper.strip_prefix("IPT")
            && digits.len() < 3
            && digits.bytes().all(|b| b.is_ascii_digit())
            && codes::ALL.iter().any(|l| l.code.starts_with(&upper))
        {
            return Ok(Selector::Prefix(upper));
        }
        Err(UnknownLint::new(text))
    }

    pub fn matches(&self, lint: &Lint) -> bool {
        match self {
            Selector::All => true,
            Selector::Prefix(p) => lint.code.starts_with(p.as_str()),
            Selector::Lint(l) => l.code == lint.code,
        }
    }

    /// Higher is more specific: `ALL` 0, a prefix its length, a lint the most.
    pub fn specificity(&self) -> usize {
        match self {
            Selector::All => 0,
            Selector::Prefix(p) => p.len(),
            Selector::Lint(_) => usize::MAX,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::All => f.write_str("ALL"),
            Selector::Prefix(p) => f.write_str(p),
            Selector::Lint(l) => f.write_str(l.name),
        }
    }
}

/// A name that is no lint, code, prefix or `ALL`, with the closest real one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownLint {
    pub text: String,
    pub suggestion: Option<&'static str>,
}

impl UnknownLint {
    pub fn new(text: &str) -> UnknownLint {
        UnknownLint {
            text: text.to_string(),
            suggestion: suggest(text),
        }
    }
}

impl fmt::Display for UnknownLint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown lint `{}`", self.text)?;
        match self.suggestion {
            Some(s) => write!(f, "; did you mean `{s}`?"),
            None => f.write_str("; `iptlint rules` lists every lint"),
        }
    }
}

/// The lint name or code closest to `text`, if one is close enough to be a
/// likely typo (or `text` starts one: `unreachable` → `unreachable-chain`).
pub fn suggest(text: &str) -> Option<&'static str> {
    let key = text.trim().to_ascii_lowercase();
    if key.is_empty() {
        return None;
    }
    let candidates = codes::ALL.iter().flat_map(|l| [l.name, l.code]);
    closest(&key, candidates)
}

/// The candidate at the smallest edit distance from `key`, within a third of
/// its length (at least 1, at most 3); else the first candidate `key` starts.
pub fn closest<'a>(
    key: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    let best = candidates
        .clone()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&key, &c.to_ascii_lowercase()),
                c,
            )
        })
        .min_by_key(|(d, _)| *d);
    if let Some((distance, c)) = best
        && distance <= (c.len() / 3).clamp(1, 3)
    {
        return Some(c);
    }
    if key.len() >= 4 {
        return candidates
            .into_iter()
            .find(|c| c.to_ascii_lowercase().starts_with(&key));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(Selector::parse("ALL"), Ok(Selector::All));
        assert_eq!(Selector::parse("all"), Ok(Selector::All));
        assert_eq!(Selector::parse("ipt2"), Ok(Selector::Prefix("IPT2".into())));
        assert_eq!(Selector::parse("IPT"), Ok(Selector::Prefix("IPT".into())));
        assert_eq!(
            Selector::parse("IPT203"),
            Ok(Selector::Lint(&codes::DUPLICATE_RULE))
        );
        assert_eq!(
            Selector::parse("duplicate-rule"),
            Ok(Selector::Lint(&codes::DUPLICATE_RULE))
        );
    }

    #[test]
    fn refuses_what_matches_nothing() {
        assert!(Selector::parse("IPT9").is_err());
        assert!(Selector::parse("IPT999").is_err());
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("IPT2x").is_err());
        assert!(Selector::parse("E501").is_err());
    }

    #[test]
    fn specificity_orders_all_prefix_code() {
        let all = Selector::All.specificity();
        let short = Selector::parse("IPT2").unwrap().specificity();
        let long = Selector::parse("IPT20").unwrap().specificity();
        let exact = Selector::parse("IPT203").unwrap().specificity();
        assert!(all < short && short < long && long < exact);
        assert_eq!(
            exact,
            Selector::parse("duplicate-rule").unwrap().specificity()
        );
    }

    #[test]
    fn suggests_the_closest_name_or_code() {
        assert_eq!(suggest("duplicte-rule"), Some("duplicate-rule"));
        assert_eq!(suggest("Duplicate-Rule"), Some("duplicate-rule"));
        assert_eq!(suggest("IPT23"), Some("IPT203"));
        assert_eq!(suggest("unreachable"), Some("unreachable-chain"));
        assert_eq!(suggest("frobnicate"), None);
        assert_eq!(
            UnknownLint::new("empty-chian").to_string(),
            "unknown lint `empty-chian`; did you mean `empty-chain`?"
        );
    }
}
