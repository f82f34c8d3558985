//! The `check` pipeline for one input: read, parse, lint, then the one
//! place where the user's wishes apply: suppression comments, then
//! `--select`/`--ignore` and the config file, then severity overrides.
//! Lints never filter or print; they report everything they find.

use std::path::Path;

use crate::config::Settings;
use crate::diagnostic::{Finding, Severity};
use crate::model::{Family, Ruleset, Table};
use crate::source::Source;
use crate::{lints, suppression, syntax};

/// Everything known about one checked input.
#[derive(Debug)]
pub struct FileReport {
    /// As the user named it; `<stdin>` for `-`.
    pub path: String,
    pub source: Source,
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

/// The largest input iptlint can read at all: spans are 32-bit byte offsets.
pub const MAX_INPUT_BYTES: u64 = u32::MAX as u64 - 1;

/// The default of `--max-input-size`: 256 MiB, several times the largest
/// real dumps (a 50,000-service kube-proxy dump is 58 MB). Checking takes
/// about 4 to 8 times a file's size in memory (about one more for standard
/// input, which is held, not mapped), so this bounds a run that is
/// fed an endless stream or a huge file to a few GiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a size: bytes, or a number with `K`, `M` or `G` (powers of 1024;
/// `KiB`, `MB` and lower case work too), at most [`MAX_INPUT_BYTES`].
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 300M or 2G"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("`{text}` is not a size such as 300M or 2G")),
    };
    let bytes = number
        .checked_mul(1 << shift)
        .filter(|b| *b <= MAX_INPUT_BYTES)
        .ok_or_else(|| {
            format!("`{text}` is more than iptlint can read ({MAX_INPUT_BYTES} bytes)")
        })?;
    if bytes == 0 {
        return Err("the size must be more than 0".into());
    }
    Ok(bytes)
}

/// A size for messages: `256 MiB`, `1.5 GiB`, `512 bytes`.
pub fn show_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size {
            let whole = bytes as f64 / size as f64;
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{whole:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

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
pub fn check_source(path: String, source: impl Into<Source>, family: Option<Family>) -> FileReport {
    check_source_with(path, source, family, &Settings::default())
}

/// Parses and lints one input, then applies suppressions and `settings`.
pub fn check_source_with(
    path: String,
    source: impl Into<Source>,
    family: Option<Family>,
    settings: &Settings,
) -> FileReport {
    let source = source.into();
    // What the parser has read leaves memory (for a mapped file): only the
    // lines of findings are read again, by the renderers and suppressions.
    let parsed = syntax::parse_releasing(&source, family, &mut |range| source.release(range));
    let mut findings = parsed.findings;
    findings.extend(lints::run(&parsed.ruleset));
    findings.extend(replaced_table_errors(&parsed.ruleset, &parsed.replaced));
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
    let (family, tables, chains, rules) = (
        ruleset.family,
        ruleset.tables.len(),
        ruleset.chain_count(),
        ruleset.rule_count(),
    );
    // Freeing half a million rules takes a few percent of the run: do it
    // on another thread while the caller reports.
    rayon::spawn(move || drop(ruleset));
    FileReport {
        path,
        family,
        tables,
        chains,
        rules,
        source,
        findings,
        suppressed: applied.suppressed,
        unreadable,
        errors,
    }
}

/// What the kernel refuses in a table block that a later block replaces:
/// iptables-restore loads each block at its COMMIT, so a loop or a target
/// at the wrong hook fails the load even though a later block would have
/// flushed it. Only errors: nothing else about a flushed block matters.
fn replaced_table_errors(ruleset: &Ruleset, replaced: &[Table]) -> Vec<Finding> {
    let mut out = Vec::new();
    for table in replaced {
        let alone = Ruleset {
            family: ruleset.family,
            tables: vec![table.clone()],
            comments: Vec::new(),
        };
        for mut f in lints::run(&alone) {
            if f.severity == Severity::Error {
                f.message = format!(
                    "{} (in the `*{}` block of line {}, which a later block replaces; it is still loaded at its COMMIT)",
                    f.message, table.name, table.span.line
                );
                out.push(f);
            }
        }
    }
    out
}
