//! Runs of rules keyed by one field: the index that lets a region meet only
//! the rules of a long chain that can overlap it.
//!
//! A kube-proxy `KUBE-SERVICES` chain is thousands of rules, each matching
//! `-d IP/32 -p tcp --dport P`; `KUBE-NODEPORTS` is hundreds matching `-p
//! tcp --dport P`. Walked rule by rule, the region of packets that missed
//! every rule so far is cut by each rule in turn, and its destination field
//! (the list of addresses seen so far) is copied and merged at each cut:
//! time grows with the square of the chain.
//!
//! A *keyed run* is a stretch of a chain in which every rule is exact (no
//! unknown condition), is one cube, and restricts one field, the key (the
//! same for the whole run), to one interval; any two of those intervals are
//! equal or disjoint. Rules that match nothing may stand anywhere in a run.
//! Such a run is a partition: a packet whose key lies in no rule's interval
//! misses every rule of the run, and one whose key lies in interval `K`
//! can only match the rules keyed by `K`. So a region `R` at the top of the
//! run splits exactly into
//!
//! - for each interval `K` and each rule `k` keyed by `K`, in chain order:
//!   `(R ∩ rule k) − (the earlier rules keyed by K)`: the packets that
//!   match `k` first (every earlier rule of another key is disjoint from
//!   rule `k`, so leaving it out changes nothing), left to `k`'s target;
//! - the packets that miss the run: `R ∩ M`, where `M`, the packets no rule
//!   of the run matches, is made once per run
//!   ([`PacketSet::minus_all_along`]: rules equal but for the key are
//!   merged into one cube and the key is cut last, so `M` has a cube per
//!   protocol and port with the addresses left for it, not a cube per
//!   address).
//!
//! Each part is computed from `R` once, not from the remains of every
//! earlier rule. The sets are the same as the rule-by-rule walk gives: only
//! the cubes they are cut into differ, and the comparison decides on sets.
//! A branch that comes back into a run (a rule's `-j` returned) lies within
//! that rule's interval and meets the rest of its interval's rules only.
//!
//! The walk (see `walk.rs`) takes a run at once only where the rule-by-rule
//! walk would see the same rule spaces: when no rewrite applied to the
//! branch touches a field a rule of the run tests (a test of a rewritten
//! field is a different set of original packets), and not for an `-o` test
//! at PREROUTING (which the walk adjusts). Any other branch still skips the
//! rules whose interval holds none of its keys, when it holds few: its own
//! values of the key, or the one value a rewrite gave it (a DNAT to one
//! pod); it meets the remaining rules one by one. Runs are never used when
//! steps are recorded (`trace` prints every rule a packet passed).

use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::space::{Dim, MatchSpace, PacketSet};

/// The fields a run may be keyed by, most useful first: rules tell packets
/// apart by these, one value or prefix at a time.
const KEY_DIMS: [Dim; 6] = [
    Dim::Dst,
    Dim::DstPort,
    Dim::Src,
    Dim::SrcPort,
    Dim::InInterface,
    Dim::OutInterface,
];

/// A stretch of a chain keyed by one field (see the module docs).
#[derive(Debug)]
pub(super) struct KeyedRun {
    pub(super) dim: Dim,
    /// The first rule of the run and one past its last.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The intervals the rules test on `dim`: sorted, pairwise disjoint.
    pub(super) keys: Vec<(u128, u128)>,
    /// Per interval, its rules (chain indices) in chain order.
    pub(super) rules: Vec<Vec<usize>>,
    /// The dimensions some rule of the run tests.
    pub(super) dims: Vec<Dim>,
    /// The packets no rule of the run matches, cut with the key innermost
    /// ([`PacketSet::minus_all_along`]), made when first needed.
    pub(super) missed: OnceCell<PacketSet>,
}

impl KeyedRun {
    /// The indices of the keys that overlap `lo..=hi`.
    pub(super) fn keys_within(&self, lo: u128, hi: u128) -> std::ops::Range<usize> {
        let from = self.keys.partition_point(|k| k.1 < lo);
        let to = self.keys.partition_point(|k| k.0 <= hi);
        from..to.max(from)
    }
}

/// The keyed runs of one chain, and which rule belongs to which.
#[derive(Debug, Default)]
pub(super) struct ChainRuns {
    pub(super) runs: Vec<KeyedRun>,
    /// Per rule, the index of its run in `runs`.
    run_of: Vec<Option<u32>>,
}

impl ChainRuns {
    /// The run rule `rule` belongs to, if any.
    pub(super) fn at(&self, rule: usize) -> Option<&KeyedRun> {
        let i = (*self.run_of.get(rule)?)?;
        Some(&self.runs[i as usize])
    }
}

/// How a rule can take part in a run.
enum Role {
    /// No packet matches it: it fits in any run.
    Never,
    /// Exact, one cube: the interval it tests on each key dimension it
    /// restricts to one interval.
    Keyed(Box<[Option<(u128, u128)>; KEY_DIMS.len()]>),
    /// Anything else ends a run.
    Breaks,
}

fn role(ms: &MatchSpace) -> Role {
    if !ms.is_exact() {
        return Role::Breaks;
    }
    if ms.may.is_empty() {
        return Role::Never;
    }
    let keys = KEY_DIMS.map(|d| ms.may.cube_interval(d));
    if keys.iter().all(Option::is_none) {
        Role::Breaks
    } else {
        Role::Keyed(Box::new(keys))
    }
}

/// Finds the keyed runs of a chain of `n` rules of at least `min_rules`
/// rules each (`space(i)` is rule `i`'s match space). Greedy from the top:
/// at each rule, the key dimension that gives the longest run wins; a rule
/// in no run long enough is walked on its own.
pub(super) fn find_runs<'s>(
    n: usize,
    min_rules: usize,
    space: impl Fn(usize) -> &'s MatchSpace,
) -> ChainRuns {
    let mut out = ChainRuns {
        runs: Vec::new(),
        run_of: vec![None; n],
    };
    if n < min_rules.max(2) {
        return out;
    }
    let roles: Vec<Role> = (0..n).map(|i| role(space(i))).collect();
    let mut start = 0;
    while start < n {
        let best = (0..KEY_DIMS.len())
            .map(|k| (run_end(&roles, start, k), k))
            .max_by_key(|&(end, k)| (end, std::cmp::Reverse(k)));
        let Some((end, k)) = best.filter(|&(end, _)| end - start >= min_rules.max(2)) else {
            start += 1;
            continue;
        };
        let mut by_key: BTreeMap<(u128, u128), Vec<usize>> = BTreeMap::new();
        let mut dims = Vec::new();
        for (i, r) in roles.iter().enumerate().take(end).skip(start) {
            if let Role::Keyed(keys) = r {
                let key = keys[k].expect("run_end checked the key");
                by_key.entry(key).or_default().push(i);
                for d in space(i).may.dims() {
                    if !dims.contains(&d) {
                        dims.push(d);
                    }
                }
            }
        }
        let index = out.runs.len() as u32;
        for slot in &mut out.run_of[start..end] {
            *slot = Some(index);
        }
        let (keys, rules) = by_key.into_iter().unzip();
        out.runs.push(KeyedRun {
            dim: KEY_DIMS[k],
            start,
            end,
            keys,
            rules,
            dims,
            missed: OnceCell::new(),
        });
        start = end;
    }
    out
}

/// One past the last rule of the run keyed by `KEY_DIMS[k]` that starts at
/// `start` (`start` itself when the rule there is not keyed so).
fn run_end(roles: &[Role], start: usize, k: usize) -> usize {
    // The intervals so far, by lower bound: a new one must be one of them
    // or overlap none.
    let mut seen: BTreeMap<u128, u128> = BTreeMap::new();
    let mut keyed = false;
    let mut end = start;
    for (i, r) in roles.iter().enumerate().skip(start) {
        match r {
            Role::Never => {}
            Role::Breaks => break,
            Role::Keyed(keys) => {
                let Some((lo, hi)) = keys[k] else { break };
                let below = seen.range(..=lo).next_back();
                let fits = match below {
                    Some((&l, &h)) if l == lo => h == hi,
                    Some((_, &h)) if h >= lo => false,
                    _ => seen.range(lo..).next().is_none_or(|(&l, _)| l > hi),
                };
                if !fits {
                    break;
                }
                seen.insert(lo, hi);
                keyed = true;
            }
        }
        end = i + 1;
    }
    // A run needs one keyed rule; rules that match nothing alone are not one.
    if keyed { end } else { start }
}
