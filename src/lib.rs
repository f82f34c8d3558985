//! iptlint: a linter, analyzer and optimizer for iptables rule sets.
//!
//! Data flows one way: text → [`syntax`] → [`model`] → [`graph`] → [`lints`] → findings →
//! [`report`]. [`check`] ties the steps together for one input, whose text is a
//! [`source::Source`].

pub mod check;
pub mod codes;
pub mod config;
pub mod diagnostic;
pub mod docs;
pub mod fate;
pub mod graph;
pub mod lints;
pub mod model;
pub mod nft;
pub mod optimize;
pub mod report;
pub mod source;
pub mod space;
pub mod suppression;
pub mod syntax;
pub mod translate;

// pest is built without its `std` feature (its per-call stack probe was a
// third of the parse time); the code it derives names `crate::alloc`.
extern crate alloc;

/// mimalloc asks for transparent huge pages on its arenas, and where the
/// system allows them (`madvise` mode, Debian's default) every 2 MiB region
/// the heap touches becomes resident whole: an empty dump cost 14 MB of
/// RSS instead of 6, a kube-proxy dump of 12 MB about 12 MB more than its
/// heap. iptlint's heap is short-lived and mostly touched once, so small
/// pages cost no measurable time. mimalloc is built with `no_thp`, so it
/// never asks, not even before `main` (which kept 2 MiB resident for an
/// empty dump); this also keeps other allocations off huge pages. For the
/// binaries (and the examples that measure them), first thing in `main`:
/// pages already faulted in stay huge. It changes the process, so the
/// library never calls it itself.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory
    // of ours; if the kernel refuses it, nothing changes.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
