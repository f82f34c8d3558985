//! Cubes: products of per-field sets.
//!
//! A [`Cube`] stores only the fields it restricts (a bit per [`Dim`] in
//! `dims`, the fields in dimension order); an absent field is the whole
//! domain. A cube is never empty and never stores a full field, so
//! `a ⊆ b` needs `b.dims ⊆ a.dims` before any field is looked at.

use super::field::Field;
use super::{DIMS, Dim, Domain, Point};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Cube {
    dims: u16,
    fields: Box<[Field]>,
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

impl Cube {
    pub(crate) fn universe() -> Cube {
        Cube {
            dims: 0,
            fields: Box::new([]),
        }
    }

    /// The cube with `fields` on the dimensions in `dims`, in order; none
    /// of them full.
    pub(crate) fn from_parts(dims: u16, fields: Vec<Field>) -> Cube {
        debug_assert_eq!(dims.count_ones() as usize, fields.len());
        Cube {
            dims,
            fields: fields.into_boxed_slice(),
        }
    }

    pub(crate) fn dims(&self) -> u16 {
        self.dims
    }

    pub(crate) fn get(&self, d: usize) -> Option<&Field> {
        if self.dims >> d & 1 == 1 {
            let i = (self.dims & ((1u16 << d) - 1)).count_ones() as usize;
            Some(&self.fields[i])
        } else {
            None
        }
    }

    /// This cube with field `d` replaced (`None` or a full field: unrestricted).
    pub(crate) fn with(&self, d: usize, f: Option<Field>, dom: &Domain) -> Cube {
        let f = f.filter(|f| !f.is_full(dom.max_of(d)));
        let bit = 1u16 << d;
        let dims = if f.is_some() {
            self.dims | bit
        } else {
            self.dims & !bit
        };
        let mut fields = Vec::with_capacity(dims.count_ones() as usize);
        let mut f = f;
        for e in each(self.dims | bit) {
            if e == d {
                if let Some(f) = f.take() {
                    fields.push(f);
                }
            } else if let Some(g) = self.get(e) {
                fields.push(g.clone());
            }
        }
        Cube {
            dims,
            fields: fields.into_boxed_slice(),
        }
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
        let all = self.dims | o.dims;
        let mut fields = Vec::with_capacity(all.count_ones() as usize);
        let (mut i, mut j) = (0, 0);
        for d in each(all) {
            let a = (self.dims >> d & 1 == 1).then(|| {
                i += 1;
                &self.fields[i - 1]
            });
            let b = (o.dims >> d & 1 == 1).then(|| {
                j += 1;
                &o.fields[j - 1]
            });
            fields.push(match (a, b) {
                (Some(a), Some(b)) => a.intersect(b, dom.max_of(d))?,
                (Some(f), None) | (None, Some(f)) => f.clone(),
                (None, None) => unreachable!("d is in one of the cubes"),
            });
        }
        Some(Cube {
            dims: all,
            fields: fields.into_boxed_slice(),
        })
    }

    pub(crate) fn intersects(&self, o: &Cube, dom: &Domain) -> bool {
        // Walk both field lists in dimension order.
        let (mut i, mut j) = (0, 0);
        let mut all = self.dims | o.dims;
        while all != 0 {
            let d = all.trailing_zeros() as usize;
            let bit = 1u16 << d;
            all &= all - 1;
            match (self.dims & bit != 0, o.dims & bit != 0) {
                (true, true) => {
                    if !self.fields[i].intersects(&o.fields[j], dom.max_of(d)) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                (true, false) => i += 1,
                _ => j += 1,
            }
        }
        true
    }

    pub(crate) fn is_subset(&self, o: &Cube, dom: &Domain) -> bool {
        if o.dims & !self.dims != 0 {
            return false;
        }
        let (mut i, mut j) = (0, 0);
        let mut all = self.dims;
        while all != 0 {
            let d = all.trailing_zeros() as usize;
            all &= all - 1;
            if o.dims >> d & 1 == 1 {
                if !self.fields[i].is_subset(&o.fields[j], dom.max_of(d)) {
                    return false;
                }
                j += 1;
            }
            i += 1;
        }
        true
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
        let order = match last {
            Some(l) if o.dims >> l & 1 == 1 => {
                let bit = 1u16 << l;
                each(o.dims & !bit).chain(each(bit))
            }
            _ => each(o.dims).chain(each(0)),
        };
        for d in order {
            let max = dom.max_of(d);
            let b = o.get(d).expect("d is in o");
            let full;
            let a = match cur.get(d) {
                Some(a) => a,
                None => {
                    full = Field::full(max);
                    &full
                }
            };
            let outside = a.difference(b, max);
            let inside = a.intersect(b, max);
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
            if !open.iter().any(|b| b.dims & bit != 0) {
                continue;
            }
            let max = dom.max_of(d);
            let mut left = Some(self.get(d).cloned().unwrap_or_else(|| Field::full(max)));
            for b in open.iter().filter(|b| b.dims & bit != 0) {
                let Some(l) = &left else { break };
                left = l.difference(b.get(d).expect("b restricts d"), max);
            }
            if left.is_some() {
                open.retain(|b| b.dims & bit == 0);
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
        each(self.dims).all(|d| self.get(d).is_some_and(|f| f.contains(p[d])))
    }

    /// A point of the cube: `preferred` where it fits, else each field's minimum.
    pub(crate) fn pick(&self, preferred: &Point) -> Point {
        let mut p = *preferred;
        for d in each(self.dims) {
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
        each(self.dims).map(|d| Dim::ALL[d])
    }

    /// The field on `d` as a readable description (for `Debug`).
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        for d in each(self.dims) {
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
