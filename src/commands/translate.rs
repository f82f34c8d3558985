//! `iptlint translate`: the dump as an `nft -f` script.
//!
//! Exit status: 0 when every rule was translated exactly, 1 when some rule
//! was kept as a comment instead (each one is reported on stderr as
//! `path:line:col: ...`), 2 for an unreadable dump or ipset file.

use std::path::PathBuf;
use std::process::ExitCode;

use iptlint::translate::{self, Options, ipset::IpsetFile};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslateReport {
    /// Nothing beyond the diagnostics.
    None,
    /// What was merged into sets and maps, as JSON on stderr (or `--report-file`).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// The dump to read; `-` reads standard input.
    pub path: PathBuf,
    /// Write the nft script here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The `ipset save` output that `-m set` rules refer to.
    #[arg(long, value_name = "FILE")]
    pub ipsets: Option<PathBuf>,
    /// Keep counters: every rule gets `counter`, with the dump's counts.
    #[arg(long)]
    pub counters: bool,
    /// Translate rule by rule: no sets or maps.
    #[arg(long)]
    pub no_merge: bool,
    /// Also turn kube-proxy statistic chains into `numgen random mod N vmap`
    /// rules where the distribution is exactly the same (slow to load at
    /// scale: one kernel set per service).
    #[arg(long)]
    pub numgen: bool,
    /// Also report what was merged.
    #[arg(long, value_enum, default_value = "none")]
    pub report: TranslateReport,
    /// Where `--report json` goes (default: standard error).
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<PathBuf>,
}

pub fn run(args: &TranslateArgs) -> ExitCode {
    let loaded = match super::load(&args.path, iptlint::check::DEFAULT_MAX_INPUT_BYTES, None) {
        Ok(loaded) => loaded,
        Err(status) => return ExitCode::from(status),
    };
    let ipsets = match &args.ipsets {
        None => None,
        Some(p) => {
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("iptlint: error: {}: {e}", p.display());
                    return ExitCode::from(crate::EXIT_INPUT_ERROR);
                }
            };
            match IpsetFile::parse(&text) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("iptlint: error: {}:{e}", p.display());
                    return ExitCode::from(crate::EXIT_INPUT_ERROR);
                }
            }
        }
    };
    let opts = Options {
        counters: args.counters,
        merge: !args.no_merge,
        numgen: args.numgen && !args.no_merge,
        ipsets,
    };
    let t = translate::translate(&loaded.ruleset, &loaded.source, &opts);
    for d in &t.diagnostics {
        let level = if d.error { "warning" } else { "note" };
        eprintln!(
            "{}:{}:{}: {level}: {}",
            loaded.path, d.line, d.column, d.message
        );
    }
    match &args.output {
        Some(p) => {
            if let Err(e) = std::fs::write(p, &t.script) {
                eprintln!("iptlint: error: {}: {e}", p.display());
                return ExitCode::from(crate::EXIT_INPUT_ERROR);
            }
        }
        None => crate::emit(&t.script),
    }
    if args.report == TranslateReport::Json {
        let json = translate::report_json(&t);
        match &args.report_file {
            Some(p) => {
                if let Err(e) = std::fs::write(p, json + "\n") {
                    eprintln!("iptlint: error: {}: {e}", p.display());
                    return ExitCode::from(crate::EXIT_INPUT_ERROR);
                }
            }
            None => eprintln!("{json}"),
        }
    }
    // The model of a large dump takes a while to free; the process ends now.
    let path = loaded.path.clone();
    std::mem::forget(loaded);
    if t.untranslated > 0 {
        eprintln!(
            "iptlint: {}: {} of {} rules not translated (kept as comments)",
            path, t.untranslated, t.rules_in
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
