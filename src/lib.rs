//! iptlint: a linter, analyzer and optimizer for iptables rule sets.
//!
//! Data flows one way: text → [`syntax`] → [`model`] → [`graph`] → [`lints`] → findings →
//! [`report`]. [`check`] ties the steps together for one input.

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
pub mod space;
pub mod suppression;
pub mod syntax;
pub mod translate;

// pest is built without its `std` feature (its per-call stack probe was a
// third of the parse time); the code it derives names `crate::alloc`.
extern crate alloc;
