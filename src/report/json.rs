//! The JSON report, version 1. This schema is frozen: fields may be added,
//! never renamed or removed. It is documented in `docs/json-report.md`.

use serde::Serialize;

use super::end_position;
use crate::check::FileReport;
use crate::diagnostic::Severity;

#[derive(Serialize)]
pub struct Report<'a> {
    pub version: u32,
    pub files: Vec<FileEntry<'a>>,
    pub findings: Vec<FindingEntry<'a>>,
    pub summary: Summary,
}

#[derive(Serialize)]
pub struct FileEntry<'a> {
    pub path: &'a str,
    pub family: &'static str,
    pub tables: usize,
    pub chains: usize,
    pub rules: usize,
}

#[derive(Serialize)]
pub struct FindingEntry<'a> {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub path: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub table: Option<&'static str>,
    pub chain: Option<&'a str>,
    pub rule: Option<usize>,
    pub related: Vec<RelatedEntry<'a>>,
    pub help: Option<&'a str>,
}

#[derive(Serialize)]
pub struct RelatedEntry<'a> {
    pub path: &'a str,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
}

#[derive(Serialize, Default)]
pub struct Summary {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

pub fn build(reports: &[FileReport]) -> Report<'_> {
    let mut findings = Vec::new();
    let mut summary = Summary::default();
    for report in reports {
        for f in &report.findings {
            match f.severity {
                Severity::Error => summary.error += 1,
                Severity::Warning => summary.warning += 1,
                Severity::Info => summary.info += 1,
            }
            let (end_line, end_column) = end_position(&report.source, f.span);
            findings.push(FindingEntry {
                code: f.lint.code,
                name: f.lint.name,
                severity: f.severity,
                message: &f.message,
                path: &report.path,
                line: f.span.line as usize,
                column: f.span.column as usize,
                end_line,
                end_column,
                table: f.table.map(|t| t.as_str()),
                chain: f.chain.as_deref(),
                rule: f.rule,
                related: f
                    .related
                    .iter()
                    .map(|r| RelatedEntry {
                        path: &report.path,
                        line: r.span.line as usize,
                        column: r.span.column as usize,
                        message: &r.message,
                    })
                    .collect(),
                help: f.help.as_deref(),
            });
        }
    }
    findings.sort_by(|a, b| (a.path, a.line, a.code).cmp(&(b.path, b.line, b.code)));
    let files = reports
        .iter()
        .map(|r| FileEntry {
            path: &r.path,
            family: r.family.as_str(),
            tables: r.tables,
            chains: r.chains,
            rules: r.rules,
        })
        .collect();
    Report {
        version: 1,
        files,
        findings,
        summary,
    }
}

pub fn render(reports: &[FileReport]) -> String {
    let mut out = serde_json::to_string_pretty(&build(reports)).expect("the report serializes");
    out.push('\n');
    out
}
