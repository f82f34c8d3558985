//! Two walks of one path side by side: where do their fates differ?
//!
//! Each walk's leaves are cut into their disjoint pieces; pieces of A and B
//! are joined by their destination address interval (a sweep over sorted
//! lower bounds), so a piece meets only the pieces of the other side that
//! can overlap it. For each overlapping pair whose assumptions can hold
//! together (no condition taken to hold on one side and not on the other),
//! the fates are compared on the shared packets: two drops (or two rejects
//! of one type) are the same; otherwise the verdicts must be equal and the
//! rewrites must give the same values ([`Rewrites::agree`]).

use std::collections::HashMap;

use crate::model::Family;
use crate::space::{Dim, Packet, PacketSet, SpaceContext};

use super::Path;
use super::rewrite::{Rewrites, none};
use super::walk::{Leaf, Verdict};

/// A region of packets the two dumps treat differently (or may).
#[derive(Clone, Debug)]
pub struct Difference {
    pub path: Path,
    /// Original packets (as they entered the path) in this difference.
    pub region: PacketSet,
    pub witness: Packet,
    /// Index of the leaf of A and of B.
    pub a: usize,
    pub b: usize,
    /// `false` when the difference depends on unknown conditions or on
    /// values iptlint cannot know: "may differ".
    pub certain: bool,
}

/// Which dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Per leaf: assumptions as (condition, bits: 1 held, 2 did not hold).
fn assumption_bits(leaf: &Leaf) -> Vec<(u32, u8)> {
    let mut v: Vec<(u32, u8)> = Vec::new();
    for a in &leaf.assumptions {
        let bit = if a.holds { 1 } else { 2 };
        match v.iter_mut().find(|(c, _)| *c == a.condition) {
            Some(e) => e.1 |= bit,
            None => v.push((a.condition, bit)),
        }
    }
    v.sort_unstable();
    v
}

fn consistent(a: &[(u32, u8)], b: &[(u32, u8)]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                if a[i].1 & b[j].1 == 0 {
                    return false;
                }
                i += 1;
                j += 1;
            }
        }
    }
    true
}

/// The packets of `region` on which fates `a` and `b` differ, and whether
/// that is certain.
fn differ(family: Family, a: &Leaf, b: &Leaf, region: &PacketSet) -> (PacketSet, bool) {
    let (va, vb) = (&a.fate.verdict, &b.fate.verdict);
    let unknown = matches!(va, Verdict::Unknown(_)) || matches!(vb, Verdict::Unknown(_));
    if va != vb {
        return (region.clone(), !unknown);
    }
    match va {
        // Dropped packets carry no rewrite anywhere.
        Verdict::Drop | Verdict::Reject(_) => (none(region), true),
        // The same unknown target text on both sides: taken to act alike.
        Verdict::Unknown(_) => (none(region), true),
        Verdict::Accept | Verdict::Queue(_) => {
            let (same, certain) = agree(&a.fate.rewrites, &b.fate.rewrites, family, region);
            (region.difference(&same), certain)
        }
    }
}

fn agree(a: &Rewrites, b: &Rewrites, family: Family, region: &PacketSet) -> (PacketSet, bool) {
    if a == b {
        return (region.clone(), true);
    }
    a.agree(b, family, region)
}

struct Piece {
    lo: u128,
    hi: u128,
    leaf: usize,
    set: PacketSet,
}

fn pieces(leaves: &[Leaf]) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, l) in leaves.iter().enumerate() {
        for set in l.region.parts() {
            let (lo, hi) = set.bounds(Dim::Dst).unwrap_or((0, 0));
            out.push(Piece {
                lo,
                hi,
                leaf: i,
                set,
            });
        }
    }
    out.sort_unstable_by_key(|p| (p.lo, p.hi));
    out
}

/// Where walks `a` and `b` of `path` give different fates, one
/// [`Difference`] per pair of leaves, in order of A's leaves.
pub fn compare(path: Path, ctx: &SpaceContext, a: &[Leaf], b: &[Leaf]) -> Vec<Difference> {
    let family = ctx.family();
    let bits_a: Vec<_> = a.iter().map(assumption_bits).collect();
    let bits_b: Vec<_> = b.iter().map(assumption_bits).collect();
    let pa = pieces(a);
    let pb = pieces(b);
    // Differences per (leaf of A, leaf of B): the pieces are disjoint.
    let mut found: HashMap<(usize, usize), (Vec<PacketSet>, bool)> = HashMap::new();
    let mut check = |x: &Piece, y: &Piece| {
        if !consistent(&bits_a[x.leaf], &bits_b[y.leaf]) || !x.set.overlaps(&y.set) {
            return;
        }
        let shared = x.set.intersect(&y.set);
        let (diff, certain) = differ(family, &a[x.leaf], &b[y.leaf], &shared);
        if diff.is_empty() {
            return;
        }
        let certain =
            certain && a[x.leaf].assumptions.is_empty() && b[y.leaf].assumptions.is_empty();
        let e = found
            .entry((x.leaf, y.leaf))
            .or_insert_with(|| (Vec::new(), true));
        e.0.push(diff);
        e.1 &= certain;
    };
    // Sweep: pieces in order of lower bound; each side keeps the pieces
    // whose interval is still open.
    let (mut i, mut j) = (0, 0);
    let mut open_a: Vec<usize> = Vec::new();
    let mut open_b: Vec<usize> = Vec::new();
    while i < pa.len() || j < pb.len() {
        let take_a = j == pb.len() || (i < pa.len() && pa[i].lo <= pb[j].lo);
        if take_a {
            let x = &pa[i];
            open_b.retain(|&k| pb[k].hi >= x.lo);
            for &k in &open_b {
                check(x, &pb[k]);
            }
            open_a.push(i);
            i += 1;
        } else {
            let y = &pb[j];
            open_a.retain(|&k| pa[k].hi >= y.lo);
            for &k in &open_a {
                check(&pa[k], y);
            }
            open_b.push(j);
            j += 1;
        }
    }
    let mut out: Vec<Difference> = found
        .into_iter()
        .map(|((la, lb), (parts, certain))| {
            let region = PacketSet::from_disjoint(ctx, parts);
            let witness = region.witness(ctx).expect("a difference is never empty");
            Difference {
                path,
                region,
                witness,
                a: la,
                b: lb,
                certain,
            }
        })
        .collect();
    out.sort_by_key(|d| (d.a, d.b));
    out
}
