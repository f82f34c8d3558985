//! The words of a command line, as the grammar splits them, unquoted.

use crate::model::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `!`
    Bang,
    /// `-s`, `--dport`; `inline` holds the value of `--opt=value`.
    Option { inline: Option<(String, Span)> },
    /// An argument, unquoted.
    Value,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub kind: TokenKind,
    /// The option name or the unquoted argument text.
    pub text: String,
    pub span: Span,
}

impl Token {
    pub fn is_value(&self) -> bool {
        self.kind == TokenKind::Value
    }
}

/// Undoes iptables-restore's escapes inside double quotes: a backslash takes
/// the next character as it is.
pub fn unescape_double_quoted(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
