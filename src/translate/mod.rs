//! nftables translation (`iptlint translate`). Work in progress.
