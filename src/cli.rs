//! Command-line arguments, and turning them into validated settings.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use iptlint::check;
use iptlint::config::{self, Layer, Selector};
use iptlint::diagnostic::Severity;
use iptlint::model::TableName;

#[derive(Parser, Debug)]
#[command(
    name = "iptlint",
    version,
    about = "Lint iptables-save / iptables-restore rule sets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check dumps for errors, dead rules and mistakes.
    Check(CheckArgs),
    /// List every lint.
    Rules {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Print the documentation page of one lint, by name or code.
    Rule { name: String },
    /// Print the chain jump graph of a dump: Graphviz DOT or JSON.
    Graph(GraphArgs),
    /// Translate a dump into an equivalent nftables script (`nft -f`).
    Translate(crate::commands::translate::TranslateArgs),
    /// Rewrite a dump into an equivalent, smaller one (ipsets, dead rules).
    Optimize(crate::commands::optimize::OptimizeArgs),
    /// Decide whether two rule sets (iptables dumps or nft scripts) give
    /// every packet the same fate.
    Diff(crate::commands::diff::DiffArgs),
    /// Follow one packet (or a set of packets) through a dump.
    Trace(crate::commands::trace::TraceArgs),
}

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// The dump to read; `-` reads standard input.
    pub path: PathBuf,
    /// Only this table (raw, mangle, nat, filter, security).
    #[arg(long, value_parser = parse_table)]
    pub table: Option<TableName>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Read at most this much of the input (bytes, or with K, M or G).
    #[arg(long, value_name = "SIZE", value_parser = check::parse_size, default_value = "256M")]
    pub max_input_size: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Json,
}

fn parse_table(name: &str) -> Result<TableName, String> {
    TableName::parse(name)
        .ok_or_else(|| format!("unknown table `{name}` (raw, mangle, nat, filter, security)"))
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Files or directories to check; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit with status 1 when a finding at or above this severity exists
    /// [default: warning, or the config file's `fail-on`].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Address family of the inputs; by default the file name (`.v6`) or the
    /// addresses in the file decide.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// Report only these lints: names, codes, code prefixes (`IPT2`) or
    /// `ALL`; comma-separated, repeatable. Replaces the config's selection.
    #[arg(long, value_name = "LINT", value_delimiter = ',')]
    pub select: Option<Vec<String>>,
    /// Do not report these lints (same forms as --select). The more specific
    /// of --select and --ignore wins; on a tie, --ignore.
    #[arg(long, value_name = "LINT", value_delimiter = ',')]
    pub ignore: Option<Vec<String>>,
    /// Report a lint (or prefix, or ALL) at another severity:
    /// `duplicate-rule=error`; comma-separated, repeatable.
    #[arg(long, value_name = "LINT=LEVEL", value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Use this config file instead of looking for `iptlint.toml` or
    /// `.iptlint.toml` above each checked file.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Use no config file.
    #[arg(long)]
    pub no_config: bool,
    /// Read at most this much of each input (bytes, or with K, M or G); a
    /// larger file or an endless stream is an error (status 2).
    #[arg(long, value_name = "SIZE", value_parser = check::parse_size, default_value = "256M")]
    pub max_input_size: u64,
}

impl CheckArgs {
    /// The command line's settings, checked: the highest layer, above the
    /// config file's. Errors name the flag and the bad value.
    pub fn layer(&self) -> Result<Layer, Vec<String>> {
        let mut errors = Vec::new();
        let mut selectors = |flag: &str, list: &[String]| -> Vec<Selector> {
            list.iter()
                .filter(|s| !s.trim().is_empty())
                .filter_map(|s| {
                    Selector::parse(s)
                        .map_err(|e| errors.push(format!("--{flag}: {e}")))
                        .ok()
                })
                .collect()
        };
        let select = self.select.as_deref().map(|l| selectors("select", l));
        let ignore = self
            .ignore
            .as_deref()
            .map(|l| selectors("ignore", l))
            .unwrap_or_default();
        let mut severity = Vec::new();
        for item in self.severity.iter().filter(|s| !s.trim().is_empty()) {
            let Some((name, level)) = item.split_once('=') else {
                errors.push(format!(
                    "--severity: expected LINT=LEVEL, as in `duplicate-rule=error`, not `{item}`"
                ));
                continue;
            };
            let selector = Selector::parse(name)
                .map_err(|e| errors.push(format!("--severity: {e}")))
                .ok();
            let level = Severity::parse(level.trim());
            if level.is_none() {
                errors.push(format!(
                    "--severity: the level of `{}` is error, warning or info, not `{}`",
                    name.trim(),
                    level_text(item)
                ));
            }
            if let (Some(selector), Some(level)) = (selector, level) {
                severity.push((selector, level));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Layer {
            select,
            ignore,
            severity,
            fail_on: self.fail_on.map(|f| match f {
                FailOn::Error => config::FailOn::Error,
                FailOn::Warning => config::FailOn::Warning,
                FailOn::Info => config::FailOn::Info,
                FailOn::Never => config::FailOn::Never,
            }),
        })
    }
}

fn level_text(item: &str) -> &str {
    item.split_once('=').map_or("", |(_, l)| l.trim())
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people: the source line, a label, help (miette).
    Human,
    /// `path:line:col: severity[CODE] name: message`, one line per finding.
    Compact,
    /// The version 1 JSON report (docs/json-report.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions annotations.
    Github,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyArg {
    Ipv4,
    Ipv6,
}
