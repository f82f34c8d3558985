//! SARIF 2.1.0 for GitHub code scanning and other SARIF consumers: one run,
//! the rule catalogue as `tool.driver.rules`, one result per finding with its
//! physical location and related locations.

use serde::Serialize;

use super::end_position;
use crate::check::FileReport;
use crate::codes::{self, Lint};
use crate::diagnostic::Severity;
use crate::docs;

/// Where the rule pages are published; `helpUri` points into it.
pub const DOCS_URL: &str = "https://github.com/iptlint/iptlint/blob/main/rules/";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<RuleDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: &'static str,
    name: &'static str,
    short_description: Message<'static>,
    full_description: Message<'static>,
    help_uri: String,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: &'static str,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    category: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Message<'a>,
    locations: Vec<Location<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation<'a> {
    uri: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The page's "What it does" section, as one paragraph.
fn full_description(lint: &Lint) -> &'static str {
    let page = docs::page(lint);
    let Some(start) = page.find("## What it does\n") else {
        return lint.summary;
    };
    let body = &page[start + "## What it does\n".len()..];
    let end = body.find("\n## ").unwrap_or(body.len());
    body[..end].trim()
}

fn descriptor(lint: &'static Lint) -> RuleDescriptor {
    RuleDescriptor {
        id: lint.code,
        name: lint.name,
        short_description: Message { text: lint.summary },
        full_description: Message {
            text: full_description(lint),
        },
        help_uri: format!("{DOCS_URL}{}-{}.md", lint.code, lint.name),
        help: Help {
            text: format!("{} (iptlint rule {})", lint.summary, lint.code),
            markdown: docs::page(lint),
        },
        default_configuration: Configuration {
            level: level(lint.severity),
        },
        properties: RuleProperties {
            category: lint.category.as_str(),
        },
    }
}

/// A SARIF URI for a path: relative paths stay relative (to the repository
/// root, as code scanning expects), with `/` separators.
fn uri(path: &str) -> &str {
    path.strip_prefix("./").unwrap_or(path)
}

fn location<'a>(
    path: &'a str,
    source: &str,
    span: crate::model::Span,
    message: Option<&'a str>,
    id: Option<usize>,
) -> Location<'a> {
    let (start_line, start_column) = (span.line as usize, span.column as usize);
    let (end_line, end_column) = end_position(source, span);
    Location {
        id,
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(path) },
            region: Region {
                start_line,
                start_column,
                end_line,
                end_column,
            },
        },
        message: message.map(|text| Message { text }),
    }
}

pub fn render(reports: &[FileReport]) -> String {
    let mut results = Vec::new();
    for report in reports {
        for f in &report.findings {
            let rule_index = codes::ALL
                .iter()
                .position(|l| l.code == f.lint.code)
                .unwrap_or(0);
            let location =
                |span, message, id| location(&report.path, &report.source, span, message, id);
            results.push(SarifResult {
                rule_id: f.lint.code,
                rule_index,
                level: level(f.severity),
                message: Message { text: &f.message },
                locations: vec![location(f.span, None, None)],
                related_locations: f
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, r)| location(r.span, Some(r.message.as_str()), Some(i + 1)))
                    .collect(),
            });
        }
    }
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "iptlint",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://github.com/iptlint/iptlint",
                    rules: codes::ALL.iter().map(|l| descriptor(l)).collect(),
                },
            },
            results,
        }],
    };
    let mut out = serde_json::to_string_pretty(&log).expect("the SARIF log serializes");
    out.push('\n');
    out
}
