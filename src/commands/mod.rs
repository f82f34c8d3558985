//! The commands beyond `check`: each file holds its arguments and its `run`.
//! What they share: reading one dump and refusing one iptables cannot read.

pub mod diff;
pub mod optimize;
pub mod trace;
pub mod translate;

use std::path::Path;

use iptlint::model::{Family, Ruleset};
use iptlint::report::compact;
use iptlint::source::Source;

use crate::{EXIT_INPUT_ERROR, Input, read_input};

/// A dump read and parsed, for a command that needs it whole.
pub struct Loaded {
    /// As the user named it; `<stdin>` for `-`.
    pub path: String,
    pub source: Source,
    pub ruleset: Ruleset,
}

/// Reads and parses one dump. A dump iptables-restore would refuse is an
/// input error: its syntax errors are printed (`path:line:col: ...`) and
/// the caller exits with the returned status (2).
pub fn load(path: &Path, limit: u64, family: Option<Family>) -> Result<Loaded, u8> {
    let (shown, source, from_name) = read(path, limit)?;
    parsed_dump(shown, source, family.or(from_name))
}

/// The input `path` names (`-`: standard input), as shown in messages.
fn read(path: &Path, limit: u64) -> Result<(String, Source, Option<Family>), u8> {
    let input = if path.as_os_str() == "-" {
        Input::Stdin
    } else {
        Input::File(path.to_path_buf())
    };
    read_input(&input, limit).map_err(|e| {
        eprintln!("iptlint: error: {e}");
        EXIT_INPUT_ERROR
    })
}

fn parsed_dump(shown: String, source: Source, family: Option<Family>) -> Result<Loaded, u8> {
    let parsed = iptlint::syntax::parse(&source, family);
    checked(
        shown,
        source,
        parsed.ruleset,
        &parsed.findings,
        "iptables-restore cannot read this dump",
    )
}

/// Like [`load`], but also reads an nft script (see
/// [`iptlint::nft::looks_like_nft`]): for `diff`, which compares rule sets
/// of either format.
pub fn load_any(path: &Path, limit: u64) -> Result<Loaded, u8> {
    let (shown, source, from_name) = read(path, limit)?;
    if !iptlint::nft::looks_like_nft(&source, Some(path)) {
        return parsed_dump(shown, source, from_name);
    }
    let parsed = iptlint::nft::parse(&source);
    for span in &parsed.untranslated {
        eprintln!(
            "iptlint: note: {shown}:{}:{}: a rule `iptlint translate` did not translate: this nft file does not have it",
            span.line, span.column
        );
    }
    checked(
        shown,
        source,
        parsed.ruleset,
        &parsed.findings,
        "iptlint cannot read this nft file",
    )
}

fn checked(
    shown: String,
    source: Source,
    ruleset: Ruleset,
    findings: &[iptlint::diagnostic::Finding],
    reader: &str,
) -> Result<Loaded, u8> {
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.is_input_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        let report = iptlint::check::FileReport {
            path: shown.clone(),
            source: source.clone(),
            family: ruleset.family,
            tables: 0,
            chains: 0,
            rules: 0,
            findings: errors,
            suppressed: 0,
            unreadable: true,
            errors: Vec::new(),
        };
        eprint!("{}", compact::render(std::slice::from_ref(&report)));
        eprintln!("iptlint: error: {shown}: {reader}");
        return Err(EXIT_INPUT_ERROR);
    }
    Ok(Loaded {
        path: shown,
        source,
        ruleset,
    })
}
