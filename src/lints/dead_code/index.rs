//! An index of a chain's deciding rules by their interval on one dimension,
//! so that a rule meets only the earlier rules that can overlap it.
//!
//! Entries are grouped by the bit length of their width (class `k` holds
//! intervals narrower than `2^k`), each class sorted by lower bound: an
//! interval of class `k` overlapping `[a, b]` starts in `(a − 2^k, b]`, one
//! binary search per class. Intervals that span the whole dimension are kept
//! apart in rule order, so the rules in a window of positions are one slice.

use rayon::prelude::*;

use crate::lints::dead_code::PAR_RULES;
use crate::space::{Dim, PacketSet};

pub struct Index {
    pub dim: Dim,
    /// (lo, hi, rule), sorted by (class, lo, rule): the classes one after
    /// the other, in one allocation (a chain of three rules builds an index
    /// too).
    entries: Vec<(u128, u128, usize)>,
    /// The non-empty classes in order: (class, where its entries end).
    classes: Vec<(u32, usize)>,
    /// Rules whose interval is the whole dimension, in rule order.
    full: Vec<usize>,
}

impl Index {
    /// Indexes `sets` (rule number, set) on the dimension whose narrower than
    /// full intervals start at the most distinct values: the one that tells
    /// the rules apart best.
    pub fn build(sets: &[(usize, &PacketSet)], max_of: impl Fn(Dim) -> u128) -> Index {
        let dims = [Dim::Src, Dim::Dst, Dim::DstPort, Dim::SrcPort, Dim::Mark];
        // A dimension no set restricts has no narrower than full interval:
        // it counts 0 without looking at the bounds.
        let mut restricted = [false; 5];
        for (_, s) in sets {
            for (r, d) in restricted.iter_mut().zip(dims) {
                *r = *r || s.restricts(d);
            }
        }
        let mut los: Vec<u128> = Vec::new();
        // One long chain is one index: sort it on every core.
        let parallel = sets.len() >= PAR_RULES;
        let dim = dims
            .into_iter()
            .zip(restricted)
            .rev()
            .max_by_key(|&(d, restricted)| {
                if !restricted {
                    return 0;
                }
                let max = max_of(d);
                let narrow = |(_, s): &(usize, &PacketSet)| {
                    s.bounds(d)
                        .filter(|&(lo, hi)| lo > 0 || hi < max)
                        .map(|(lo, _)| lo)
                };
                los.clear();
                if parallel {
                    los.par_extend(sets.par_iter().filter_map(narrow));
                    los.par_sort_unstable();
                } else {
                    los.extend(sets.iter().filter_map(narrow));
                    los.sort_unstable();
                }
                los.dedup();
                los.len()
            })
            .expect("dims is not empty")
            .0;
        let max = max_of(dim);
        let class = |lo: u128, hi: u128| 128 - (hi - lo).leading_zeros();
        let mut entries = Vec::new();
        let mut full = Vec::new();
        let bounds: Vec<Option<(u128, u128)>> = if parallel {
            sets.par_iter().map(|(_, s)| s.bounds(dim)).collect()
        } else {
            Vec::new()
        };
        for (i, &(ri, s)) in sets.iter().enumerate() {
            let b = if parallel { bounds[i] } else { s.bounds(dim) };
            let Some((lo, hi)) = b else {
                continue;
            };
            if lo == 0 && hi >= max {
                full.push(ri);
            } else {
                entries.push((lo, hi, ri));
            }
        }
        let key = |&(lo, hi, ri): &(u128, u128, usize)| (class(lo, hi), lo, ri);
        if parallel {
            entries.par_sort_unstable_by_key(key);
        } else {
            entries.sort_unstable_by_key(key);
        }
        let mut classes: Vec<(u32, usize)> = Vec::new();
        for (i, &(lo, hi, _)) in entries.iter().enumerate() {
            let k = class(lo, hi);
            match classes.last_mut() {
                Some((last, end)) if *last == k => *end = i + 1,
                _ => classes.push((k, i + 1)),
            }
        }
        full.sort_unstable();
        Index {
            dim,
            entries,
            classes,
            full,
        }
    }

    /// Calls `each` with every indexed rule in `from..to` whose interval
    /// overlaps `set`'s bounds, until it returns `false`. Returns `false` when
    /// stopped.
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
        let start = self.full.partition_point(|&r| r < from);
        for &ri in &self.full[start..] {
            if ri >= to {
                break;
            }
            if !each(ri) {
                return false;
            }
        }
        let mut begin = 0;
        for &(k, end) in &self.classes {
            let class = &self.entries[begin..end];
            begin = end;
            // Width < 2^k: hi = lo + w overlaps [a, b] only if lo > a - 2^k.
            let low = if k >= 128 {
                0
            } else {
                a.saturating_sub((1u128 << k) - 1)
            };
            let i = class.partition_point(|&(lo, _, _)| lo < low);
            for &(lo, hi, ri) in &class[i..] {
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
}
