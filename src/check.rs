//! The `check` pipeline for one input: read, parse, lint, then the one
//! place where the user's wishes apply: suppression comments, then
//! `--select`/`--ignore` and the config file, then severity overrides.
//! Lints never filter or print; they report everything they find.

use std::path::Path;
use std::sync::Arc;

use crate::config::Settings;
use crate::diagnostic::{Finding, Severity};
use crate::model::Family;
use crate::{lints, suppression, syntax};

/// Everything known about one checked input.
#[derive(Debug)]
pub struct FileReport {
    /// As the user named it; `<stdin>` for `-`.
    pub path: String,
    pub source: Arc<str>,
    pub family: Family,
    pub tables: usize,
    pub chains: usize,
    pub rules: usize,
    /// What is reported, after suppressions and selection.
    pub findings: Vec<Finding>,
    /// Findings a suppression comment covered.
    pub suppressed: usize,
    /// iptables-restore cannot read the file: a syntax-stage error was found,
    /// whether or not it is reported (suppressing or ignoring it hides the
    /// message, not the fact).
    pub unreadable: bool,
    /// Problems that are no finding, each `path:line:column: message`: a
    /// suppression comment that does not lex or names no lint.
    pub errors: Vec<String>,
}

impl FileReport {
    /// True when the exit status must be 2 for this file.
    pub fn has_input_error(&self) -> bool {
        self.unreadable || !self.errors.is_empty()
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// The largest input iptlint reads: spans are 32-bit byte offsets.
pub const MAX_INPUT_BYTES: u64 = u32::MAX as u64 - 1;

/// What the file name says about the family: `rules.v6`, `ip6tables.rules`.
pub fn family_from_path(path: &Path) -> Option<Family> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".v6") || name.contains("ip6tables") || name.ends_with("rules6") {
        Some(Family::Ipv6)
    } else if name.ends_with(".v4") {
        Some(Family::Ipv4)
    } else {
        None
    }
}

/// Parses and lints one input with the default settings (every lint at its
/// own severity); suppression comments apply.
pub fn check_source(path: String, source: Arc<str>, family: Option<Family>) -> FileReport {
    check_source_with(path, source, family, &Settings::default())
}

/// Parses and lints one input, then applies suppressions and `settings`.
pub fn check_source_with(
    path: String,
    source: Arc<str>,
    family: Option<Family>,
    settings: &Settings,
) -> FileReport {
    let parsed = syntax::parse(&source, family);
    let mut findings = parsed.findings;
    findings.extend(lints::run(&parsed.ruleset));
    let unreadable = findings.iter().any(Finding::is_input_error);
    let applied = suppression::apply(&parsed.ruleset, &source, findings);
    let mut findings = applied.findings;
    findings.retain(|f| settings.enabled(f.lint));
    for f in &mut findings {
        if let Some(severity) = settings.severity(f.lint) {
            f.severity = severity;
        }
    }
    let errors = applied
        .errors
        .iter()
        .map(|e| format!("{path}:{}:{}: {}", e.line, e.column, e.message))
        .collect();
    findings.sort_by(|a, b| {
        (a.span.line, a.span.column, a.lint.code).cmp(&(b.span.line, b.span.column, b.lint.code))
    });
    let ruleset = parsed.ruleset;
    FileReport {
        path,
        family: ruleset.family,
        tables: ruleset.tables.len(),
        chains: ruleset.chain_count(),
        rules: ruleset.rule_count(),
        source,
        findings,
        suppressed: applied.suppressed,
        unreadable,
        errors,
    }
}

/// Turns bytes into text; invalid UTF-8 (a binary comment) is replaced, as
/// iptables itself does not care about the encoding of comments.
pub fn decode(bytes: Vec<u8>) -> Arc<str> {
    match String::from_utf8(bytes) {
        Ok(s) => Arc::from(s),
        Err(e) => Arc::from(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}
