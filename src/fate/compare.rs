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

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::Family;
use crate::space::{Dim, Packet, PacketSet, SpaceContext};

use super::Path;
use super::rewrite::{Rewrites, none};
use super::walk::{GaveUp, Leaf, REGION_OVERHEAD, Verdict};

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

struct Piece<'l> {
    leaf: usize,
    /// The leaf's region itself when it is one cube (most are), else a
    /// copy of one of its cubes.
    set: Cow<'l, PacketSet>,
}

fn pieces(leaves: &[Leaf]) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    for (i, l) in leaves.iter().enumerate() {
        if l.region.cube_count() == 1 {
            out.push(Piece {
                leaf: i,
                set: Cow::Borrowed(&l.region),
            });
            continue;
        }
        for set in l.region.parts() {
            out.push(Piece {
                leaf: i,
                set: Cow::Owned(set),
            });
        }
    }
    out
}

/// The dimensions the join looks at, in order: the ones rules tell
/// packets apart by most.
const JOIN_DIMS: [Dim; 5] = [Dim::Dst, Dim::DstPort, Dim::Src, Dim::Protocol, Dim::Mark];

/// Calls `each(i, j)` for every pair of pieces of `a` and `b` (by index)
/// whose bounds overlap on every join dimension, and no pair twice.
///
/// On the first dimension, pieces that do not span all of it are paired by
/// a sweep over sorted lower bounds; pairs with a piece that spans it all
/// are joined again on the next dimension; past the last, all pairs.
/// Calls `each` with every pair of pieces that may overlap. Candidate
/// pairs are gathered before they are met; more than `max_pairs` of them
/// and the join stops with `Err(pairs)` (they take memory and time alike).
fn join(
    pa: &[Piece],
    pb: &[Piece],
    a: Vec<usize>,
    b: Vec<usize>,
    dims: &[Dim],
    max_pairs: usize,
    each: &mut impl FnMut(usize, usize),
) -> Result<(), usize> {
    if a.is_empty() || b.is_empty() {
        return Ok(());
    }
    let Some((&d, rest)) = dims.split_first() else {
        if a.len().saturating_mul(b.len()) > max_pairs {
            return Err(a.len().saturating_mul(b.len()));
        }
        for &i in &a {
            for &j in &b {
                each(i, j);
            }
        }
        return Ok(());
    };
    // A piece that leaves `d` free is wide; any other is entered once per
    // interval of its field (a merged piece may hold many scattered values).
    let split = |pieces: &[Piece], ix: Vec<usize>| -> (Vec<(u128, u128, usize)>, Vec<usize>) {
        let mut narrow = Vec::new();
        let mut wide = Vec::new();
        for i in ix {
            let set = &pieces[i].set;
            if !set.restricts(d) {
                wide.push(i);
                continue;
            }
            let shape = set
                .describe_parts()
                .into_iter()
                .next()
                .and_then(|fields| fields.into_iter().find(|(dim, _, _)| *dim == d));
            match shape {
                Some((_, false, intervals)) if intervals.len() <= 16 => {
                    narrow.extend(intervals.into_iter().map(|(lo, hi)| (lo, hi, i)));
                }
                _ => {
                    let (lo, hi) = set.bounds(d).unwrap_or((0, 0));
                    narrow.push((lo, hi, i));
                }
            }
        }
        narrow.sort_unstable();
        (narrow, wide)
    };
    let (na, wa) = split(pa, a);
    let (nb, wb) = split(pb, b);
    // Narrow × narrow: sweep over the intervals, then each pair once.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut open_a: Vec<(u128, usize)> = Vec::new();
    let mut open_b: Vec<(u128, usize)> = Vec::new();
    while i < na.len() || j < nb.len() {
        if j == nb.len() || (i < na.len() && na[i].0 <= nb[j].0) {
            let (lo, hi, x) = na[i];
            open_b.retain(|&(h, _)| h >= lo);
            pairs.extend(open_b.iter().map(|&(_, y)| (x, y)));
            open_a.push((hi, x));
            i += 1;
        } else {
            let (lo, hi, y) = nb[j];
            open_a.retain(|&(h, _)| h >= lo);
            pairs.extend(open_a.iter().map(|&(_, x)| (x, y)));
            open_b.push((hi, y));
            j += 1;
        }
        if pairs.len() > max_pairs {
            return Err(pairs.len());
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    for (x, y) in pairs {
        each(x, y);
    }
    let mut na: Vec<usize> = na.into_iter().map(|x| x.2).collect();
    na.sort_unstable();
    na.dedup();
    let mut nb: Vec<usize> = nb.into_iter().map(|x| x.2).collect();
    nb.sort_unstable();
    nb.dedup();
    // Pairs with a wide piece: on to the next dimension.
    let all_b: Vec<usize> = nb.iter().copied().chain(wb.iter().copied()).collect();
    join(pa, pb, wa, all_b, rest, max_pairs, each)?;
    join(pa, pb, na, wb, rest, max_pairs, each)
}

/// Where walks `a` and `b` of `path` give different fates, one
/// [`Difference`] per pair of leaves, in order of A's leaves.
///
/// The differences found are held until the end: when they grow past
/// `max_pieces` pieces (the walk's budget, [`super::DEFAULT_MAX_PIECES`]),
/// the comparison stops with [`GaveUp`] instead of taking unbounded memory.
pub fn compare(
    path: Path,
    ctx: &SpaceContext,
    a: &[Leaf],
    b: &[Leaf],
    max_pieces: usize,
) -> Result<Vec<Difference>, GaveUp> {
    let family = ctx.family();
    let bits_a: Vec<_> = a.iter().map(assumption_bits).collect();
    let bits_b: Vec<_> = b.iter().map(assumption_bits).collect();
    let pa = pieces(a);
    let pb = pieces(b);
    // Differences per (leaf of A, leaf of B): the pieces are disjoint.
    let mut found: HashMap<(usize, usize), (Vec<PacketSet>, bool)> = HashMap::new();
    let mut held = 0usize;
    let mut check = |x: &Piece, y: &Piece| {
        if held > max_pieces
            || !consistent(&bits_a[x.leaf], &bits_b[y.leaf])
            || !x.set.overlaps(&y.set)
        {
            return;
        }
        let shared = x.set.intersect(&y.set);
        let (diff, certain) = differ(family, &a[x.leaf], &b[y.leaf], &shared);
        if diff.is_empty() {
            return;
        }
        let certain =
            certain && a[x.leaf].assumptions.is_empty() && b[y.leaf].assumptions.is_empty();
        held += diff.weight() + REGION_OVERHEAD;
        let e = found
            .entry((x.leaf, y.leaf))
            .or_insert_with(|| (Vec::new(), true));
        e.0.push(diff);
        e.1 &= certain;
    };
    // Walks of similar dumps split alike: a piece of A that is, cube for
    // cube, a piece of B with the same fate and the same assumptions agrees
    // with it. Such twins pair off; only the rest is joined with everything
    // on the other side. (Two twins from different leaves are not compared
    // with each other: that pair exists within each walk already, where the
    // leaves are disjoint or rest on opposite assumptions.)
    let key = |l: &Leaf, bits: &[(u32, u8)], p: &Piece| {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::quality::FixedState::default().build_hasher();
        l.fate.hash(&mut h);
        bits.hash(&mut h);
        p.set.hash_cubes(&mut h);
        h.finish()
    };
    let twin = |x: &Piece, y: &Piece| {
        a[x.leaf].fate == b[y.leaf].fate
            && bits_a[x.leaf] == bits_b[y.leaf]
            && x.set.same_pieces(&y.set)
    };
    let mut twins: HashMap<u64, Vec<usize>> = HashMap::new();
    for (j, y) in pb.iter().enumerate().rev() {
        twins
            .entry(key(&b[y.leaf], &bits_b[y.leaf], y))
            .or_default()
            .push(j);
    }
    let mut paired_a = vec![false; pa.len()];
    let mut paired_b = vec![false; pb.len()];
    for (i, x) in pa.iter().enumerate() {
        if let Some(js) = twins.get_mut(&key(&a[x.leaf], &bits_a[x.leaf], x))
            && let Some(at) = js.iter().rposition(|&j| twin(x, &pb[j]))
        {
            let j = js.remove(at);
            paired_a[i] = true;
            paired_b[j] = true;
        }
    }
    let rest_a: Vec<usize> = (0..pa.len()).filter(|&i| !paired_a[i]).collect();
    let rest_b: Vec<usize> = (0..pb.len()).filter(|&j| !paired_b[j]).collect();
    let twins_a: Vec<usize> = (0..pa.len()).filter(|&i| paired_a[i]).collect();
    if rest_a.len() + rest_b.len() <= 64 {
        // Few left: test each against every piece of the other side.
        for &i in &rest_a {
            for y in &pb {
                check(&pa[i], y);
            }
        }
        for &j in &rest_b {
            for &i in &twins_a {
                check(&pa[i], &pb[j]);
            }
        }
    } else {
        let all_b = (0..pb.len()).collect();
        let joined = join(
            &pa,
            &pb,
            rest_a,
            all_b,
            &JOIN_DIMS,
            max_pieces,
            &mut |i, j| check(&pa[i], &pb[j]),
        )
        .and_then(|()| {
            join(
                &pa,
                &pb,
                twins_a,
                rest_b,
                &JOIN_DIMS,
                max_pieces,
                &mut |i, j| check(&pa[i], &pb[j]),
            )
        });
        if let Err(pairs) = joined {
            // Each candidate pair holds about as much as a piece.
            return Err(GaveUp {
                pieces: pairs,
                budget: max_pieces,
                regions: pa.len() + pb.len(),
            });
        }
    }
    if held > max_pieces {
        return Err(GaveUp {
            pieces: held,
            budget: max_pieces,
            regions: found.len(),
        });
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
    Ok(out)
}
