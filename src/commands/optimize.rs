//! `iptlint optimize`: prints an equivalent, smaller iptables-restore dump.
//!
//! The dump goes to standard output (or `-o FILE`); with `--ipsets FILE`
//! the `ipset restore` script for the sets it uses goes there (load it
//! first). Every change is listed on standard error, or as one JSON
//! document with `--report json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use iptlint::optimize::{self, Options};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// One line per change on standard error.
    Human,
    /// One JSON document on standard error.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct OptimizeArgs {
    /// The dump to read; `-` reads standard input.
    pub path: PathBuf,
    /// Write the optimized dump here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rewrite runs of rules into ipsets and write the `ipset restore`
    /// script for them here (without it, no set is used).
    #[arg(long, value_name = "FILE")]
    pub ipsets: Option<PathBuf>,
    /// Drop rules proven dead or redundant, jumps to empty chains, and the
    /// chains that become unreachable.
    #[arg(long)]
    pub remove_dead: bool,
    /// How to list the changes.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub report: ReportFormat,
}

pub fn run(args: &OptimizeArgs) -> ExitCode {
    let loaded = match super::load(&args.path, iptlint::check::DEFAULT_MAX_INPUT_BYTES, None) {
        Ok(loaded) => loaded,
        Err(status) => return ExitCode::from(status),
    };
    let opts = Options {
        ipsets: args.ipsets.is_some(),
        remove_dead: args.remove_dead,
    };
    let shown = loaded.path;
    let result = optimize::optimize_owned(loaded.ruleset, &opts);
    let dump = result.ruleset.to_string();
    match &args.output {
        Some(path) => {
            if let Err(status) = write(path, &dump) {
                return status;
            }
        }
        None => crate::emit(&dump),
    }
    if let Some(path) = &args.ipsets
        && let Err(status) = write(path, &optimize::sets::restore_script(&result.sets))
    {
        return status;
    }
    match args.report {
        ReportFormat::Json => {
            let report = result.json_report(&shown);
            match serde_json::to_string_pretty(&report) {
                Ok(text) => eprintln!("{text}"),
                Err(e) => {
                    eprintln!("iptlint: error: cannot write the report: {e}");
                    return ExitCode::from(crate::EXIT_INPUT_ERROR);
                }
            }
        }
        ReportFormat::Human => {
            for c in &result.changes {
                eprintln!("iptlint: {}: {}", shown, c.describe());
            }
            for s in &result.sets {
                eprintln!(
                    "iptlint: {}: set {} ({}, {} members)",
                    shown,
                    s.name,
                    s.kind.as_str(),
                    s.len()
                );
            }
            eprintln!(
                "iptlint: {}: {} rules before, {} after; worst case {} → {} rules compared, mean {:.1} → {:.1}",
                shown,
                result.before.rules,
                result.after.rules,
                result.before.worst,
                result.after.worst,
                result.before.mean,
                result.after.mean
            );
        }
    }
    ExitCode::SUCCESS
}

fn write(path: &Path, text: &str) -> Result<(), ExitCode> {
    std::fs::write(path, text).map_err(|e| {
        eprintln!("iptlint: error: cannot write {}: {e}", path.display());
        ExitCode::from(crate::EXIT_INPUT_ERROR)
    })
}
