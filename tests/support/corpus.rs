//! `../shared/corpus`, for the tests that read the real rule sets. Each
//! skips (with a message) when it is absent.

use std::path::{Path, PathBuf};

/// The corpus directory, when it is there.
pub fn dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.join("MANIFEST.tsv").is_file().then_some(dir)
}

/// The dumps under `dumps/` that MANIFEST.tsv says the real
/// `iptables-restore --test` accepts (nft backend).
pub fn accepted_dumps(corpus: &Path) -> Vec<PathBuf> {
    accepted_under(corpus, &["dumps/"])
}

/// The files under any of `dirs` that MANIFEST.tsv says the real
/// `iptables-restore --test` accepts (nft backend).
pub fn accepted_under(corpus: &Path, dirs: &[&str]) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("readable");
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, notes) = (cols.first()?, cols.get(5)?);
            (dirs.iter().any(|d| file.starts_with(d))
                && notes.contains("restore --test (nft backend): OK"))
            .then(|| corpus.join(file))
        })
        .collect()
}
