//! Renderers: one file per output format. Each takes the reports of all
//! checked files and writes text; none of them decides anything.

pub mod compact;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

/// 1-based line and character column of byte offsets in one source text,
/// built once per file so that end positions cost a binary search.
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
