//! The `iptlint` command.

mod cli;
mod commands;

// Parsing and the packet-space analysis allocate many small, short-lived
// values from several threads; mimalloc serves them with less work and less
// fragmentation than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use cli::{CheckArgs, Cli, Command, FamilyArg, Format, GraphArgs, GraphFormat, ListFormat};
use iptlint::check::{self, FileReport};
use iptlint::config::{self, Config, ConfigError, Settings};
use iptlint::model::Family;
use iptlint::source::Source;
use iptlint::{codes, report};

/// Exit statuses: 0 clean, 1 findings at `--fail-on`, 2 usage or input error.
pub(crate) const EXIT_FINDINGS: u8 = 1;
pub(crate) const EXIT_INPUT_ERROR: u8 = 2;

fn main() -> ExitCode {
    iptlint::disable_transparent_huge_pages();
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
        Command::Translate(args) => commands::translate::run(&args),
        Command::Optimize(args) => commands::optimize::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Trace(args) => commands::trace::run(&args),
    }
}

/// Writes to stdout; a closed pipe (`iptlint check | head`) is not an error.
pub(crate) fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// One input to check: a file, or standard input.
pub(crate) enum Input {
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

/// Reads at most `limit` bytes of an input: a longer one (a huge file, an
/// endless pipe, `/dev/zero`) is an error, never an unbounded read. A
/// regular file is memory-mapped (see [`Source::map_file`]), anything else
/// read into memory.
pub(crate) fn read_input(
    input: &Input,
    limit: u64,
) -> Result<(String, Source, Option<Family>), String> {
    let too_big = |shown: &str| {
        format!(
            "{shown}: more than {} of input; iptlint stopped reading (--max-input-size raises the limit)",
            check::show_size(limit)
        )
    };
    let read_limited = |reader: &mut dyn Read, shown: &str| -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        reader
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{shown}: {e}"))?;
        if bytes.len() as u64 > limit {
            return Err(too_big(shown));
        }
        Ok(bytes)
    };
    match input {
        Input::Stdin => {
            let bytes = read_limited(&mut std::io::stdin().lock(), "<stdin>")?;
            // Reading a pipe grows the buffer by doubling; the buffers it
            // outgrew are free, but the allocator would keep them resident
            // through the whole check (kube-10k from standard input peaked
            // 11 MB higher). Give them back now.
            // SAFETY: mi_collect has no preconditions; it only returns
            // memory that is free.
            unsafe { libmimalloc_sys::mi_collect(true) };
            Ok((
                "<stdin>".to_string(),
                iptlint::source::Source::decode(bytes),
                None,
            ))
        }
        Input::File(path) => {
            let shown = path.display().to_string();
            let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
            if meta.len() > limit {
                return Err(too_big(&shown));
            }
            let mut file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
            let source = match Source::map_file(&file) {
                // The file may have grown since its size was checked.
                Some(mapped) if mapped.len() as u64 > limit => return Err(too_big(&shown)),
                Some(mapped) => mapped,
                None => iptlint::source::Source::decode(read_limited(&mut file, &shown)?),
            };
            Ok((shown, source, check::family_from_path(path)))
        }
    }
}

/// Which config file applies to each input: none, the one `--config`
/// names, or the nearest one found by walking up (cached per directory).
struct Configs {
    fixed: Option<Option<Arc<Config>>>,
    by_dir: HashMap<PathBuf, Option<Arc<Config>>>,
    by_path: HashMap<PathBuf, Arc<Config>>,
}

impl Configs {
    fn new(args: &CheckArgs) -> Result<Configs, Vec<ConfigError>> {
        let fixed = if args.no_config {
            Some(None)
        } else if let Some(path) = &args.config {
            Some(Some(Arc::new(Config::load(path)?)))
        } else {
            None
        };
        Ok(Configs {
            fixed,
            by_dir: HashMap::new(),
            by_path: HashMap::new(),
        })
    }

    fn for_input(&mut self, input: &Input) -> Result<Option<Arc<Config>>, Vec<ConfigError>> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let dir = match input {
            Input::Stdin => PathBuf::from("."),
            Input::File(path) => match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            },
        };
        if let Some(found) = self.by_dir.get(&dir) {
            return Ok(found.clone());
        }
        let found = match config::discover(&dir) {
            None => None,
            Some(path) => match self.by_path.get(&path) {
                Some(config) => Some(config.clone()),
                None => {
                    let config = Arc::new(Config::load(&path)?);
                    self.by_path.insert(path, config.clone());
                    Some(config)
                }
            },
        };
        self.by_dir.insert(dir, found.clone());
        Ok(found)
    }
}

/// How long a run goes before the progress bar appears.
const PROGRESS_DELAY: Duration = Duration::from_millis(500);

/// A progress bar over the files of a run. indicatif draws it on stderr,
/// limits the redraw rate and clears it at the end, all of which a
/// hand-written `\r` counter would have to redo. It stays hidden until the
/// run has taken [`PROGRESS_DELAY`], so that quick runs print nothing extra.
struct Progress {
    bar: ProgressBar,
    start: Instant,
    shown: AtomicBool,
}

impl Progress {
    /// Only for human output, to a terminal, over several files.
    fn wanted(format: Format, stderr_is_terminal: bool, files: usize) -> bool {
        format == Format::Human && stderr_is_terminal && files > 1
    }

    fn new(files: usize) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} checking {pos}/{len} files {wide_bar} {eta}")
        {
            bar.set_style(style);
        }
        Progress {
            bar,
            start: Instant::now(),
            shown: AtomicBool::new(false),
        }
    }

    fn file_done(&self) {
        self.bar.inc(1);
        if self.start.elapsed() >= PROGRESS_DELAY && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let cli_layer = match args.layer() {
        Ok(layer) => layer,
        Err(errors) => {
            for e in errors {
                eprintln!("iptlint: error: {e}");
            }
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for p in &args.paths {
        collect(p, &mut inputs, &mut errors);
    }
    // Every input's settings, before anything is checked: a bad config file
    // stops the run.
    let config_failed = |errors: Vec<ConfigError>| {
        for e in errors {
            eprintln!("iptlint: error: {e}");
        }
        ExitCode::from(EXIT_INPUT_ERROR)
    };
    let mut configs = match Configs::new(args) {
        Ok(c) => c,
        Err(e) => return config_failed(e),
    };
    let mut settings = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let config = match configs.for_input(input) {
            Ok(c) => c,
            Err(e) => return config_failed(e),
        };
        let path = match input {
            Input::File(p) => Some(p.as_path()),
            Input::Stdin => None,
        };
        let mut layers = config
            .as_ref()
            .map_or_else(Vec::new, |c| c.layers_for(path));
        layers.push(&cli_layer);
        settings.push(Settings::resolve(&layers));
    }
    let forced = args.family.map(|f| match f {
        FamilyArg::Ipv4 => Family::Ipv4,
        FamilyArg::Ipv6 => Family::Ipv6,
    });
    let progress = Progress::wanted(args.format, std::io::stderr().is_terminal(), inputs.len())
        .then(|| Progress::new(inputs.len()));
    let results: Vec<Result<FileReport, String>> = inputs
        .par_iter()
        .zip(&settings)
        .map(|(input, settings)| {
            let result = read_input(input, args.max_input_size).map(|(path, source, family)| {
                check::check_source_with(path, source, forced.or(family), settings)
            });
            if let Some(p) = &progress {
                p.file_done();
            }
            result
        })
        .collect();
    if let Some(p) = &progress {
        p.bar.finish_and_clear();
    }
    let mut reports = Vec::new();
    let mut thresholds = Vec::new();
    for (r, settings) in results.into_iter().zip(&settings) {
        match r {
            Ok(report) => {
                errors.extend(report.errors.iter().cloned());
                thresholds.push(settings.fail_on.threshold());
                reports.push(report);
            }
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
    let failed = reports.iter().zip(&thresholds).any(|(r, threshold)| {
        threshold.is_some_and(|t| r.findings.iter().any(|f| f.severity >= t))
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
    let (path, source, family) = match read_input(&input, args.max_input_size) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_for_people_on_a_terminal_over_several_files() {
        assert!(Progress::wanted(Format::Human, true, 2));
        assert!(!Progress::wanted(Format::Human, false, 100));
        assert!(!Progress::wanted(Format::Human, true, 1));
        for format in [Format::Compact, Format::Json, Format::Sarif, Format::Github] {
            assert!(!Progress::wanted(format, true, 100));
        }
    }
}
