//! GitHub Actions workflow commands: each finding becomes an annotation on
//! the pull request (`::error file=...,line=...,col=...,title=...::message`).

use crate::check::FileReport;
use crate::diagnostic::Severity;

/// Workflow commands end at a newline and treat `%`, `\r`, `\n` specially in
/// the message; in properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        for f in &report.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            out.push_str(&format!(
                "::{command} file={},line={},col={},title={}::{}\n",
                escape_property(&report.path),
                f.span.line,
                f.span.column,
                escape_property(&format!("{} {}", f.lint.code, f.lint.name)),
                escape_data(&f.message)
            ));
        }
    }
    out
}
