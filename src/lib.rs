//! iptlint: a linter, analyzer and optimizer for iptables rule sets.
//!
//! Data flows one way: text → [`syntax`] → [`model`] → [`lints`] → findings →
//! [`report`]. [`check`] ties the steps together for one input.

pub mod check;
pub mod codes;
pub mod diagnostic;
pub mod docs;
pub mod lints;
pub mod model;
pub mod report;
pub mod syntax;
