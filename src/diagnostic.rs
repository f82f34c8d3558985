//! Findings: what every stage of iptlint produces and every renderer reads.

use serde::Serialize;

use crate::codes::Lint;
use crate::model::{Span, TableName};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A second place that explains a finding (the earlier rule, the jump site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub lint: &'static Lint,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    pub table: Option<TableName>,
    pub chain: Option<String>,
    /// 1-based index of the rule in its chain.
    pub rule: Option<usize>,
    pub related: Vec<Related>,
    pub help: Option<String>,
}

impl Finding {
    pub fn new(lint: &'static Lint, span: Span, message: impl Into<String>) -> Finding {
        Finding {
            lint,
            severity: lint.severity,
            message: message.into(),
            span,
            table: None,
            chain: None,
            rule: None,
            related: Vec::new(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, span: Span, message: impl Into<String>) -> Finding {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    pub fn at_rule(mut self, table: TableName, chain: &str, rule: Option<usize>) -> Finding {
        self.table = Some(table);
        self.chain = Some(chain.to_string());
        self.rule = rule;
        self
    }

    /// Syntax-stage errors make the input unusable: exit status 2.
    pub fn is_input_error(&self) -> bool {
        self.lint.category == crate::codes::Category::Syntax && self.severity == Severity::Error
    }
}
