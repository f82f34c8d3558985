//! What happens to packets along the netfilter paths: the walk behind
//! `iptlint diff` and `iptlint trace`.
//!
//! # The walk
//!
//! One symbolic walker ([`Walker`]) takes a *region* — a [`PacketSet`] of
//! original packets, as they entered the path — through the tables of a
//! [`Path`] in priority order. Its state is the region, the rewrites applied
//! so far ([`Rewrites`]: marks, NAT targets, conntrack changes), the
//! assumptions made about conditions iptlint cannot decide, and the trail
//! of steps. A rule splits the region into the packets it matches and those
//! it does not; each part goes its own way. A rule's test sees the
//! *rewritten* packet: a field no rewrite touched is tested directly; for a
//! rewritten field the rewrite's constant bits decide the test and the bits
//! it kept become a pattern on the original ([`PacketSet::preimage_masked`]),
//! so tests after `MARK` or a DNAT to one address stay exact. The leaves of
//! the walk are disjoint regions, each with one [`Fate`]: the final verdict
//! and the rewrites the packet leaves with, plus the deciding rule of each
//! table ([`Decision`]).
//!
//! # netfilter, as modelled
//!
//! - Per hook the tables run in priority order: raw (-300), mangle (-150),
//!   nat (-100, destination NAT: PREROUTING, OUTPUT), filter (0), security
//!   (50), nat (100, source NAT: INPUT, POSTROUTING). A path is its hooks in
//!   order: input = PREROUTING, INPUT; forward = PREROUTING, FORWARD,
//!   POSTROUTING; output = OUTPUT, POSTROUTING. The routing decision between
//!   hooks is not modelled: the path is the caller's choice (`diff` compares
//!   all three separately). A missing table or chain lets packets through.
//! - `ACCEPT` (and a NAT target, and an ACCEPT policy) ends only its table's
//!   chain: the next table still runs. `DROP`, `REJECT`, `QUEUE`/`NFQUEUE`
//!   end the path.
//! - `-j` pushes a return point, `-g` does not; `RETURN` or the end of a
//!   user chain goes back after the innermost `-j`, and with none left (a
//!   chain reached by `-g` from a builtin one) the builtin chain's policy
//!   applies. A branch that meets more rules than a bound allows (a loop,
//!   which a loadable dump cannot have) ends as unknown.
//! - The nat table sees only a connection's first packet (conntrack `NEW`).
//!   A later packet gets its connection's NAT, which is not in the rules, so
//!   nat chains are skipped for packets that are not `NEW`. A NAT sets the
//!   connection's `SNAT`/`DNAT` status bit, which `--ctstate` tests later.
//!   `NOTRACK`/`CT --notrack` makes the packet `UNTRACKED`.
//! - `CONNMARK` changes only packets with a conntrack entry.
//! - `LOG`, `NFLOG`, `TCPMSS`, `CLASSIFY` and other targets that change no
//!   modelled field let the walk go on; a target iptlint does not know ends
//!   the branch with an unknown verdict (it might be terminal).
//! - `DROP` and `REJECT` make the rewrites irrelevant: two drops are the
//!   same fate whatever the mark.
//!
//! # Unknown conditions
//!
//! A rule whose [`MatchSpace`](crate::space::MatchSpace) has `may ≠ must`
//! (an unmodelled match, a test of a field a rewrite made opaque) splits the
//! packets in `may − must` into "holds" and "does not hold", and records the
//! assumption on each branch (its text and line). For `diff`, a condition in
//! A is the same as one in B when its text is the same (the match as
//! iptables-save prints it, plus the rewrites seen before it): the two
//! dumps are compared per valuation of the shared conditions, which is an
//! assumption (`-m statistic --mode random` in both is taken to draw the
//! same way). A region whose outcome depends on a condition not shared, or
//! on opaque values, is reported as "may differ", never as equivalent.
//!
//! # Scale
//!
//! Rule spaces are compiled once per rule, when first met; a rule whose
//! space does not overlap the region costs one overlap test. Splitting a
//! region by many rules leaves pieces that differ in one field only; a
//! branch merges its pieces ([`PacketSet::compact`]) each time their number
//! doubles, and leaves are stored merged. The comparison of two walks
//! ([`compare`]) first pairs off pieces that are identical on both sides
//! (same cube, fate and assumptions: walks of similar dumps split alike),
//! then joins the rest by the intervals of their destination address (then
//! port, source, ...), so only pieces that can overlap are compared.
//!
//! Long chains are indexed by the field their rules test one value or
//! interval of (module `runs`): a *keyed run* is a stretch in which every
//! rule is exact, one cube, and tests one interval of the key, any two
//! intervals equal or disjoint (`KUBE-SERVICES`: `-d IP/32 -p tcp --dport
//! P` per rule; `KUBE-NODEPORTS`: `--dport P`). A branch takes a run in one
//! step: each rule gets the packets it matches first (only rules of the
//! same interval can overlap it), and the packets that miss the whole run
//! are the region minus the run's rules merged along the key, cut with the
//! key innermost ([`PacketSet::minus_all_along`]): one cube per protocol
//! and port with the addresses left for it, so that a later rule testing
//! the port alone meets only the cubes of its port. Walked rule by rule,
//! that region was cut by every rule in turn and its address list copied
//! and merged at each cut, which grew with the square of the chain. A
//! branch whose key was rewritten to one value (the packets a DNAT sent to
//! one pod meeting the filter table's `KUBE-SERVICES`), or that holds few
//! keys, skips the rules of the other keys. Runs are used only where they
//! see what the rules see one by one: not for a branch with a rewrite of a
//! field the run tests, not for an `-o` test at PREROUTING, and not when
//! steps are recorded (`trace` lists every rule a packet passed).
//!
//! Pieces of one region can also differ in one *large* field only: the
//! packets that take one NodePort rule are a few cubes whose destination
//! fields together cover every address. A branch therefore also merges
//! along its heaviest field whenever that field dominates its size
//! ([`PacketSet::merge_along`], which groups cubes by their other, small
//! fields), instead of carrying the address list to every later rule and
//! leaf. Neither runs nor merging change a set, only how it is cut into
//! cubes, so the walk stays exact: no constraint is dropped, every leaf is
//! still exactly the set of original packets with its fate
//! (`tests/diff_runs.rs` checks runs against the rule-by-rule walk).
//!
//! # Bounded memory
//!
//! A walk counts the *pieces* it holds ([`PacketSet::weight`]: the
//! intervals and patterns of every field of every cube, plus a fixed charge
//! per region for its history): leaves, branches waiting between stages,
//! and the work of the table being walked (added up every few hundred rules,
//! and for a single large region at every rule). Past the budget
//! ([`Walker::set_max_pieces`], [`DEFAULT_MAX_PIECES`]; `iptlint diff
//! --max-pieces`) the walk stops with [`GaveUp`] and `diff`/`trace` exit 2
//! with "gave up after N regions holding P pieces on the input path of
//! DUMP": a dump too complex to decide ends with an error, not by eating
//! the machine. A piece takes its share of cube
//! and leaf overhead (some 100 to 150 bytes in all).
//!
//! Measured (release, 2 cores shared with other jobs: user CPU time, then
//! peak RSS), `diff` of a generated kube-proxy dump (`gen-dump kube
//! --endpoints 3`) against itself over all three paths: 1,000 services
//! 0.5 s / 117 MB, 2,000 services 1.1 s / 209 MB, 4,000 services 2.3 s /
//! 380 MB, 10,000 services 5.8 s / 915 MB (before keyed runs: 1.0 s, 2.7 s,
//! 7.5 s and 36 s); against a copy with one DNAT port changed or one
//! ClusterIP rule removed, 6 to 7.5 s. Loading the two dumps takes about a
//! quarter of the peak, the leaves (about 100,000 a path, each some 1.5 kB
//! with its history) most of the rest.

mod compare;
mod describe;
mod query;
pub mod render;
mod rewrite;
mod runs;
mod walk;

pub use compare::{Difference, Side, compare};
pub use describe::{describe_set, interface_names};
pub use query::PacketQuery;
pub use rewrite::{FieldRewrite, Rewrites, field_name};
pub use walk::{
    Assumption, Conditions, DEFAULT_MAX_PIECES, Decision, Fate, GaveUp, Leaf, RuleOutcome, Step,
    Verdict, Walker,
};

use crate::model::TableName;
pub use crate::space::PacketSet;

/// A way through the hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// PREROUTING → INPUT: to a local process.
    Input,
    /// PREROUTING → FORWARD → POSTROUTING: routed through.
    Forward,
    /// OUTPUT → POSTROUTING: from a local process.
    Output,
    /// One hook alone (`PREROUTING`, `INPUT`, ...).
    Hook(&'static str),
}

/// One table's chain on one hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    pub hook: &'static str,
    pub table: TableName,
}

impl Path {
    pub const ALL: [Path; 3] = [Path::Input, Path::Forward, Path::Output];

    pub fn name(self) -> &'static str {
        match self {
            Path::Input => "input",
            Path::Forward => "forward",
            Path::Output => "output",
            Path::Hook(h) => h,
        }
    }

    /// `PREROUTING→INPUT`, ...
    pub fn hooks(self) -> &'static [&'static str] {
        match self {
            Path::Input => &["PREROUTING", "INPUT"],
            Path::Forward => &["PREROUTING", "FORWARD", "POSTROUTING"],
            Path::Output => &["OUTPUT", "POSTROUTING"],
            Path::Hook(h) => match h {
                "PREROUTING" => &["PREROUTING"],
                "INPUT" => &["INPUT"],
                "FORWARD" => &["FORWARD"],
                "OUTPUT" => &["OUTPUT"],
                _ => &["POSTROUTING"],
            },
        }
    }

    /// A hook by name (`INPUT`, case-insensitive).
    pub fn hook(name: &str) -> Option<Path> {
        crate::model::HOOK_NAMES
            .into_iter()
            .find(|h| h.eq_ignore_ascii_case(name))
            .map(Path::Hook)
    }

    /// The table chains the path runs, in order.
    pub fn stages(self) -> Vec<Stage> {
        use TableName::*;
        let mut out = Vec::new();
        for &hook in self.hooks() {
            let tables: &[TableName] = match hook {
                "PREROUTING" => &[Raw, Mangle, Nat],
                "INPUT" => &[Mangle, Filter, Security, Nat],
                "FORWARD" => &[Mangle, Filter, Security],
                "OUTPUT" => &[Raw, Mangle, Nat, Filter, Security],
                _ => &[Mangle, Nat],
            };
            out.extend(tables.iter().map(|&table| Stage { hook, table }));
        }
        out
    }
}

#[cfg(test)]
mod tests;
