//! An index of a chain's rules by their interval on one dimension, so that a
//! rule meets only the other rules that can overlap it.
//!
//! Entries are grouped by the bit length of their width (class `k` holds
//! intervals narrower than `2^k`), each class sorted by lower bound: an
//! interval of class `k` overlapping `[a, b]` starts in `(a − 2^k, b]`, one
//! binary search per class. Intervals that span the whole dimension are kept
//! apart in rule order, so the rules in a window of positions are one slice.
//!
//! A long chain is one index of one entry per rule, alive while its lint
//! runs: every key dimension but an IPv6 address fits in 32 bits, and then
//! an entry is 12 bytes instead of 48.

use rayon::prelude::*;

use crate::lints::dead_code::PAR_RULES;
use crate::space::{Dim, PacketSet};

/// The dimensions an index may key on.
const KEYS: [Dim; 5] = [Dim::Src, Dim::Dst, Dim::DstPort, Dim::SrcPort, Dim::Mark];

pub struct Index {
    pub dim: Dim,
    entries: Entries,
    /// The non-empty classes in order: (class, where its entries end).
    classes: Vec<(u32, usize)>,
    /// Rules whose interval is the whole dimension, in rule order.
    full: Vec<u32>,
}

/// (lo, hi, rule), sorted by (class, lo, rule): the classes one after the
/// other, in one allocation (a chain of three rules builds an index too).
enum Entries {
    /// Every bound within `u32` (the dimension's largest value is).
    Narrow(Vec<(u32, u32, u32)>),
    Wide(Vec<(u128, u128, u32)>),
}

/// What the index needs of the rules it indexes, by rule number.
pub trait Keyed: Sync {
    /// `false` only when the rule's set leaves `d` free (a quick answer that
    /// spares a dimension no rule tests; `true` is always allowed).
    fn restricts(&self, rule: usize, d: Dim) -> bool;
    /// The smallest and largest value of `d` in the rule's set (`None`:
    /// the set is empty).
    fn bounds(&self, rule: usize, d: Dim) -> Option<(u128, u128)>;
}

/// Up to this many rules, an index is the list of them: a visit costs
/// less than choosing a dimension and sorting (most chains of a kube dump
/// have one to three rules). The callers check every rule a visit gives,
/// so more of them changes no answer, only work.
const SMALL: usize = 16;

// A small index never stops a visit that a keyed one would finish.
const _: () = assert!(SMALL < crate::lints::shadowed_rule::MAX_CANDIDATES);

/// A rule number as the index keeps it.
pub fn rule_no(ri: usize) -> u32 {
    u32::try_from(ri).expect("a chain has fewer than 2^32 rules")
}

/// The bit length of an interval's width.
fn class(lo: u128, hi: u128) -> u32 {
    128 - (hi - lo).leading_zeros()
}

/// How many distinct values `f` gives over `rules`.
fn distinct<T: Ord + Copy + Send>(
    rules: &[u32],
    parallel: bool,
    f: impl Fn(usize) -> Option<T> + Sync + Send,
) -> usize {
    let mut v: Vec<T> = if parallel {
        rules.par_iter().filter_map(|&ri| f(ri as usize)).collect()
    } else {
        rules.iter().filter_map(|&ri| f(ri as usize)).collect()
    };
    if parallel {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
    v.dedup();
    v.len()
}

/// The entries of `rules` narrower than `max`, sorted and cut into classes,
/// and the rules whose interval is all of `0..=max`.
#[allow(clippy::type_complexity)]
fn entries<T: Copy + Ord + Send + Sync + Into<u128>>(
    rules: &[u32],
    parallel: bool,
    bounds: impl Fn(usize) -> Option<(u128, u128)> + Sync + Send,
    max: u128,
    narrow: impl Fn(u128) -> T + Sync + Send,
) -> (Vec<(T, T, u32)>, Vec<(u32, usize)>, Vec<u32>) {
    // An empty set (no bounds) becomes `hi < lo`, dropped below: one entry
    // per rule lets a parallel collect write its result in place instead
    // of joining pieces.
    let entry = |&ri: &u32| match bounds(ri as usize) {
        Some((lo, hi)) => {
            debug_assert!(hi <= max, "bounds within the dimension");
            (narrow(lo), narrow(hi), ri)
        }
        None => (narrow(1), narrow(0), ri),
    };
    let mut entries: Vec<(T, T, u32)> = if parallel {
        rules.par_iter().map(entry).collect()
    } else {
        rules.iter().map(entry).collect()
    };
    let is_full = |e: &(T, T, u32)| e.0.into() == 0 && e.1.into() >= max;
    let mut full: Vec<u32> = entries.iter().filter(|e| is_full(e)).map(|e| e.2).collect();
    entries.retain(|e| e.0 <= e.1 && !is_full(e));
    entries.shrink_to_fit();
    let key = |&(lo, hi, ri): &(T, T, u32)| (class(lo.into(), hi.into()), lo, ri);
    if parallel {
        entries.par_sort_unstable_by_key(key);
    } else {
        entries.sort_unstable_by_key(key);
    }
    let mut classes: Vec<(u32, usize)> = Vec::new();
    for (i, &(lo, hi, _)) in entries.iter().enumerate() {
        let k = class(lo.into(), hi.into());
        match classes.last_mut() {
            Some((last, end)) if *last == k => *end = i + 1,
            _ => classes.push((k, i + 1)),
        }
    }
    full.sort_unstable();
    (entries, classes, full)
}

impl Index {
    /// Indexes `rules` (rule numbers, in order, each key read through
    /// `keyed`; `u32`, as a long chain's list of them is alive while the
    /// index is built) on the
    /// dimension whose narrower than full intervals start at the most
    /// distinct values: the one that tells the rules apart best.
    pub fn build(
        rules: &[u32],
        keyed: &(impl Keyed + ?Sized),
        max_of: impl Fn(Dim) -> u128,
    ) -> Index {
        if rules.len() <= SMALL {
            // Every rule of the window, as if all spanned the dimension.
            return Index {
                dim: KEYS[0],
                entries: Entries::Narrow(Vec::new()),
                classes: Vec::new(),
                full: rules.to_vec(),
            };
        }
        // A dimension no set restricts has no narrower than full interval:
        // it counts 0 without looking at the bounds.
        let mut restricted = [false; KEYS.len()];
        for &ri in rules {
            for (r, d) in restricted.iter_mut().zip(KEYS) {
                *r = *r || keyed.restricts(ri as usize, d);
            }
        }
        // One long chain is one index: sort it on every core.
        let parallel = rules.len() >= PAR_RULES;
        let dim = KEYS
            .into_iter()
            .zip(restricted)
            .rev()
            .max_by_key(|&(d, restricted)| {
                if !restricted {
                    return 0;
                }
                let max = max_of(d);
                let narrow = move |ri: usize| {
                    keyed
                        .bounds(ri, d)
                        .filter(|&(lo, hi)| lo > 0 || hi < max)
                        .map(|(lo, _)| lo)
                };
                if max <= u32::MAX as u128 {
                    distinct(rules, parallel, |ri| narrow(ri).map(|lo| lo as u32))
                } else {
                    distinct(rules, parallel, narrow)
                }
            })
            .expect("KEYS is not empty")
            .0;
        let max = max_of(dim);
        let bounds = |ri: usize| keyed.bounds(ri, dim);
        let (entries, classes, full) = if max <= u32::MAX as u128 {
            let (e, c, f) = entries(rules, parallel, bounds, max, |x| x as u32);
            (Entries::Narrow(e), c, f)
        } else {
            let (e, c, f) = entries(rules, parallel, bounds, max, |x| x);
            (Entries::Wide(e), c, f)
        };
        Index {
            dim,
            entries,
            classes,
            full,
        }
    }

    /// Calls `each` with every indexed rule in `from..to` whose interval
    /// overlaps `set`'s bounds (every one, in a small index), until it
    /// returns `false`. Returns `false` when stopped.
    pub fn visit(
        &self,
        set: &PacketSet,
        from: usize,
        to: usize,
        mut each: impl FnMut(usize) -> bool,
    ) -> bool {
        let Some((a, b)) = set.bounds(self.dim) else {
            return true;
        };
        let start = self.full.partition_point(|&r| (r as usize) < from);
        for &ri in &self.full[start..] {
            if ri as usize >= to {
                break;
            }
            if !each(ri as usize) {
                return false;
            }
        }
        match &self.entries {
            Entries::Narrow(e) => visit_classes(e, &self.classes, a, b, from, to, each),
            Entries::Wide(e) => visit_classes(e, &self.classes, a, b, from, to, each),
        }
    }
}

/// [`Index::visit`] over the entries narrower than the dimension.
fn visit_classes<T: Copy + Into<u128>>(
    entries: &[(T, T, u32)],
    classes: &[(u32, usize)],
    a: u128,
    b: u128,
    from: usize,
    to: usize,
    mut each: impl FnMut(usize) -> bool,
) -> bool {
    let mut begin = 0;
    for &(k, end) in classes {
        let class = &entries[begin..end];
        begin = end;
        // Width < 2^k: hi = lo + w overlaps [a, b] only if lo > a - 2^k.
        let low = if k >= 128 {
            0
        } else {
            a.saturating_sub((1u128 << k) - 1)
        };
        let i = class.partition_point(|&(lo, _, _)| lo.into() < low);
        for &(lo, hi, ri) in &class[i..] {
            let (lo, hi, ri) = (lo.into(), hi.into(), ri as usize);
            if lo > b {
                break;
            }
            if hi < a || ri < from || ri >= to {
                continue;
            }
            if !each(ri) {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;
    use crate::space::SpaceContext;

    struct Sets(Vec<PacketSet>);

    impl Keyed for Sets {
        fn restricts(&self, ri: usize, d: Dim) -> bool {
            self.0[ri].restricts(d)
        }
        fn bounds(&self, ri: usize, d: Dim) -> Option<(u128, u128)> {
            self.0[ri].bounds(d)
        }
    }

    fn next(seed: &mut u64, n: u128) -> u128 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) as u128 % n
    }

    /// One piece: a few key dimensions cut to random intervals, clustered
    /// at both ends of the dimension so that many overlap.
    fn piece(ctx: &SpaceContext, seed: &mut u64) -> PacketSet {
        let wide = ctx.family() == Family::Ipv6;
        let mut s = ctx.universe();
        for d in KEYS {
            let max = match d {
                Dim::Src | Dim::Dst if wide => u128::MAX,
                Dim::DstPort | Dim::SrcPort => 65535,
                _ => u32::MAX as u128,
            };
            match next(seed, 4) {
                0 => {
                    let lo = next(seed, 40);
                    s = s.restrict_range(d, lo, lo + next(seed, 8));
                }
                1 => s = s.restrict_range(d, max - next(seed, 40), max),
                _ => {}
            }
        }
        s
    }

    /// A random set: one piece, or now and then the union of two.
    fn random_set(ctx: &SpaceContext, seed: &mut u64) -> PacketSet {
        let a = piece(ctx, seed);
        if next(seed, 5) == 0 {
            a.union(&piece(ctx, seed))
        } else {
            a
        }
    }

    #[test]
    fn a_visit_meets_every_overlapping_rule_in_its_window() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let ctx = SpaceContext::new(family, []);
            let mut seed = 7u64;
            for n in [3usize, 40, 300] {
                let sets = Sets((0..n).map(|_| random_set(&ctx, &mut seed)).collect());
                let rules: Vec<u32> = (0..n as u32).filter(|&ri| ri % 7 != 3).collect();
                let max_of = |d: Dim| ctx.universe().bounds(d).expect("not empty").1;
                let index = Index::build(&rules, &sets, max_of);
                for q in 0..50 {
                    let query = random_set(&ctx, &mut seed);
                    let (from, to) = (q % 5 * n / 10, n - q % 3);
                    let mut seen = Vec::new();
                    assert!(index.visit(&query, from, to, |ri| {
                        seen.push(ri);
                        true
                    }));
                    seen.sort_unstable();
                    let before = seen.len();
                    seen.dedup();
                    assert_eq!(seen.len(), before, "a rule visited twice");
                    for &ri in &seen {
                        assert!(rules.contains(&rule_no(ri)) && from <= ri && ri < to);
                    }
                    for &ri in &rules {
                        let ri = ri as usize;
                        if from <= ri && ri < to && sets.0[ri].overlaps(&query) {
                            assert!(seen.contains(&ri), "{family:?} n={n}: rule {ri} missed");
                        }
                    }
                }
            }
        }
    }
}
