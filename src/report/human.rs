//! Output for people, through miette: the source line, a label under the
//! offending part, related places, help, and the lint's code.

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};

use crate::check::FileReport;
use crate::diagnostic::{Finding, Severity};

pub fn render(reports: &[FileReport], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    let mut out = String::new();
    let (mut errors, mut warnings, mut infos) = (0, 0, 0);
    for report in reports {
        for finding in &report.findings {
            match finding.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
                Severity::Info => infos += 1,
            }
            let diagnostic = to_miette(finding);
            let source = NamedSource::new(&report.path, report.source.clone());
            let report = Report::new(diagnostic).with_source_code(source);
            let _ = handler.render_report(&mut out, report.as_ref());
            out.push('\n');
        }
    }
    let files = reports.len();
    if errors + warnings + infos == 0 {
        out.push_str(&format!("No problems found in {files} file(s).\n"));
    } else {
        out.push_str(&format!(
            "Found {errors} error(s), {warnings} warning(s), {infos} info(s) in {files} file(s).\n"
        ));
    }
    out
}

fn to_miette(finding: &Finding) -> MietteDiagnostic {
    let severity = match finding.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    };
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(finding.lint.name.to_string()),
        (
            finding.span.start as usize,
            (finding.span.end - finding.span.start) as usize,
        ),
    )];
    for related in &finding.related {
        labels.push(LabeledSpan::new_with_span(
            Some(related.message.clone()),
            (
                related.span.start as usize,
                (related.span.end - related.span.start) as usize,
            ),
        ));
    }
    let mut help = finding.help.clone().unwrap_or_default();
    if !help.is_empty() {
        help.push('\n');
    }
    help.push_str(&format!("see `iptlint rule {}`", finding.lint.code));
    MietteDiagnostic::new(finding.message.clone())
        .with_code(format!("{}({})", finding.lint.code, finding.lint.name))
        .with_severity(severity)
        .with_labels(labels)
        .with_help(help)
}
