//! One line per finding, for editors and grep:
//! `path:line:col: severity[CODE] name: message`.

use crate::check::FileReport;

pub fn render(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        for f in &report.findings {
            out.push_str(&format!(
                "{}:{}:{}: {}[{}] {}: {}\n",
                report.path,
                f.span.line,
                f.span.column,
                f.severity.as_str(),
                f.lint.code,
                f.lint.name,
                f.message
            ));
        }
    }
    out
}
