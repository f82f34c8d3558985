//! The text of one input, shared by the parser, the suppressions and the
//! renderers. A regular file is memory-mapped rather than read, so that the
//! text does not take a private copy in memory for the whole run: the pages
//! the kernel maps in are dropped again (see [`Source::release`]) once the
//! text they hold has been read, and come back from the file when a
//! renderer shows a line.

use std::fmt;
use std::fs::File;
use std::ops::{Deref, Range};
use std::sync::Arc;

use memmap2::Mmap;

/// How much text is validated as UTF-8 before its pages are dropped.
const VALIDATE_BYTES: usize = 1 << 20;

/// The text of one input: cheap to clone, read as a `&str`.
#[derive(Clone)]
pub struct Source(Repr);

#[derive(Clone)]
enum Repr {
    /// Text read into memory (standard input, a pipe, a file that is not
    /// UTF-8). An `Arc<String>` takes the `String` as it is, where
    /// `Arc<str>` would copy it.
    Read(Arc<String>),
    /// Text the caller already shares.
    Shared(Arc<str>),
    /// A regular file, mapped read-only; its bytes were checked to be UTF-8.
    Mapped(Arc<Mmap>),
}

impl Source {
    /// Decodes bytes read from an input; invalid UTF-8 (a binary comment)
    /// is replaced, as iptables itself does not care about the encoding of
    /// comments. Valid text is kept without a copy.
    pub fn decode(bytes: Vec<u8>) -> Source {
        match String::from_utf8(bytes) {
            Ok(text) => Source::from(text),
            Err(e) => Source::from(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    /// The text of `file` when it is a non-empty regular file that can be
    /// memory-mapped; `None` for anything else (a pipe, a terminal,
    /// `/dev/stdin`, a `/proc` file that reports size 0, a file system that
    /// cannot map), which the caller reads instead. A file that is not UTF-8
    /// is decoded as [`Source::decode`] does, into memory.
    ///
    /// The size is the file's when it is mapped: the caller checks it
    /// against its limit on the returned text.
    ///
    /// A mapped file that another process truncates while iptlint runs
    /// makes the next access to the lost pages raise SIGBUS, which ends the
    /// process. ripgrep maps its inputs on the same terms: rule files are
    /// not rewritten in place while they are checked, and the memory saved
    /// is the size of the file.
    pub fn map_file(file: &File) -> Option<Source> {
        let meta = file.metadata().ok()?;
        if !meta.file_type().is_file() || meta.len() == 0 {
            return None;
        }
        // SAFETY: the map is read-only and its bytes are only read through
        // `&[u8]`/`&str`. Another process changing the file while it is
        // mapped would change those bytes under us, which Rust cannot rule
        // out; see the SIGBUS note above for the trade made here.
        let map = unsafe { Mmap::map(file) }.ok()?;
        let source = Source(Repr::Mapped(Arc::new(map)));
        let bytes = source.bytes();
        let mut valid = 0;
        while valid < bytes.len() {
            let start = valid;
            let end = (valid + VALIDATE_BYTES).min(bytes.len());
            match std::str::from_utf8(&bytes[valid..end]) {
                Ok(_) => valid = end,
                // A character cut by the end of the chunk: read on from its
                // first byte. At most 3 bytes are left, so `valid` grows.
                Err(e) if e.error_len().is_none() && end < bytes.len() => {
                    valid += e.valid_up_to();
                }
                Err(_) => {
                    return Some(Source::from(String::from_utf8_lossy(bytes).into_owned()));
                }
            }
            source.release(start..valid);
        }
        Some(source)
    }

    /// Says that the text in `range` will not be read again soon. For a
    /// mapped file, this drops the pages that hold it from the process: the
    /// next read of them maps them again from the file (or the page cache),
    /// so the text stays the same and only its residence changes. Text held
    /// in memory stays as it is.
    ///
    /// Ranges are meant to come in file order: the page where `range`
    /// starts is dropped whole (the text before it on that page was done
    /// with already), the page where it ends is kept for the next range,
    /// except at the end of the text.
    pub fn release(&self, range: Range<usize>) {
        let Repr::Mapped(map) = &self.0 else {
            return;
        };
        let page = page_size();
        let start = range.start - range.start % page;
        let end = if range.end >= map.len() {
            map.len()
        } else {
            range.end - range.end % page
        };
        if start >= end {
            return;
        }
        // SAFETY: `map` is a shared, read-only mapping of a file. For such a
        // mapping MADV_DONTNEED only unmaps pages; it does not discard
        // anything, and the next access faults the same file contents back
        // in. Every `&str` into the map stays valid and reads the same
        // bytes (the same caveat as mapping at all: unless another process
        // changes the file).
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }

    /// True when the text is a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Repr::Mapped(_))
    }

    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Read(text) => text.as_bytes(),
            Repr::Shared(text) => text.as_bytes(),
            Repr::Mapped(map) => map,
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

impl Deref for Source {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            Repr::Read(text) => text,
            Repr::Shared(text) => text,
            // SAFETY: `map_file` returns a mapped source only after checking
            // that all of its bytes are UTF-8, and the map is read-only.
            Repr::Mapped(map) => unsafe { std::str::from_utf8_unchecked(map) },
        }
    }
}

impl AsRef<str> for Source {
    fn as_ref(&self) -> &str {
        self
    }
}

impl From<String> for Source {
    fn from(text: String) -> Source {
        Source(Repr::Read(Arc::new(text)))
    }
}

impl From<Arc<str>> for Source {
    fn from(text: Arc<str>) -> Source {
        Source(Repr::Shared(text))
    }
}

impl From<&str> for Source {
    fn from(text: &str) -> Source {
        Source(Repr::Shared(Arc::from(text)))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for Source {
    /// The length and kind, not the text: a report's `Debug` would print
    /// the whole file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Repr::Read(_) => "read",
            Repr::Shared(_) => "shared",
            Repr::Mapped(_) => "mapped",
        };
        write!(f, "Source({kind}, {} bytes)", self.len())
    }
}

impl miette::SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text: &'a str = self;
        text.read_span(span, context_lines_before, context_lines_after)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(bytes).expect("write");
        file
    }

    #[test]
    fn a_regular_file_is_mapped_and_reads_as_written() {
        // Longer than one validation chunk, with a 3-byte character across
        // the chunk boundary.
        let mut text = "a".repeat(VALIDATE_BYTES - 1);
        text.push_str("€ caf\u{e9}\r\n-A INPUT -j ACCEPT\n");
        let file = file_with(text.as_bytes());
        let source = Source::map_file(file.as_file()).expect("mapped");
        assert!(source.is_mapped());
        assert_eq!(&*source, text);
        // Released text reads the same: the pages come back from the file.
        source.release(0..source.len());
        assert_eq!(&*source, text);
    }

    /// Kilobytes of the mapping that holds `text` resident in this process,
    /// from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn resident_kb(text: &str) -> usize {
        let at = text.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split(' ').next().and_then(|r| r.split_once('-'));
            if let Some((start, end)) = range
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                inside = (start..end).contains(&at);
            } else if inside && let Some(kb) = line.strip_prefix("Rss:") {
                return kb.trim().trim_end_matches("kB").trim().parse().expect("kB");
            }
        }
        panic!("no mapping holds the text");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_text_leaves_the_process_until_it_is_read_again() {
        let text = "-A INPUT -j ACCEPT\n".repeat(4 << 20 >> 5);
        let file = file_with(text.as_bytes());
        let source = Source::map_file(file.as_file()).expect("mapped");
        // Checked piece by piece, each piece released after it, to the end.
        assert_eq!(resident_kb(&source), 0);
        let sum: u64 = source.bytes().iter().map(|&b| u64::from(b)).sum();
        assert!(sum > 0);
        assert!(resident_kb(&source) >= 2000, "{}", resident_kb(&source));
        // In file order, as the parser releases. The second half stays, or
        // less of it: where the kernel mapped a 2 MiB page of the file whole,
        // dropping part of it unmaps all of it.
        source.release(0..source.len() / 2 + 10);
        let half = resident_kb(&source);
        assert!(half <= (source.len() / 2 + page_size()) / 1024, "{half}");
        source.release(source.len() / 2 + 10..source.len());
        assert_eq!(resident_kb(&source), 0);
        assert_eq!(&*source, text);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_decoded_into_memory() {
        let file = file_with(b"*filter\n# caf\xe9\nCOMMIT\n");
        let source = Source::map_file(file.as_file()).expect("read");
        assert!(!source.is_mapped());
        assert_eq!(&*source, "*filter\n# caf\u{fffd}\nCOMMIT\n");
        // A character cut by the end of the file is invalid too.
        let file = file_with(b"*filter\n# \xe2\x82");
        let source = Source::map_file(file.as_file()).expect("read");
        assert!(!source.is_mapped());
        assert_eq!(&*source, "*filter\n# \u{fffd}");
    }

    #[test]
    fn only_non_empty_regular_files_are_mapped() {
        let empty = file_with(b"");
        assert!(Source::map_file(empty.as_file()).is_none());
        let dir = File::open(std::env::temp_dir()).expect("open a directory");
        assert!(Source::map_file(&dir).is_none());
    }

    #[test]
    fn decoding_keeps_valid_text_and_replaces_the_rest() {
        assert_eq!(&*Source::decode(b"-A X\n".to_vec()), "-A X\n");
        assert_eq!(&*Source::decode(b"# \xff\n".to_vec()), "# \u{fffd}\n");
    }
}
