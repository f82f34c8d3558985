//! An index of a chain's deciding rules by their interval on one dimension,
//! so that a rule meets only the earlier rules that can overlap it.
//!
//! Entries are grouped by the bit length of their width (class `k` holds
//! intervals narrower than `2^k`), each class sorted by lower bound: an
//! interval of class `k` overlapping `[a, b]` starts in `(a − 2^k, b]`, one
//! binary search per class. Intervals that span the whole dimension are kept
//! apart in rule order, so the rules in a window of positions are one slice.

use crate::space::{Dim, PacketSet};

pub struct Index {
    pub dim: Dim,
    /// Per class: (lo, hi, rule), sorted by (lo, rule).
    classes: Vec<Vec<(u128, u128, usize)>>,
    /// Rules whose interval is the whole dimension, in rule order.
    full: Vec<usize>,
}

impl Index {
    /// Indexes `sets` (rule number, set) on the dimension whose narrower than
    /// full intervals start at the most distinct values: the one that tells
    /// the rules apart best.
    pub fn build(sets: &[(usize, &PacketSet)], max_of: impl Fn(Dim) -> u128) -> Index {
        let dims = [Dim::Src, Dim::Dst, Dim::DstPort, Dim::SrcPort, Dim::Mark];
        let dim = dims
            .into_iter()
            .rev()
            .max_by_key(|d| {
                let max = max_of(*d);
                let mut los: Vec<u128> = sets
                    .iter()
                    .filter_map(|(_, s)| s.bounds(*d))
                    .filter(|&(lo, hi)| lo > 0 || hi < max)
                    .map(|(lo, _)| lo)
                    .collect();
                los.sort_unstable();
                los.dedup();
                los.len()
            })
            .expect("dims is not empty");
        let max = max_of(dim);
        let mut classes: Vec<Vec<(u128, u128, usize)>> = vec![Vec::new(); 129];
        let mut full = Vec::new();
        for &(ri, s) in sets {
            let Some((lo, hi)) = s.bounds(dim) else {
                continue;
            };
            if lo == 0 && hi >= max {
                full.push(ri);
            } else {
                let k = (128 - (hi - lo).leading_zeros()) as usize;
                classes[k].push((lo, hi, ri));
            }
        }
        for c in &mut classes {
            c.sort_unstable_by_key(|&(lo, _, ri)| (lo, ri));
        }
        full.sort_unstable();
        Index { dim, classes, full }
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
        for (k, class) in self.classes.iter().enumerate() {
            if class.is_empty() {
                continue;
            }
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
