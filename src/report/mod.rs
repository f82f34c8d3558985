//! Renderers: one file per output format. Each takes the reports of all
//! checked files and writes text; none of them decides anything.

pub mod compact;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use crate::model::Span;

/// 1-based line and character column where `span` ends, found from where it
/// starts (`span.line`, `span.column` at `span.start`) by reading only the
/// text of the span: a renderer never scans the whole file, whose pages may
/// have left memory (see [`crate::source::Source::release`]).
///
/// The same answer as [`LineIndex::position`] of `span.end`, also for an end
/// inside a character (column 1, as there) or past the text (its end). A
/// span that ends before it starts has no text to read: its end is found
/// from the start of the file.
pub fn end_position(source: &str, span: Span) -> (usize, usize) {
    let (start, end) = (span.start as usize, (span.end as usize).min(source.len()));
    if start > end || span.line == 0 {
        return LineIndex::new(source).position(end);
    }
    let (mut line, mut column) = (span.line as usize, span.column as usize);
    for &byte in &source.as_bytes()[start..end] {
        if byte == b'\n' {
            line += 1;
            column = 1;
        } else if !is_continuation(byte) {
            column += 1;
        }
    }
    if !source.is_char_boundary(end) {
        column = 1;
    }
    (line, column)
}

/// A byte that continues a UTF-8 character rather than starting one.
fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// 1-based line and character column of byte offsets in one source text,
/// built once per file so that many positions cost a binary search each.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let prefix = self.text.get(start..offset).unwrap_or("");
        (line + 1, prefix.chars().count() + 1)
    }
}
