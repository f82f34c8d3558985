//! The equivalent smaller rule set (`iptlint optimize`). Work in progress.
