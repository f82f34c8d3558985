//! `iptlint optimize`. Work in progress: the arguments and `run` are filled in
//! by the change that implements the command.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct OptimizeArgs {
    /// The dump to read; `-` reads standard input.
    pub path: PathBuf,
}

pub fn run(args: &OptimizeArgs) -> ExitCode {
    let loaded = match super::load(&args.path, iptlint::check::DEFAULT_MAX_INPUT_BYTES, None) {
        Ok(loaded) => loaded,
        Err(status) => return ExitCode::from(status),
    };
    eprintln!(
        "iptlint: error: `optimize` is not implemented yet ({}, {} rules)",
        loaded.path,
        loaded.ruleset.rule_count()
    );
    ExitCode::from(crate::EXIT_INPUT_ERROR)
}
