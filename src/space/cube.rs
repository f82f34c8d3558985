//! Cubes: products of per-field sets.
//!
//! A [`Cube`] stores only the fields it restricts (a bit per [`Dim`] in
//! `dims`, the fields in dimension order); an absent field is the whole
//! domain. A cube is never empty and never stores a full field, so
//! `a ⊆ b` needs `b.dims ⊆ a.dims` before any field is looked at.

use std::borrow::Cow;

use super::field::Field;
use super::{DIMS, Dim, Domain, Point};

/// A field as a narrow cube stores it: one interval within `0..=u32::MAX`.
type Narrow = (u32, u32);

/// The fields of a cube, in dimension order, in one allocation.
///
/// Almost every field of an IPv4 rule is one interval of a domain of at most
/// 32 bits, and a cube is kept per rule by the analyses: such cubes store 8
/// bytes a field instead of a [`Field`]'s 48. The shape follows from the
/// fields alone (narrow exactly when every field is one interval within
/// 32 bits), so equal cubes have equal representations and the derived
/// `Eq` and `Hash` compare sets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Cube {
    Narrow { dims: u16, fields: Box<[Narrow]> },
    Wide { dims: u16, fields: Box<[Field]> },
}

/// The narrow form of a field, when it has one.
fn narrow(f: &Field) -> Option<Narrow> {
    match f {
        Field::One((lo, hi)) if *hi <= u32::MAX as u128 => Some((*lo as u32, *hi as u32)),
        _ => None,
    }
}

fn widen(r: Narrow) -> Field {
    Field::One((r.0 as u128, r.1 as u128))
}

/// Dimensions present in a bit set, lowest first.
fn each(mut bits: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let d = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            d
        })
    })
}

/// Where field `d` sits among the stored fields of `dims`.
fn slot(dims: u16, d: usize) -> usize {
    (dims & ((1u16 << d) - 1)).count_ones() as usize
}

impl Cube {
    pub(crate) fn universe() -> Cube {
        Cube::Narrow {
            dims: 0,
            fields: Box::new([]),
        }
    }

    /// The cube with `fields` on the dimensions in `dims`, in order; none
    /// of them full.
    pub(crate) fn from_parts(dims: u16, fields: Vec<Field>) -> Cube {
        debug_assert_eq!(dims.count_ones() as usize, fields.len());
        match fields.iter().map(narrow).collect::<Option<Box<[Narrow]>>>() {
            Some(fields) => Cube::Narrow { dims, fields },
            None => Cube::Wide {
                dims,
                fields: fields.into_boxed_slice(),
            },
        }
    }

    pub(crate) fn dims(&self) -> u16 {
        match self {
            Cube::Narrow { dims, .. } | Cube::Wide { dims, .. } => *dims,
        }
    }

    /// The `i`-th stored field.
    fn at(&self, i: usize) -> Cow<'_, Field> {
        match self {
            Cube::Narrow { fields, .. } => Cow::Owned(widen(fields[i])),
            Cube::Wide { fields, .. } => Cow::Borrowed(&fields[i]),
        }
    }

    /// The field on `d`; `None` when the cube leaves `d` free.
    pub(crate) fn get(&self, d: usize) -> Option<Cow<'_, Field>> {
        let dims = self.dims();
        (dims >> d & 1 == 1).then(|| self.at(slot(dims, d)))
    }

    /// The field on `d` when it is one interval (no copy of a longer field).
    pub(crate) fn interval(&self, d: usize) -> Option<(u128, u128)> {
        let dims = self.dims();
        if dims >> d & 1 == 0 {
            return None;
        }
        match self {
            Cube::Narrow { fields, .. } => {
                let (lo, hi) = fields[slot(dims, d)];
                Some((lo as u128, hi as u128))
            }
            Cube::Wide { fields, .. } => match &fields[slot(dims, d)] {
                Field::One(r) => Some(*r),
                _ => None,
            },
        }
    }

    /// The smallest and largest value of field `d` (`None`: free).
    pub(crate) fn field_bounds(&self, d: usize, max: u128) -> Option<(u128, u128)> {
        match self.interval(d) {
            Some(r) => Some(r),
            None => self.get(d).map(|f| (f.min(), f.max_value(max))),
        }
    }

    /// This cube with field `d` replaced (`None` or a full field: unrestricted).
    pub(crate) fn with(&self, d: usize, f: Option<Field>, dom: &Domain) -> Cube {
        let f = f.filter(|f| !f.is_full(dom.max_of(d)));
        let bit = 1u16 << d;
        let old = self.dims();
        let dims = if f.is_some() { old | bit } else { old & !bit };
        if let Cube::Narrow { fields: own, .. } = self {
            let new = f.as_ref().map(narrow);
            if new != Some(None) {
                // Narrow in, narrow out: splice the one field.
                let mut fields = Vec::with_capacity(dims.count_ones() as usize);
                let at = slot(old, d);
                fields.extend_from_slice(&own[..at]);
                fields.extend(new.flatten());
                let skip = (old & bit != 0) as usize;
                fields.extend_from_slice(&own[at + skip..]);
                return Cube::Narrow {
                    dims,
                    fields: fields.into_boxed_slice(),
                };
            }
        }
        let mut fields = Vec::with_capacity(dims.count_ones() as usize);
        let mut f = f;
        for e in each(old | bit) {
            if e == d {
                if let Some(f) = f.take() {
                    fields.push(f);
                }
            } else if let Some(g) = self.get(e) {
                fields.push(g.into_owned());
            }
        }
        Cube::from_parts(dims, fields)
    }

    /// Restricts field `d` to `f`; `None` when that leaves nothing.
    pub(crate) fn restrict(&self, d: usize, f: &Field, dom: &Domain) -> Option<Cube> {
        let max = dom.max_of(d);
        if f.is_full(max) {
            return Some(self.clone());
        }
        let new = match self.get(d) {
            Some(g) => g.intersect(f, max)?,
            None => f.clone(),
        };
        Some(self.with(d, Some(new), dom))
    }

    pub(crate) fn intersect(&self, o: &Cube, dom: &Domain) -> Option<Cube> {
        let (sd, od) = (self.dims(), o.dims());
        let all = sd | od;
        if let (Cube::Narrow { fields: a, .. }, Cube::Narrow { fields: b, .. }) = (self, o) {
            // Intervals meet in an interval: the result is narrow too.
            let mut fields = Vec::with_capacity(all.count_ones() as usize);
            let (mut i, mut j) = (0, 0);
            for d in each(all) {
                let bit = 1u16 << d;
                fields.push(match (sd & bit != 0, od & bit != 0) {
                    (true, true) => {
                        let (x, y) = (a[i], b[j]);
                        i += 1;
                        j += 1;
                        let r = (x.0.max(y.0), x.1.min(y.1));
                        if r.0 > r.1 {
                            return None;
                        }
                        r
                    }
                    (true, false) => {
                        i += 1;
                        a[i - 1]
                    }
                    _ => {
                        j += 1;
                        b[j - 1]
                    }
                });
            }
            return Some(Cube::Narrow {
                dims: all,
                fields: fields.into_boxed_slice(),
            });
        }
        let mut fields = Vec::with_capacity(all.count_ones() as usize);
        let (mut i, mut j) = (0, 0);
        for d in each(all) {
            let a = (sd >> d & 1 == 1).then(|| {
                i += 1;
                self.at(i - 1)
            });
            let b = (od >> d & 1 == 1).then(|| {
                j += 1;
                o.at(j - 1)
            });
            fields.push(match (a, b) {
                (Some(a), Some(b)) => a.intersect(&b, dom.max_of(d))?,
                (Some(f), None) | (None, Some(f)) => f.into_owned(),
                (None, None) => unreachable!("d is in one of the cubes"),
            });
        }
        Some(Cube::from_parts(all, fields))
    }

    pub(crate) fn intersects(&self, o: &Cube, dom: &Domain) -> bool {
        // Walk both field lists in dimension order.
        let (sd, od) = (self.dims(), o.dims());
        let mut both = sd & od;
        if let (Cube::Narrow { fields: a, .. }, Cube::Narrow { fields: b, .. }) = (self, o) {
            while both != 0 {
                let d = both.trailing_zeros() as usize;
                both &= both - 1;
                let (x, y) = (a[slot(sd, d)], b[slot(od, d)]);
                if x.0.max(y.0) > x.1.min(y.1) {
                    return false;
                }
            }
            return true;
        }
        while both != 0 {
            let d = both.trailing_zeros() as usize;
            both &= both - 1;
            let (x, y) = (self.at(slot(sd, d)), o.at(slot(od, d)));
            if !x.intersects(&y, dom.max_of(d)) {
                return false;
            }
        }
        true
    }

    pub(crate) fn is_subset(&self, o: &Cube, dom: &Domain) -> bool {
        let (sd, od) = (self.dims(), o.dims());
        if od & !sd != 0 {
            return false;
        }
        if let (Cube::Narrow { fields: a, .. }, Cube::Narrow { fields: b, .. }) = (self, o) {
            return each(od).enumerate().all(|(j, d)| {
                let (x, y) = (a[slot(sd, d)], b[j]);
                y.0 <= x.0 && x.1 <= y.1
            });
        }
        each(od)
            .enumerate()
            .all(|(j, d)| self.at(slot(sd, d)).is_subset(&o.at(j), dom.max_of(d)))
    }

    /// Pushes disjoint cubes whose union is `self − o`.
    pub(crate) fn minus(&self, o: &Cube, dom: &Domain, out: &mut Vec<Cube>) {
        self.minus_peeling_last(o, None, dom, out);
    }

    /// [`Cube::minus`], peeling dimension `last` (when given) after all the
    /// others: then only the last piece is cut on `last`, and every other
    /// piece keeps `self`'s field there.
    pub(crate) fn minus_peeling_last(
        &self,
        o: &Cube,
        last: Option<usize>,
        dom: &Domain,
        out: &mut Vec<Cube>,
    ) {
        if !self.intersects(o, dom) {
            out.push(self.clone());
            return;
        }
        if self.is_subset(o, dom) {
            return;
        }
        // Peel one dimension of `o` at a time: the part of `cur` outside o's
        // field there is a piece of the result; the part inside goes on.
        let mut cur = self.clone();
        let od = o.dims();
        let order = match last {
            Some(l) if od >> l & 1 == 1 => {
                let bit = 1u16 << l;
                each(od & !bit).chain(each(bit))
            }
            _ => each(od).chain(each(0)),
        };
        for d in order {
            let max = dom.max_of(d);
            let b = o.get(d).expect("d is in o");
            let a = cur.get(d).unwrap_or(Cow::Owned(Field::full(max)));
            let outside = a.difference(&b, max);
            let inside = a.intersect(&b, max);
            if let Some(outside) = outside {
                out.push(cur.with(d, Some(outside), dom));
            }
            match inside {
                Some(inside) => cur = cur.with(d, Some(inside), dom),
                None => return,
            }
        }
    }

    /// True when the cube has a point outside every cube of `open` (which
    /// it empties as it escapes them), found one field at a time: on field
    /// `d`, the cube's values minus those of every open cube restricting `d`;
    /// when some value is left, every one of those cubes is escaped there.
    pub(crate) fn escapes(&self, open: &mut Vec<&Cube>, dom: &Domain) -> bool {
        for d in 0..DIMS {
            if open.is_empty() {
                return true;
            }
            let bit = 1u16 << d;
            if !open.iter().any(|b| b.dims() & bit != 0) {
                continue;
            }
            let max = dom.max_of(d);
            let mut left = Some(
                self.get(d)
                    .map_or_else(|| Field::full(max), Cow::into_owned),
            );
            for b in open.iter().filter(|b| b.dims() & bit != 0) {
                let Some(l) = &left else { break };
                left = l.difference(&b.get(d).expect("b restricts d"), max);
            }
            if left.is_some() {
                open.retain(|b| b.dims() & bit == 0);
            }
        }
        open.is_empty()
    }

    /// log2 of how many points the cube holds.
    pub(crate) fn log2_volume(&self, dom: &Domain) -> f64 {
        (0..DIMS)
            .map(|d| {
                let max = dom.max_of(d);
                self.get(d)
                    .map_or_else(|| (max as f64 + 1.0).log2(), |f| f.log2_len(max))
            })
            .sum()
    }

    pub(crate) fn contains(&self, p: &Point) -> bool {
        each(self.dims()).all(|d| self.get(d).is_some_and(|f| f.contains(p[d])))
    }

    /// A point of the cube: `preferred` where it fits, else each field's minimum.
    pub(crate) fn pick(&self, preferred: &Point) -> Point {
        let mut p = *preferred;
        for d in each(self.dims()) {
            if let Some(f) = self.get(d) {
                p[d] = f.pick(preferred[d]);
            }
        }
        p
    }

    /// This cube without the fields in `dims`, as a hashable key.
    pub(crate) fn without(&self, d: usize, dom: &Domain) -> Cube {
        self.with(d, None, dom)
    }

    pub(crate) fn restricted_dims(&self) -> impl Iterator<Item = Dim> + '_ {
        each(self.dims()).map(|d| Dim::ALL[d])
    }

    /// The field on `d` as a readable description (for `Debug`).
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        for d in each(self.dims()) {
            parts.push(format!("{:?}={:?}", Dim::ALL[d], self.get(d)));
        }
        if parts.is_empty() {
            "*".to_string()
        } else {
            parts.join(" ")
        }
    }
}

const _: () = assert!(DIMS <= 16, "a cube's dimension set is a u16");

const _: () = assert!(
    std::mem::size_of::<Cube>() == 24,
    "a cube is its dimension set and one boxed slice"
);
