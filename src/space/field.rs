//! Exact sets of values of one header field.
//!
//! A [`Field`] is a non-empty set of integers in `0..=max` (the field's
//! domain; `max` is passed in by the caller, it is not stored). Two shapes:
//!
//! - **ranges**: sorted, disjoint, non-adjacent inclusive intervals. Prefixes,
//!   port ranges, `iprange`, interface-name atoms and their complements are all
//!   one or two intervals, so almost every field of a real rule is a single
//!   inline interval and costs no allocation.
//! - **bits**: pairwise disjoint ternary patterns `(value, mask)`, each the set
//!   `{x : x & mask == value}`. A mark test `0x4000/0x4000` or an address with a
//!   dotted mask like `0.0.0.255` is one pattern, while as intervals it would be
//!   2^17 or 2^24 of them. Only fields whose domain is `2^w - 1` use patterns.
//!
//! Operations between two range fields stay in ranges. When a pattern field
//! meets a range field the ranges are cut into aligned blocks (at most `2w`
//! patterns per interval, exact), and a pattern result whose masks are all
//! contiguous turns back into ranges, so the fast shape comes back as soon as
//! the odd mask is gone. A field equal to its whole domain is always
//! `One((0, max))`; the cube layer drops such fields (an absent field means
//! "any value").

use std::borrow::Cow;

/// An inclusive interval.
pub(crate) type Rg = (u128, u128);
/// A ternary pattern `(value, mask)` with `value & !mask == 0`.
pub(crate) type Tern = (u128, u128);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    /// One interval (the common case; no heap).
    One(Rg),
    /// Two or more sorted, disjoint, non-adjacent intervals.
    Ranges(Box<[Rg]>),
    /// One or more pairwise disjoint patterns, at least one with a
    /// non-contiguous mask, and not the whole domain.
    Bits(Box<[Tern]>),
}

use Field::*;

impl Field {
    pub(crate) fn full(max: u128) -> Field {
        One((0, max))
    }

    pub(crate) fn is_full(&self, max: u128) -> bool {
        matches!(self, One((0, m)) if *m == max)
    }

    /// The set of `x` with `x & mask == value & mask` (`mask` within the domain).
    pub(crate) fn pattern(value: u128, mask: u128, max: u128) -> Field {
        let mask = mask & max;
        let t = (value & mask, mask);
        if is_prefix(mask, max) {
            One((t.0, t.0 | (!mask & max)))
        } else {
            Bits(Box::new([t]))
        }
    }

    /// The interval `lo..=hi`; `None` when it is empty.
    pub(crate) fn range(lo: u128, hi: u128) -> Option<Field> {
        (lo <= hi).then_some(One((lo, hi)))
    }

    /// The union of some intervals (in any order, overlapping or not).
    pub(crate) fn from_intervals(mut v: Vec<Rg>) -> Option<Field> {
        v.retain(|r| r.0 <= r.1);
        v.sort_unstable();
        from_ranges(merge_sorted(v))
    }

    fn ranges(&self) -> Option<&[Rg]> {
        match self {
            One(r) => Some(std::slice::from_ref(r)),
            Ranges(v) => Some(v),
            Bits(_) => None,
        }
    }

    fn terns(&self, max: u128) -> Cow<'_, [Tern]> {
        match self {
            Bits(t) => Cow::Borrowed(t),
            _ => {
                let mut out = Vec::new();
                for &(lo, hi) in self.ranges().unwrap_or_default() {
                    range_to_terns(lo, hi, max, &mut out);
                }
                Cow::Owned(out)
            }
        }
    }

    /// log2 of how many values the set holds (its patterns are disjoint).
    pub(crate) fn log2_len(&self, max: u128) -> f64 {
        let count: f64 = match self {
            One((lo, hi)) => (hi - lo) as f64 + 1.0,
            Ranges(v) => v.iter().map(|(lo, hi)| (hi - lo) as f64 + 1.0).sum(),
            Bits(t) => t
                .iter()
                .map(|(_, mask)| 2f64.powi((max & !mask).count_ones() as i32))
                .sum(),
        };
        count.log2()
    }

    pub(crate) fn contains(&self, x: u128) -> bool {
        match self {
            One((lo, hi)) => *lo <= x && x <= *hi,
            Ranges(v) => {
                let i = v.partition_point(|r| r.1 < x);
                i < v.len() && v[i].0 <= x
            }
            Bits(t) => t.iter().any(|&(v, m)| x & m == v),
        }
    }

    /// The smallest value in the set.
    pub(crate) fn min(&self) -> u128 {
        match self {
            One((lo, _)) => *lo,
            Ranges(v) => v[0].0,
            // A pattern's smallest member has every free bit clear.
            Bits(t) => t.iter().map(|p| p.0).min().unwrap_or(0),
        }
    }

    /// The largest value in the set.
    pub(crate) fn max_value(&self, max: u128) -> u128 {
        match self {
            One((_, hi)) => *hi,
            Ranges(v) => v[v.len() - 1].1,
            // A pattern's largest member has every free bit set.
            Bits(t) => t.iter().map(|p| p.0 | (!p.1 & max)).max().unwrap_or(0),
        }
    }

    /// `preferred` when it is in the set, else the smallest value.
    pub(crate) fn pick(&self, preferred: u128) -> u128 {
        if self.contains(preferred) {
            preferred
        } else {
            self.min()
        }
    }

    pub(crate) fn intersect(&self, o: &Field, max: u128) -> Option<Field> {
        if let (One(a), One(b)) = (self, o) {
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            return (lo <= hi).then_some(One((lo, hi)));
        }
        if let Some((r, v)) = one_and_many(self, o) {
            // One interval against a long list: only the overlapping window.
            let w = window(v, r);
            let out = w.iter().map(|x| (x.0.max(r.0), x.1.min(r.1))).collect();
            return from_ranges(out);
        }
        if let (Some(a), Some(b)) = (self.ranges(), o.ranges()) {
            let mut out = Vec::new();
            ranges_intersect(a, b, &mut out);
            return from_ranges(out);
        }
        let (a, b) = (self.terns(max), o.terns(max));
        let mut out = Vec::new();
        for x in a.iter() {
            for y in b.iter() {
                if let Some(t) = tern_intersect(*x, *y) {
                    out.push(t);
                }
            }
        }
        from_terns(out, max)
    }

    pub(crate) fn intersects(&self, o: &Field, max: u128) -> bool {
        if let (One(a), One(b)) = (self, o) {
            return a.0.max(b.0) <= a.1.min(b.1);
        }
        if let Some((r, v)) = one_and_many(self, o) {
            return !window(v, r).is_empty();
        }
        if let (Some(a), Some(b)) = (self.ranges(), o.ranges()) {
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                if a[i].0.max(b[j].0) <= a[i].1.min(b[j].1) {
                    return true;
                }
                if a[i].1 < b[j].1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
            return false;
        }
        let (a, b) = (self.terns(max), o.terns(max));
        a.iter()
            .any(|x| b.iter().any(|y| tern_intersect(*x, *y).is_some()))
    }

    /// `self − o`; `None` when empty.
    pub(crate) fn difference(&self, o: &Field, max: u128) -> Option<Field> {
        if let (One(a), One(b)) = (self, o) {
            if b.1 < a.0 || a.1 < b.0 {
                return Some(self.clone());
            }
            let left = (a.0 < b.0).then(|| (a.0, b.0 - 1));
            let right = (b.1 < a.1).then(|| (b.1 + 1, a.1));
            return match (left, right) {
                (None, None) => None,
                (Some(r), None) | (None, Some(r)) => Some(One(r)),
                (Some(l), Some(r)) => Some(Ranges(Box::new([l, r]))),
            };
        }
        if let (Some(a), Some(b)) = (self.ranges(), o.ranges()) {
            let mut out = Vec::new();
            ranges_difference(a, b, &mut out);
            return from_ranges(out);
        }
        let mut cur: Vec<Tern> = self.terns(max).into_owned();
        for &y in o.terns(max).iter() {
            let mut next = Vec::with_capacity(cur.len());
            for &x in &cur {
                tern_minus(x, y, &mut next);
            }
            cur = next;
            if cur.is_empty() {
                return None;
            }
        }
        from_terns(cur, max)
    }

    pub(crate) fn union(&self, o: &Field, max: u128) -> Field {
        if let (Some(a), Some(b)) = (self.ranges(), o.ranges()) {
            let mut v: Vec<Rg> = Vec::with_capacity(a.len() + b.len());
            // Merge two sorted lists, then coalesce.
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < b.len() {
                if j == b.len() || (i < a.len() && a[i].0 <= b[j].0) {
                    v.push(a[i]);
                    i += 1;
                } else {
                    v.push(b[j]);
                    j += 1;
                }
            }
            return from_ranges(merge_sorted(v)).expect("a union of non-empty sets");
        }
        // A ∪ B = A + (B − A), keeping the patterns disjoint.
        let mut out: Vec<Tern> = self.terns(max).into_owned();
        if let Some(rest) = o.difference(self, max) {
            out.extend(rest.terns(max).iter().copied());
        }
        from_terns(out, max).expect("a union of non-empty sets")
    }

    pub(crate) fn is_subset(&self, o: &Field, max: u128) -> bool {
        if let (One(a), One(b)) = (self, o) {
            return b.0 <= a.0 && a.1 <= b.1;
        }
        if let (Some(a), Some(b)) = (self.ranges(), o.ranges()) {
            // b's intervals are non-adjacent: each of a's must sit inside one.
            let mut j = 0;
            for r in a {
                while j < b.len() && b[j].1 < r.0 {
                    j += 1;
                }
                if j == b.len() || b[j].0 > r.0 || b[j].1 < r.1 {
                    return false;
                }
            }
            return true;
        }
        self.difference(o, max).is_none()
    }
}

impl Field {
    /// `{x : (x & keep) ^ xor ∈ self}`, the values a masked rewrite
    /// (`MARK --set-xmark`, a NAT to one address) sends into the set; `None`
    /// when there is none. Bits the rewrite sets (outside `keep`) decide a
    /// pattern by themselves; the bits it keeps become the pattern on `x`.
    pub(crate) fn preimage_masked(&self, keep: u128, xor: u128, max: u128) -> Option<Field> {
        let (keep, xor) = (keep & max, xor & max);
        let mut out = Vec::new();
        for &(v, m) in self.terns(max).iter() {
            let fixed = m & !keep;
            if (xor ^ v) & fixed != 0 {
                continue;
            }
            let free = m & keep;
            out.push(((v ^ xor) & free, free));
        }
        // Preimages of disjoint patterns are disjoint.
        from_terns(out, max)
    }

    /// The set as intervals (`false`) or as `(value, mask)` patterns (`true`).
    pub(crate) fn shape(&self) -> (bool, Vec<(u128, u128)>) {
        match self {
            One(r) => (false, vec![*r]),
            Ranges(v) => (false, v.to_vec()),
            Bits(t) => (true, t.to_vec()),
        }
    }
}

/// One interval and a list of them, when the two fields are those shapes.
fn one_and_many<'f>(a: &'f Field, b: &'f Field) -> Option<(Rg, &'f [Rg])> {
    match (a, b) {
        (One(r), Ranges(v)) | (Ranges(v), One(r)) => Some((*r, v)),
        _ => None,
    }
}

/// The intervals of the sorted, disjoint list `v` that overlap `r`
/// (binary search: a long address list costs its logarithm).
fn window(v: &[Rg], r: Rg) -> &[Rg] {
    let lo = v.partition_point(|x| x.1 < r.0);
    let hi = v.partition_point(|x| x.0 <= r.1);
    &v[lo..hi.max(lo)]
}

/// True when `mask` (within `max`) is a contiguous run of high bits.
fn is_prefix(mask: u128, max: u128) -> bool {
    let low = !mask & max;
    low & low.wrapping_add(1) == 0
}

fn from_ranges(v: Vec<Rg>) -> Option<Field> {
    match v.len() {
        0 => None,
        1 => Some(One(v[0])),
        _ => Some(Ranges(v.into_boxed_slice())),
    }
}

/// Coalesces sorted intervals that overlap or touch.
fn merge_sorted(v: Vec<Rg>) -> Vec<Rg> {
    let mut out: Vec<Rg> = Vec::with_capacity(v.len());
    for r in v {
        if let Some(last) = out.last_mut()
            && (last.1 == u128::MAX || r.0 <= last.1 + 1)
        {
            last.1 = last.1.max(r.1);
            continue;
        }
        out.push(r);
    }
    out
}

/// Normal form for a list of disjoint patterns.
fn from_terns(v: Vec<Tern>, max: u128) -> Option<Field> {
    if v.is_empty() {
        return None;
    }
    if v.iter().all(|t| is_prefix(t.1, max)) {
        let mut r: Vec<Rg> = v.iter().map(|t| (t.0, t.0 | (!t.1 & max))).collect();
        r.sort_unstable();
        return from_ranges(merge_sorted(r));
    }
    // Disjoint patterns cover the domain exactly when their sizes add up to
    // 2^w. Sizes are summed modulo 2^128, which is exact here: the true sum is
    // at most 2^w and every term is positive.
    let width = max.count_ones();
    let total = v.iter().fold(0u128, |acc, t| {
        let free = width - t.1.count_ones();
        acc.wrapping_add(if free == 128 { 0 } else { 1u128 << free })
    });
    let domain = if width == 128 { 0 } else { 1u128 << width };
    if total == domain {
        return Some(Field::full(max));
    }
    Some(Bits(v.into_boxed_slice()))
}

fn tern_intersect(a: Tern, b: Tern) -> Option<Tern> {
    ((a.0 ^ b.0) & a.1 & b.1 == 0).then_some((a.0 | b.0, a.1 | b.1))
}

/// Pushes the disjoint patterns of `a − b`.
fn tern_minus(a: Tern, b: Tern, out: &mut Vec<Tern>) {
    if (a.0 ^ b.0) & a.1 & b.1 != 0 {
        out.push(a);
        return;
    }
    // Bits b fixes and a leaves free: split a on each of them in turn; the
    // part that agrees with b on all of them is a ∩ b and is dropped.
    let mut free = b.1 & !a.1;
    let mut cur = a;
    while free != 0 {
        let bit = 1u128 << (127 - free.leading_zeros());
        free &= !bit;
        out.push((cur.0 | (!b.0 & bit), cur.1 | bit));
        cur = (cur.0 | (b.0 & bit), cur.1 | bit);
    }
}

/// Cuts `lo..=hi` into aligned power-of-two blocks, each one pattern.
fn range_to_terns(lo: u128, hi: u128, max: u128, out: &mut Vec<Tern>) {
    let mut lo = lo;
    loop {
        let align = if lo == 0 { 128 } else { lo.trailing_zeros() };
        let span = hi - lo;
        let fits = if span == u128::MAX {
            128
        } else {
            127 - (span + 1).leading_zeros()
        };
        let k = align.min(fits);
        let block = if k == 128 {
            u128::MAX
        } else {
            (1u128 << k) - 1
        };
        out.push((lo, max & !block));
        let end = lo | block;
        if end >= hi {
            return;
        }
        lo = end + 1;
    }
}

fn ranges_intersect(a: &[Rg], b: &[Rg], out: &mut Vec<Rg>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
}

fn ranges_difference(a: &[Rg], b: &[Rg], out: &mut Vec<Rg>) {
    let mut j = 0;
    for &(lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        let mut cur = Some(lo);
        let mut k = j;
        while let Some(c) = cur {
            if k == b.len() || b[k].0 > hi {
                break;
            }
            if b[k].0 > c {
                out.push((c, b[k].0 - 1));
            }
            cur = if b[k].1 >= hi { None } else { Some(b[k].1 + 1) };
            k += 1;
        }
        if let Some(c) = cur {
            out.push((c, hi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M8: u128 = 255;

    fn members(f: &Field) -> Vec<u128> {
        (0..=M8).filter(|&x| f.contains(x)).collect()
    }

    fn set(v: &[u128]) -> Option<Field> {
        Field::from_intervals(v.iter().map(|&x| (x, x)).collect())
    }

    #[test]
    fn range_blocks_cover_exactly() {
        for lo in 0..=40u128 {
            for hi in lo..=40 {
                let mut out = Vec::new();
                range_to_terns(lo, hi, M8, &mut out);
                let f = Bits(out.into_boxed_slice());
                let want: Vec<u128> = (lo..=hi).collect();
                assert_eq!(members(&f), want, "{lo}..={hi}");
            }
        }
        let mut out = Vec::new();
        range_to_terns(0, u128::MAX, u128::MAX, &mut out);
        assert_eq!(out, vec![(0, 0)]);
    }

    #[test]
    fn pattern_ops_agree_with_members() {
        let pats = [(0x01, 0x01), (0x04, 0x06), (0x10, 0xF0), (0x00, 0x81)];
        let fields: Vec<Field> = pats
            .iter()
            .map(|&(v, m)| Field::pattern(v, m, M8))
            .chain([One((3, 77)), Field::range(200, 255).unwrap()])
            .collect();
        for a in &fields {
            for b in &fields {
                let ma = members(a);
                let mb = members(b);
                let inter: Vec<u128> = ma.iter().copied().filter(|x| mb.contains(x)).collect();
                let diff: Vec<u128> = ma.iter().copied().filter(|x| !mb.contains(x)).collect();
                let mut uni = ma.clone();
                uni.extend(mb.iter().copied().filter(|x| !ma.contains(x)));
                uni.sort();
                assert_eq!(
                    a.intersect(b, M8).map(|f| members(&f)).unwrap_or_default(),
                    inter
                );
                assert_eq!(a.intersects(b, M8), !inter.is_empty());
                assert_eq!(
                    a.difference(b, M8).map(|f| members(&f)).unwrap_or_default(),
                    diff
                );
                assert_eq!(members(&a.union(b, M8)), uni);
                assert_eq!(a.is_subset(b, M8), diff.is_empty());
            }
        }
    }

    #[test]
    fn masked_preimage_agrees_with_members() {
        let fields = [
            Field::pattern(0x04, 0x06, M8),
            One((3, 77)),
            Field::range(200, 255).unwrap(),
            Field::pattern(0x81, 0x81, M8),
        ];
        for f in &fields {
            for (keep, xor) in [
                (0xFF, 0),
                (0, 0x05),
                (0xF0, 0x0C),
                (0x3C, 0x81),
                (0x00, 0xC8),
            ] {
                let want: Vec<u128> = (0..=M8).filter(|x| f.contains((x & keep) ^ xor)).collect();
                let got = f
                    .preimage_masked(keep, xor, M8)
                    .map(|g| members(&g))
                    .unwrap_or_default();
                assert_eq!(got, want, "{f:?} keep {keep:#x} xor {xor:#x}");
            }
        }
    }

    #[test]
    fn full_patterns_normalise() {
        let a = Field::pattern(0, 1, M8);
        let b = Field::pattern(1, 1, M8);
        assert!(a.union(&b, M8).is_full(M8));
        assert!(set(&[1, 2, 3]).unwrap().union(&One((0, 0)), M8) == One((0, 3)));
    }
}
