//! Command-line arguments, and turning them into validated settings.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
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
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    /// Address family of the inputs; by default the file name (`.v6`) or the
    /// addresses in the file decide.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
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
