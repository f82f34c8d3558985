//! The `iptlint` command.

mod cli;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rayon::prelude::*;

use cli::{CheckArgs, Cli, Command, FailOn, FamilyArg, Format, GraphArgs, GraphFormat, ListFormat};
use iptlint::check::{self, FileReport, MAX_INPUT_BYTES};
use iptlint::diagnostic::Severity;
use iptlint::model::Family;
use iptlint::{codes, report};

/// Exit statuses: 0 clean, 1 findings at `--fail-on`, 2 usage or input error.
const EXIT_FINDINGS: u8 = 1;
const EXIT_INPUT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_INPUT_ERROR } else { 0 });
        }
    };
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Rules { format } => list_rules(format),
        Command::Rule { name } => show_rule(&name),
        Command::Graph(args) => run_graph(&args),
    }
}

/// Writes to stdout; a closed pipe (`iptlint check | head`) is not an error.
fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// One input to check: a file, or standard input.
enum Input {
    File(PathBuf),
    Stdin,
}

fn rule_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "rules" | "v4" | "v6" | "ipt" | "iptables" | "save"
    ) || name.starts_with("iptables")
        || name.starts_with("ip6tables")
}

/// Expands directories into their rule files, sorted, skipping hidden entries.
fn collect(path: &Path, out: &mut Vec<Input>, errors: &mut Vec<String>) {
    if path.as_os_str() == "-" {
        out.push(Input::Stdin);
        return;
    }
    if !path.is_dir() {
        out.push(Input::File(path.to_path_buf()));
        return;
    }
    let mut stack = vec![path.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && rule_file(&p) => files.push(p),
                _ => {}
            }
        }
    }
    files.sort();
    out.extend(files.into_iter().map(Input::File));
}

fn read_input(input: &Input) -> Result<(String, Arc<str>, Option<Family>), String> {
    match input {
        Input::Stdin => {
            let mut bytes = Vec::new();
            let mut limited = std::io::stdin().lock().take(MAX_INPUT_BYTES + 1);
            limited
                .read_to_end(&mut bytes)
                .map_err(|e| format!("<stdin>: {e}"))?;
            if bytes.len() as u64 > MAX_INPUT_BYTES {
                return Err(format!(
                    "<stdin>: input is larger than {MAX_INPUT_BYTES} bytes"
                ));
            }
            Ok(("<stdin>".to_string(), check::decode(bytes), None))
        }
        Input::File(path) => {
            let shown = path.display().to_string();
            let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
            if meta.len() > MAX_INPUT_BYTES {
                return Err(format!(
                    "{shown}: file is larger than {MAX_INPUT_BYTES} bytes"
                ));
            }
            let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
            Ok((shown, check::decode(bytes), check::family_from_path(path)))
        }
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for p in &args.paths {
        collect(p, &mut inputs, &mut errors);
    }
    let forced = args.family.map(|f| match f {
        FamilyArg::Ipv4 => Family::Ipv4,
        FamilyArg::Ipv6 => Family::Ipv6,
    });
    let results: Vec<Result<FileReport, String>> = inputs
        .par_iter()
        .map(|input| {
            let (path, source, family) = read_input(input)?;
            Ok(check::check_source(path, source, forced.or(family)))
        })
        .collect();
    let mut reports = Vec::new();
    for r in results {
        match r {
            Ok(report) => reports.push(report),
            Err(e) => errors.push(e),
        }
    }
    for e in &errors {
        eprintln!("iptlint: error: {e}");
    }
    match args.format {
        Format::Json => emit(&report::json::render(&reports)),
        Format::Sarif => emit(&report::sarif::render(&reports)),
        Format::Compact => emit(&report::compact::render(&reports)),
        Format::Github => emit(&report::github::render(&reports)),
        Format::Human => {
            let color = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            emit(&report::human::render(&reports, color));
        }
    }
    if !errors.is_empty() || reports.iter().any(FileReport::has_input_error) {
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let threshold = match args.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    let failed = threshold.is_some_and(|t| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.severity >= t)
    });
    if failed {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn list_rules(format: ListFormat) -> ExitCode {
    match format {
        ListFormat::Text => {
            let mut out = String::new();
            for l in codes::ALL {
                out.push_str(&format!(
                    "{:<7} {:<26} {:<8} {}\n",
                    l.code,
                    l.name,
                    l.severity.as_str(),
                    l.summary
                ));
            }
            emit(&out);
        }
        ListFormat::Json => {
            let list: Vec<_> = codes::ALL
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "code": l.code,
                        "name": l.name,
                        "severity": l.severity.as_str(),
                        "category": l.category.as_str(),
                        "summary": l.summary,
                    })
                })
                .collect();
            emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&list).expect("serializes")
            ));
        }
    }
    ExitCode::SUCCESS
}

fn show_rule(key: &str) -> ExitCode {
    match codes::find(key) {
        Some(lint) => {
            emit(iptlint::docs::page(lint));
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("iptlint: error: no lint named `{key}`; `iptlint rules` lists them");
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}

/// `iptlint graph`: the chain jump graph of one dump.
fn run_graph(args: &GraphArgs) -> ExitCode {
    let input = if args.path.as_os_str() == "-" {
        Input::Stdin
    } else {
        Input::File(args.path.clone())
    };
    let (path, source, family) = match read_input(&input) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("iptlint: error: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let parsed = iptlint::syntax::parse(&source, family);
    let errors = parsed
        .findings
        .iter()
        .filter(|f| f.is_input_error())
        .count();
    if errors > 0 {
        eprintln!(
            "iptlint: warning: {path}: {errors} syntax error(s); the graph shows what could be read (`iptlint check` lists them)"
        );
    }
    if let Some(table) = args.table
        && parsed.ruleset.table(table).is_none()
    {
        eprintln!("iptlint: error: {path} has no table `{table}`");
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let graph = iptlint::graph::JumpGraph::build(&parsed.ruleset);
    emit(&match args.format {
        GraphFormat::Dot => graph.to_dot(args.table),
        GraphFormat::Json => graph.to_json(args.table),
    });
    ExitCode::SUCCESS
}
