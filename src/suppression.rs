//! Suppression comments: a small lexer for `iptlint: ignore[...]`, and the
//! one place that applies suppressions to a file's findings.
//!
//! ```text
//! # iptlint: ignore[duplicate-rule, IPT202] optional reason
//! # iptlint: ignore-file[unreachable-chain] optional reason
//! -A INPUT ... -m comment --comment "iptlint: ignore[duplicate-rule]"
//! ```
//!
//! The list names lints by name or code, separated by commas or spaces. What
//! a suppression covers depends on where it stands:
//! - a `#` line directly after a chain declaration (`:CHAIN ...` or `-N
//!   CHAIN`, only other comment lines between): every finding in that chain;
//! - any other `#` line: the next rule, which must be the next line that is
//!   not blank or a comment, and an `-A`/`-I` line;
//! - `ignore-file`, in a `#` line or a rule's comment: the whole file;
//! - `ignore` in a rule's `--comment`: that rule. Unlike `#` lines, such a
//!   comment survives `iptables-restore` followed by `iptables-save`.
//!
//! A name that suppresses nothing is reported as `unused-suppression`. Text
//! that says `iptlint:` but does not lex, and names that are no lint, are
//! errors: a suppression that silently does nothing is worse than none.

use std::collections::HashMap;
use std::ops::Range;

use crate::codes::{self, Lint};
use crate::config::{Selector, UnknownLint};
use crate::diagnostic::Finding;
use crate::model::{Ruleset, Span, TableName};
use crate::report::LineIndex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `ignore[...]`: the next rule, the chain, or the rule it is in.
    Ignore,
    /// `ignore-file[...]`: the whole file.
    IgnoreFile,
}

impl Directive {
    fn as_str(self) -> &'static str {
        match self {
            Directive::Ignore => "ignore",
            Directive::IgnoreFile => "ignore-file",
        }
    }
}

/// One lexed suppression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression<'t> {
    pub directive: Directive,
    /// Each lint named, with the byte range of its name in the text.
    pub entries: Vec<(&'static Lint, Range<usize>)>,
    /// The text after `]`, trimmed; `None` when there is none.
    pub reason: Option<&'t str>,
}

/// Text that says `iptlint:` but is not a valid suppression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// Byte range in the text.
    pub range: Range<usize>,
    pub message: String,
}

/// Lexes the suppression in a comment's text. `Ok(None)`: the text has no
/// `iptlint:` marker (at the start of a word, any case) and is no suppression.
pub fn lex(text: &str) -> Result<Option<Suppression<'_>>, LexError> {
    let Some(after_marker) = find_marker(text) else {
        return Ok(None);
    };
    let mut cursor = Cursor {
        text,
        pos: after_marker,
    };
    cursor.skip_spaces();
    let word = cursor.word();
    let directive = match &text[word.clone()] {
        "ignore" => Directive::Ignore,
        "ignore-file" => Directive::IgnoreFile,
        "" => {
            return Err(LexError {
                range: word.start..word.start,
                message: "expected `ignore[...]` or `ignore-file[...]` after `iptlint:`".into(),
            });
        }
        other => {
            let hint = match crate::config::closest(other, ["ignore", "ignore-file"].into_iter()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "expected `ignore[...]` or `ignore-file[...]`".into(),
            };
            return Err(LexError {
                range: word,
                message: format!("unknown suppression `{other}`: {hint}"),
            });
        }
    };
    cursor.skip_spaces();
    let open = cursor.pos;
    if !cursor.eat(b'[') {
        return Err(LexError {
            range: open..open,
            message: format!(
                "expected `[` after `{0}`: name the lints to suppress, as in `{0}[duplicate-rule]`",
                directive.as_str()
            ),
        });
    }
    let mut entries = Vec::new();
    loop {
        cursor.skip_separators();
        match cursor.peek() {
            None => {
                return Err(LexError {
                    range: open..text.len(),
                    message: "the `[` is never closed with `]`".into(),
                });
            }
            Some(b']') => {
                cursor.pos += 1;
                break;
            }
            Some(b) if is_word_byte(b) => {
                let range = cursor.word();
                let name = &text[range.clone()];
                match codes::find(name) {
                    Some(lint) => entries.push((lint, range)),
                    None => {
                        let message = match Selector::parse(name) {
                            Ok(_) => format!(
                                "a suppression names single lints, by name or code, not `{name}`"
                            ),
                            Err(_) => UnknownLint::new(name).to_string(),
                        };
                        return Err(LexError { range, message });
                    }
                }
            }
            Some(_) => {
                let c = text[cursor.pos..].chars().next().unwrap_or(' ');
                return Err(LexError {
                    range: cursor.pos..cursor.pos + c.len_utf8(),
                    message: format!(
                        "unexpected `{c}` in the list of lints: separate names with commas"
                    ),
                });
            }
        }
    }
    if entries.is_empty() {
        return Err(LexError {
            range: open..cursor.pos,
            message: format!(
                "`{}[]` names no lint: list the lints to suppress",
                directive.as_str()
            ),
        });
    }
    let reason = text[cursor.pos..].trim();
    Ok(Some(Suppression {
        directive,
        entries,
        reason: (!reason.is_empty()).then_some(reason),
    }))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The offset just after `iptlint` + optional spaces + `:`, where `iptlint`
/// starts a word.
fn find_marker(text: &str) -> Option<usize> {
    const MARKER: &[u8] = b"iptlint";
    let bytes = text.as_bytes();
    let mut from = 0;
    while from + MARKER.len() <= bytes.len() {
        let at = from
            + bytes[from..]
                .windows(MARKER.len())
                .position(|w| w.eq_ignore_ascii_case(MARKER))?;
        from = at + MARKER.len();
        if at > 0 && is_word_byte(bytes[at - 1]) {
            continue;
        }
        let mut end = from;
        while end < bytes.len() && matches!(bytes[end], b' ' | b'\t') {
            end += 1;
        }
        if bytes.get(end) == Some(&b':') {
            return Some(end + 1);
        }
    }
    None
}

/// True when the text may hold a suppression (cheap; no allocation).
fn mentions_marker(text: &str) -> bool {
    text.as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"iptlint"))
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> Range<usize> {
        let start = self.pos;
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        start..self.pos
    }
}

// ---------------------------------------------------------------------------
// Applying suppressions to a file's findings
// ---------------------------------------------------------------------------

/// A problem with a suppression comment, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The findings left after suppression, and what went wrong.
#[derive(Debug, Default)]
pub struct Applied {
    /// The findings no suppression covers, followed by an
    /// `unused-suppression` finding for each name that suppressed nothing.
    pub findings: Vec<Finding>,
    /// How many findings were suppressed.
    pub suppressed: usize,
    pub errors: Vec<SuppressionError>,
}

/// Where a finding stands: table, chain and 1-based rule, as far as known.
type Place<'r> = (Option<TableName>, Option<&'r str>, Option<usize>);

#[derive(Debug)]
enum Scope<'r> {
    File,
    Chain(TableName, &'r str),
    /// The rule on this line (and its place in the model, when it is there).
    Rule(u32, Option<(TableName, &'r str, usize)>),
    /// A `#` suppression before something that is not a rule: covers nothing.
    Nothing(u32),
}

/// A suppression found in the file, ready to match findings.
struct Found<'r> {
    scope: Scope<'r>,
    /// Lint, where its name stands, and whether it suppressed something.
    entries: Vec<(&'static Lint, Span, bool)>,
    /// Where the suppression as a whole stands.
    span: Span,
    /// `true` for a rule's `--comment`.
    in_rule: bool,
}

impl Scope<'_> {
    fn covers(&self, finding: &Finding, place: Place<'_>) -> bool {
        match self {
            Scope::File => true,
            Scope::Chain(table, chain) => place.0 == Some(*table) && place.1 == Some(*chain),
            Scope::Rule(line, key) => {
                finding.span.line == *line
                    || key.is_some_and(|(t, c, r)| place == (Some(t), Some(c), Some(r)))
            }
            Scope::Nothing(_) => false,
        }
    }
}

/// One line of the source, as far as suppressions care.
#[derive(Debug, PartialEq, Eq)]
enum LineKind<'s> {
    Blank,
    Comment,
    Table,
    Chain(&'s str),
    Rule,
    Other,
}

fn classify(line: &str) -> LineKind<'_> {
    let t = line.trim();
    if t.is_empty() {
        return LineKind::Blank;
    }
    match t.as_bytes()[0] {
        b'#' => return LineKind::Comment,
        b'*' => return LineKind::Table,
        b':' => {
            let name = t[1..].split_whitespace().next().unwrap_or("");
            return LineKind::Chain(name);
        }
        _ => {}
    }
    let mut words = t
        .split_whitespace()
        .skip_while(|w| w.starts_with('[') || matches!(*w, "-4" | "-6" | "--ipv4" | "--ipv6"));
    match words.next() {
        Some("-A" | "--append" | "-I" | "--insert") => LineKind::Rule,
        Some(w) if w.starts_with("--append=") || w.starts_with("--insert=") => LineKind::Rule,
        Some("-N" | "--new-chain") => LineKind::Chain(words.next().unwrap_or("")),
        Some(w) if w.starts_with("--new-chain=") => LineKind::Chain(&w["--new-chain=".len()..]),
        _ => LineKind::Other,
    }
}

/// The table open at 1-based `line`: the nearest `*name` above it.
fn table_at(lines: &[&str], line: usize) -> TableName {
    lines[..line]
        .iter()
        .rev()
        .find_map(|l| {
            let t = l.trim();
            t.strip_prefix('*')
                .map(|name| TableName::parse(name.trim()).unwrap_or(TableName::Filter))
        })
        .unwrap_or(TableName::Filter)
}

/// The scope of an `ignore` in the `#` line at 1-based `line`.
fn comment_scope<'s>(
    lines: &[&'s str],
    line: usize,
    rules_by_line: &HashMap<u32, (TableName, &'s str, usize)>,
) -> Scope<'s> {
    // Directly after a chain declaration, other comments between?
    let mut above = line - 1;
    while above >= 1 && classify(lines[above - 1]) == LineKind::Comment {
        above -= 1;
    }
    if above >= 1
        && let LineKind::Chain(name) = classify(lines[above - 1])
    {
        return Scope::Chain(table_at(lines, above), name);
    }
    let mut below = line + 1;
    while below <= lines.len()
        && matches!(
            classify(lines[below - 1]),
            LineKind::Blank | LineKind::Comment
        )
    {
        below += 1;
    }
    if below <= lines.len() && classify(lines[below - 1]) == LineKind::Rule {
        let at = below as u32;
        return Scope::Rule(at, rules_by_line.get(&at).copied());
    }
    Scope::Nothing(below.min(lines.len()) as u32)
}

/// Where a finding stands: its own table, chain and rule when the lint set
/// them, else what the line it points at is (a rule, a chain declaration).
fn place_of<'a>(
    f: &'a Finding,
    rules_by_line: &HashMap<u32, (TableName, &'a str, usize)>,
    chains_by_line: &HashMap<u32, (TableName, &'a str)>,
) -> Place<'a> {
    if f.table.is_some() && f.chain.is_some() {
        return (f.table, f.chain.as_deref(), f.rule);
    }
    if let Some((t, c, r)) = rules_by_line.get(&f.span.line) {
        return (Some(*t), Some(*c), Some(*r));
    }
    if let Some((t, c)) = chains_by_line.get(&f.span.line) {
        return (Some(*t), Some(*c), None);
    }
    (f.table, f.chain.as_deref(), f.rule)
}

/// Marks every entry of `found` that covers `finding`; true when one does.
fn suppress(found: &mut [Found<'_>], finding: &Finding, place: Place<'_>) -> bool {
    let mut hit = false;
    for s in found.iter_mut() {
        if !s.scope.covers(finding, place) {
            continue;
        }
        for (lint, _, used) in &mut s.entries {
            if lint.code == finding.lint.code {
                *used = true;
                hit = true;
            }
        }
    }
    hit
}

/// Applies every suppression in the file to its findings.
pub fn apply(ruleset: &Ruleset, source: &str, findings: Vec<Finding>) -> Applied {
    let in_comments = ruleset.comments.iter().any(|c| mentions_marker(&c.text));
    let rule_comments: Vec<_> = ruleset
        .tables
        .iter()
        .flat_map(|t| t.chains.iter().map(move |c| (t, c)))
        .flat_map(|(t, c)| {
            c.rules
                .iter()
                .enumerate()
                .map(move |(i, r)| (t.name, c.name.as_str(), i + 1, r))
        })
        .flat_map(|(t, c, i, rule)| {
            rule.matches
                .iter()
                .filter(|m| m.module == "comment")
                .flat_map(|m| &m.options)
                .filter(|o| o.name == "--comment")
                .filter_map(move |o| {
                    let word = o.words.first()?;
                    mentions_marker(&word.text)
                        .then(|| (t, c, i, rule.span.line, word, word.span_in(rule)))
                })
        })
        .collect();
    if !in_comments && rule_comments.is_empty() {
        return Applied {
            findings,
            ..Applied::default()
        };
    }

    let index = LineIndex::new(source);
    let span_at = |start: usize, end: usize| {
        let (line, column) = index.position(start);
        Span {
            start: start as u32,
            end: end as u32,
            line: line as u32,
            column: column as u32,
        }
    };
    let lines: Vec<&str> = source.split('\n').collect();
    let mut rules_by_line = HashMap::new();
    let mut chains_by_line = HashMap::new();
    for table in &ruleset.tables {
        for chain in &table.chains {
            chains_by_line.insert(chain.span.line, (table.name, chain.name.as_str()));
            for (i, rule) in chain.rules.iter().enumerate() {
                rules_by_line.insert(rule.span.line, (table.name, chain.name.as_str(), i + 1));
            }
        }
    }

    let mut found: Vec<Found<'_>> = Vec::new();
    let mut errors = Vec::new();
    for comment in &ruleset.comments {
        if !mentions_marker(&comment.text) {
            continue;
        }
        // The text starts after the `#`.
        let base = comment.span.start as usize + 1;
        match lex(&comment.text) {
            Ok(None) => {}
            Err(e) => {
                let span = span_at(base + e.range.start, base + e.range.end);
                errors.push(SuppressionError {
                    line: span.line as usize,
                    column: span.column as usize,
                    message: e.message,
                });
            }
            Ok(Some(s)) => {
                let line = comment.span.line as usize;
                let scope = match s.directive {
                    Directive::IgnoreFile => Scope::File,
                    Directive::Ignore if line >= 1 && line <= lines.len() => {
                        comment_scope(&lines, line, &rules_by_line)
                    }
                    Directive::Ignore => Scope::Nothing(comment.span.line),
                };
                let entries = s
                    .entries
                    .iter()
                    .map(|(lint, r)| (*lint, span_at(base + r.start, base + r.end), false))
                    .collect();
                found.push(Found {
                    scope,
                    entries,
                    span: comment.span,
                    in_rule: false,
                });
            }
        }
    }
    for (table, chain, rule, line, word, word_span) in rule_comments {
        // Point into the comment when the source holds its text verbatim
        // (quoted or not); else at the whole argument.
        let written = source.get(word_span.range()).unwrap_or("");
        let base = if written == word.text {
            Some(word_span.start as usize)
        } else if written
            .strip_prefix('"')
            .and_then(|w| w.strip_suffix('"'))
            .is_some_and(|w| w == word.text)
        {
            Some(word_span.start as usize + 1)
        } else {
            None
        };
        let locate = |r: &Range<usize>| match base {
            Some(b) => span_at(b + r.start, b + r.end),
            None => word_span,
        };
        match lex(&word.text) {
            Ok(None) => {}
            Err(e) => {
                let span = locate(&e.range);
                errors.push(SuppressionError {
                    line: span.line as usize,
                    column: span.column as usize,
                    message: e.message,
                });
            }
            Ok(Some(s)) => {
                let scope = match s.directive {
                    Directive::IgnoreFile => Scope::File,
                    Directive::Ignore => Scope::Rule(line, Some((table, chain, rule))),
                };
                let entries = s
                    .entries
                    .iter()
                    .map(|(lint, r)| (*lint, locate(r), false))
                    .collect();
                found.push(Found {
                    scope,
                    entries,
                    span: word_span,
                    in_rule: true,
                });
            }
        }
    }

    let mut kept = Vec::with_capacity(findings.len());
    let mut suppressed = 0;
    for finding in findings {
        let place = place_of(&finding, &rules_by_line, &chains_by_line);
        if suppress(&mut found, &finding, place) {
            suppressed += 1;
        } else {
            kept.push(finding);
        }
    }

    let mut unused = Vec::new();
    for s in &found {
        if let Scope::Nothing(line) = s.scope {
            unused.push(
                Finding::new(
                    &codes::UNUSED_SUPPRESSION,
                    s.span,
                    format!(
                        "this suppression covers nothing: line {line} is not a rule (`-A`/`-I`), and the suppression does not directly follow a chain declaration"
                    ),
                )
                .help("put it on the line before the rule, or directly after the chain's `:CHAIN` line; or remove it"),
            );
            continue;
        }
        for (lint, span, used) in &s.entries {
            if *used || lint.code == codes::UNUSED_SUPPRESSION.code {
                continue;
            }
            let covered = match &s.scope {
                Scope::File => "in this file".to_string(),
                Scope::Chain(table, chain) => format!("in chain `{chain}` (table {table})"),
                Scope::Rule(..) if s.in_rule => "on this rule".to_string(),
                Scope::Rule(line, _) => format!("on the rule at line {line}"),
                Scope::Nothing(_) => unreachable!("handled above"),
            };
            unused.push(
                Finding::new(
                    &codes::UNUSED_SUPPRESSION,
                    *span,
                    format!(
                        "`{}` ({}) is suppressed {covered}, which has no such finding",
                        lint.name, lint.code
                    ),
                )
                .help({
                    let mut help = if s.entries.len() > 1 {
                        format!("remove `{}` from the suppression", lint.name)
                    } else {
                        "remove the suppression".to_string()
                    };
                    if let Scope::Chain(_, chain) = &s.scope {
                        help.push_str(&format!(
                            "; directly after `{chain}`'s declaration it covers that chain: leave a blank line after the declaration to make it cover the next rule"
                        ));
                    }
                    help
                }),
            );
        }
    }
    // Suppressions of `unused-suppression` itself.
    for finding in unused {
        let place = place_of(&finding, &rules_by_line, &chains_by_line);
        if suppress(&mut found, &finding, place) {
            suppressed += 1;
        } else {
            kept.push(finding);
        }
    }
    Applied {
        findings: kept,
        suppressed,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Suppression<'_>) -> Vec<&'static str> {
        s.entries.iter().map(|(l, _)| l.name).collect()
    }

    #[test]
    fn lexes_names_codes_and_reason() {
        let text = " iptlint: ignore[duplicate-rule, IPT202] the probe needs it";
        let s = lex(text).unwrap().unwrap();
        assert_eq!(s.directive, Directive::Ignore);
        assert_eq!(names(&s), ["duplicate-rule", "unreachable-rule"]);
        assert_eq!(&text[s.entries[1].1.clone()], "IPT202");
        assert_eq!(s.reason, Some("the probe needs it"));

        let s = lex("IPTLINT : ignore-file [ empty-chain ipt301 ,]")
            .unwrap()
            .unwrap();
        assert_eq!(s.directive, Directive::IgnoreFile);
        assert_eq!(names(&s), ["empty-chain", "empty-chain"]);
        assert_eq!(s.reason, None);

        let s = lex("allow ssh; iptlint: ignore[IPT203]").unwrap().unwrap();
        assert_eq!(names(&s), ["duplicate-rule"]);
    }

    #[test]
    fn text_without_the_marker_is_no_suppression() {
        for text in [
            "",
            " Generated by iptables-save",
            "myiptlint: ignore[x]",
            "iptlint ignore[x]",
            "iptlint",
        ] {
            assert_eq!(lex(text), Ok(None), "{text:?}");
        }
    }

    #[test]
    fn mistakes_are_errors_with_their_place() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "iptlint: ignore[duplicte-rule]",
                "duplicte-rule",
                "unknown lint `duplicte-rule`; did you mean `duplicate-rule`?",
            ),
            (
                "iptlint: ignroe[IPT203]",
                "ignroe",
                "unknown suppression `ignroe`: did you mean `ignore`?",
            ),
            (
                "iptlint: ignore IPT203",
                "",
                "expected `[` after `ignore`: name the lints to suppress, as in `ignore[duplicate-rule]`",
            ),
            (
                "iptlint: ignore[IPT203",
                "[IPT203",
                "the `[` is never closed with `]`",
            ),
            (
                "iptlint: ignore[]",
                "[]",
                "`ignore[]` names no lint: list the lints to suppress",
            ),
            (
                "iptlint: ignore[IPT2]",
                "IPT2",
                "a suppression names single lints, by name or code, not `IPT2`",
            ),
            (
                "iptlint: ignore[ALL]",
                "ALL",
                "a suppression names single lints, by name or code, not `ALL`",
            ),
            (
                "iptlint: ignore[IPT203;IPT202]",
                ";",
                "unexpected `;` in the list of lints: separate names with commas",
            ),
            (
                "iptlint:",
                "",
                "expected `ignore[...]` or `ignore-file[...]` after `iptlint:`",
            ),
        ];
        for (text, at, message) in cases {
            let e = lex(text).expect_err(text);
            assert_eq!(&text[e.range.clone()], *at, "{text}");
            assert_eq!(e.message, *message, "{text}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "iptlint:ignore[é",
            "iptlint: ignore[ü]",
            "iptlint: ignore-file",
            "iptlint:\u{0}",
            "iptlintiptlint:ignore[IPT001]",
        ] {
            let _ = lex(text);
        }
    }

    #[test]
    fn classifies_lines() {
        assert_eq!(classify(":INPUT ACCEPT [0:0]"), LineKind::Chain("INPUT"));
        assert_eq!(classify("-N WEB"), LineKind::Chain("WEB"));
        assert_eq!(classify("--new-chain=WEB"), LineKind::Chain("WEB"));
        assert_eq!(classify("[1:2] -A INPUT -j ACCEPT"), LineKind::Rule);
        assert_eq!(classify("  -4 -I INPUT 1 -j ACCEPT"), LineKind::Rule);
        assert_eq!(classify("--append=INPUT -j DROP"), LineKind::Rule);
        assert_eq!(classify("-D INPUT 1"), LineKind::Other);
        assert_eq!(classify("  # x"), LineKind::Comment);
        assert_eq!(classify(" \r"), LineKind::Blank);
        assert_eq!(classify("*nat"), LineKind::Table);
        assert_eq!(classify("COMMIT"), LineKind::Other);
    }
}
