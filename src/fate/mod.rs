//! What happens to packets along the netfilter paths: the walk behind `iptlint diff` and `iptlint trace`. Work in progress.
