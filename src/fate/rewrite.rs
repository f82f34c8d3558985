//! What the targets met so far did to a packet: the rewrites a later rule's
//! test sees through, and that make up part of the packet's fate.
//!
//! Every rewrite iptables targets make on a modelled field is one of three
//! shapes:
//!
//! - **masked**: `x ↦ (x & keep) ^ xor`. `MARK`/`CONNMARK` `--set-xmark`,
//!   `--set-mark`, `--and-mark`, `--or-mark`, `--xor-mark` (the kernel's
//!   `(mark & ~mask) ^ value`), a NAT to one address or one port (`keep` 0),
//!   `NETMAP` (`keep` the host bits). Masked rewrites compose into one masked
//!   rewrite, and the packets whose rewritten field passes a test are a
//!   pattern on the original field ([`PacketSet::preimage_masked`]), so tests
//!   after them stay exact.
//! - **mapped**: a table over a small alphabet. Conntrack atoms: `NOTRACK`
//!   makes every packet `UNTRACKED`, a NAT sets the `SNAT`/`DNAT` status bit.
//! - **opaque**: a value iptlint cannot know offline (`MASQUERADE` and
//!   `REDIRECT` take an interface's address, a NAT to a range picks one,
//!   `CONNMARK --restore-mark` copies from the connection). It is named by a
//!   label; a later test of the field is unknown, and two opaque values are
//!   the same only when their labels are (same target text, same earlier
//!   rewrites of what it reads).

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::Family;
use crate::space::{Dim, PacketSet, ip};

/// How one field was rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldRewrite {
    /// `x ↦ (x & keep) ^ xor`.
    Masked { keep: u128, xor: u128 },
    /// `x ↦ map[x]` over the field's small domain.
    Map(Arc<[u8]>),
    /// A value known only by how it was made.
    Opaque(Arc<str>),
}

/// The rewrites applied so far, per field (identity where absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rewrites {
    entries: Vec<(Dim, FieldRewrite)>,
}

/// The largest value of the bit-width fields a target can rewrite.
pub(crate) fn field_max(family: Family, d: Dim) -> u128 {
    match d {
        Dim::Src | Dim::Dst if family == Family::Ipv6 => u128::MAX,
        Dim::Src | Dim::Dst | Dim::Mark | Dim::Connmark => u32::MAX as u128,
        Dim::SrcPort | Dim::DstPort => 65535,
        Dim::Conntrack => 13,
        _ => unreachable!("{d:?} is not rewritten"),
    }
}

impl Rewrites {
    pub fn is_identity(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, d: Dim) -> Option<&FieldRewrite> {
        self.entries.iter().find(|(e, _)| *e == d).map(|(_, r)| r)
    }

    pub fn entries(&self) -> &[(Dim, FieldRewrite)] {
        &self.entries
    }

    /// Sets one field's rewrite as is (to describe it alone).
    pub fn set_field(&mut self, d: Dim, r: FieldRewrite) {
        self.set(d, Some(r));
    }

    fn set(&mut self, d: Dim, r: Option<FieldRewrite>) {
        self.entries.retain(|(e, _)| *e != d);
        if let Some(r) = r {
            self.entries.push((d, r));
            self.entries.sort_by_key(|(e, _)| *e);
        }
    }

    /// Applies `x ↦ (x & !mask) ^ value` on top of what `d` already went through.
    pub fn masked(&mut self, family: Family, d: Dim, mask: u128, value: u128) {
        let max = field_max(family, d);
        let (mask, value) = (mask & max, value & max);
        let new = match self.get(d) {
            None => FieldRewrite::Masked {
                keep: max & !mask,
                xor: value,
            },
            Some(FieldRewrite::Masked { keep, xor }) => FieldRewrite::Masked {
                keep: keep & !mask,
                xor: (xor & !mask) ^ value,
            },
            Some(_) if mask == max => FieldRewrite::Masked {
                keep: 0,
                xor: value,
            },
            Some(FieldRewrite::Opaque(label)) => {
                FieldRewrite::Opaque(format!("({label}) & {:#x} ^ {value:#x}", max & !mask).into())
            }
            Some(FieldRewrite::Map(_)) => unreachable!("only conntrack is mapped"),
        };
        let identity = matches!(new, FieldRewrite::Masked { keep, xor } if keep == max && xor == 0);
        self.set(d, (!identity).then_some(new));
    }

    /// Sets `d` to one value.
    pub fn assign(&mut self, family: Family, d: Dim, value: u128) {
        self.masked(family, d, u128::MAX, value);
    }

    /// Sets `d` to a value iptlint cannot know.
    pub fn opaque(&mut self, d: Dim, label: String) {
        self.set(d, Some(FieldRewrite::Opaque(label.into())));
    }

    /// The connection now carries the NAT status bit `--ctstate SNAT`
    /// (`destination` false) or `DNAT` tests. Atoms from 2 on are
    /// `2 + 4·state + 2·snat + dnat`: the bit is set on `atom − 2`.
    pub fn set_nat_status(&mut self, destination: bool) {
        let bit = if destination { 1 } else { 2 };
        self.map_conntrack(|x| if x >= 2 { ((x - 2) | bit) + 2 } else { x });
    }

    /// Applies `x ↦ f(x)` to the conntrack atom.
    pub fn map_conntrack(&mut self, f: impl Fn(u8) -> u8) {
        let old: Vec<u8> = match self.get(Dim::Conntrack) {
            Some(FieldRewrite::Map(m)) => m.to_vec(),
            _ => (0..14).collect(),
        };
        let new: Vec<u8> = old.iter().map(|&x| f(x)).collect();
        let identity = new.iter().enumerate().all(|(i, &x)| i == x as usize);
        self.set(
            Dim::Conntrack,
            (!identity).then(|| FieldRewrite::Map(new.into())),
        );
    }

    /// True when no rewritten packet can be in `set` because a field is
    /// rewritten to one constant that `set` does not reach (a DNAT to one
    /// address tested against another service's address): a cheap test
    /// before [`Rewrites::preimage`], which would find the empty set.
    pub fn surely_misses(&self, set: &PacketSet) -> bool {
        self.entries.iter().any(|(d, r)| match r {
            FieldRewrite::Masked { keep: 0, xor } => {
                set.bounds(*d).is_none_or(|(lo, hi)| *xor < lo || *xor > hi)
            }
            _ => false,
        })
    }

    /// The original packets whose rewritten form is in `set`, and the opaque
    /// fields `set` tests (on which it is unknown: they are left free here).
    /// `set` itself, borrowed, when it tests no rewritten field (most rules
    /// test none: the walk asks this at every rule a rewritten branch meets).
    pub fn preimage<'s>(&self, set: &'s PacketSet) -> (Cow<'s, PacketSet>, Vec<Dim>) {
        let mut opaque = Vec::new();
        // A set that does not test field d holds a packet whatever d is
        // rewritten to, so its preimage there is itself.
        let Some(first) = self.entries.iter().position(|(d, _)| set.restricts(*d)) else {
            return (Cow::Borrowed(set), opaque);
        };
        let mut out = Cow::Borrowed(set);
        for (d, r) in &self.entries[first..] {
            if !out.restricts(*d) {
                continue;
            }
            let next = match r {
                FieldRewrite::Masked { keep, xor } => out.preimage_masked(*d, *keep, *xor),
                FieldRewrite::Map(m) => match out.preimage_map(*d, m) {
                    Cow::Borrowed(_) => continue,
                    Cow::Owned(o) => o,
                },
                FieldRewrite::Opaque(_) => {
                    opaque.push(*d);
                    out.forget(*d)
                }
            };
            out = Cow::Owned(next);
        }
        (out, opaque)
    }

    /// The packets of `region` on which `self` and `other` give the same
    /// values, and whether that is certain (no opaque value was compared
    /// with a different one).
    pub fn agree(&self, other: &Rewrites, family: Family, region: &PacketSet) -> (PacketSet, bool) {
        let mut out = region.clone();
        let mut certain = true;
        let mut dims: Vec<Dim> = self
            .entries
            .iter()
            .chain(&other.entries)
            .map(|(d, _)| *d)
            .collect();
        dims.sort();
        dims.dedup();
        for d in dims {
            if out.is_empty() {
                break;
            }
            let (a, b) = (self.get(d), other.get(d));
            if a == b {
                continue;
            }
            match (a, b) {
                (Some(FieldRewrite::Opaque(_)), _) | (_, Some(FieldRewrite::Opaque(_))) => {
                    certain = false;
                    out = none(&out); // nothing agrees for sure
                }
                (Some(FieldRewrite::Map(_)), _) | (_, Some(FieldRewrite::Map(_))) => {
                    let table = |r: Option<&FieldRewrite>| -> Vec<u8> {
                        match r {
                            Some(FieldRewrite::Map(m)) => m.to_vec(),
                            _ => (0..14).collect(),
                        }
                    };
                    let (ta, tb) = (table(a), table(b));
                    let mut same = none(&out);
                    for v in 0..14usize {
                        if ta[v] == tb[v] {
                            same = same.union(&out.restrict_range(d, v as u128, v as u128));
                        }
                    }
                    out = same;
                }
                _ => {
                    let max = field_max(family, d);
                    let masked = |r: Option<&FieldRewrite>| match r {
                        Some(FieldRewrite::Masked { keep, xor }) => (*keep, *xor),
                        _ => (max, 0),
                    };
                    let ((k1, x1), (k2, x2)) = (masked(a), masked(b));
                    let (kd, xd) = (k1 ^ k2, x1 ^ x2);
                    out = if xd & !kd & max != 0 {
                        none(&out)
                    } else {
                        out.restrict_pattern(d, xd & kd, kd)
                    };
                }
            }
        }
        (out, certain)
    }

    /// The rewrites as a person reads them (`mark = mark & 0xffffbfff ^ 0x4000`,
    /// `dst = 10.1.2.3`).
    pub fn describe(&self, family: Family) -> Vec<String> {
        self.entries
            .iter()
            .map(|(d, r)| describe_one(family, *d, r))
            .collect()
    }
}

/// The empty set of `s`'s context.
pub(crate) fn none(s: &PacketSet) -> PacketSet {
    s.empty_like()
}

pub fn field_name(d: Dim) -> &'static str {
    match d {
        Dim::Src => "src",
        Dim::Dst => "dst",
        Dim::SrcPort => "sport",
        Dim::DstPort => "dport",
        Dim::Mark => "mark",
        Dim::Connmark => "connmark",
        Dim::Conntrack => "ctstate",
        _ => "field",
    }
}

fn describe_one(family: Family, d: Dim, r: &FieldRewrite) -> String {
    let name = field_name(d);
    match r {
        FieldRewrite::Masked { keep: 0, xor } => match d {
            Dim::Src | Dim::Dst => format!("{name} = {}", ip(family, *xor)),
            Dim::SrcPort | Dim::DstPort => format!("{name} = {xor}"),
            _ => format!("{name} = {xor:#x}"),
        },
        FieldRewrite::Masked { keep, xor } => match d {
            Dim::Src | Dim::Dst => format!(
                "{name} = {name} & {} | {}",
                ip(family, *keep),
                ip(family, *xor)
            ),
            _ if *xor == 0 => format!("{name} = {name} & {keep:#x}"),
            _ => format!("{name} = {name} & {keep:#x} ^ {xor:#x}"),
        },
        FieldRewrite::Map(m) => {
            let names = [
                "INVALID",
                "UNTRACKED",
                "NEW",
                "NEW+DNAT",
                "NEW+SNAT",
                "NEW+SNAT+DNAT",
                "ESTABLISHED",
                "ESTABLISHED+DNAT",
                "ESTABLISHED+SNAT",
                "ESTABLISHED+SNAT+DNAT",
                "RELATED",
                "RELATED+DNAT",
                "RELATED+SNAT",
                "RELATED+SNAT+DNAT",
            ];
            if m.iter().all(|&x| x == 1) {
                return format!("{name} = UNTRACKED");
            }
            // The NAT status bits: atoms 2.. are 2 + 4·state + 2·snat + dnat.
            for (bits, what) in [(1u8, "DNAT"), (2, "SNAT"), (3, "SNAT+DNAT")] {
                if m.iter().enumerate().all(|(i, &x)| {
                    let i = i as u8;
                    x == if i >= 2 { ((i - 2) | bits) + 2 } else { i }
                }) {
                    return format!("{name} +{what}");
                }
            }
            let changed: Vec<String> = m
                .iter()
                .enumerate()
                .filter(|&(i, &x)| i != x as usize)
                .map(|(i, &x)| format!("{} → {}", names[i], names[x as usize]))
                .collect();
            format!("{name}: {}", changed.join(", "))
        }
        FieldRewrite::Opaque(label) => format!("{name} = {label}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Packet, SpaceContext};

    fn ctx() -> SpaceContext {
        SpaceContext::new(Family::Ipv4, ["eth0"])
    }

    /// The kernel's `(mark & ~mask) ^ value`, applied step by step.
    fn apply(ops: &[(u32, u32)], mark: u32) -> u32 {
        ops.iter()
            .fold(mark, |m, &(mask, value)| (m & !mask) ^ value)
    }

    #[test]
    fn composed_marks_test_like_the_kernel() {
        let ctx = ctx();
        let opss: [&[(u32, u32)]; 4] = [
            &[(0x4000, 0x4000)],
            &[(0, 0x4000), (0xFF, 0x12)],
            &[(0xF0F0, 0x1010), (0xFFFF_FFFF, 7), (0x1, 0)],
            &[(!0x3u32, 0), (0x8, 0x8)],
        ];
        for ops in opss {
            let mut rw = Rewrites::default();
            for &(mask, value) in ops {
                rw.masked(Family::Ipv4, Dim::Mark, mask as u128, value as u128);
            }
            // A rule testing `--mark 0x4010/0x40f0`, seen through the rewrites.
            let test = ctx.universe().restrict_pattern(Dim::Mark, 0x4010, 0x40F0);
            let (pre, opaque) = rw.preimage(&test);
            assert!(opaque.is_empty());
            for mark in [
                0u32,
                1,
                0x4000,
                0x4010,
                0x10,
                0xFFFF_FFFF,
                0x12345678,
                0x40F7,
            ] {
                let p = Packet {
                    mark,
                    ..Packet::default()
                };
                let after = apply(ops, mark);
                assert_eq!(
                    pre.contains(&ctx, &p),
                    after & 0x40F0 == 0x4010,
                    "{ops:?} mark {mark:#x}"
                );
            }
        }
    }

    #[test]
    fn agreement_of_two_mark_rewrites() {
        let ctx = ctx();
        // `--set-mark 1` and `--or-mark 1` agree exactly where the mark is 0 or 1.
        let mut a = Rewrites::default();
        a.assign(Family::Ipv4, Dim::Mark, 1);
        let mut b = Rewrites::default();
        b.masked(Family::Ipv4, Dim::Mark, 1, 1);
        let (same, certain) = a.agree(&b, Family::Ipv4, &ctx.universe());
        assert!(certain);
        for mark in [0u32, 1, 2, 3, 0x100] {
            let p = Packet {
                mark,
                ..Packet::default()
            };
            assert_eq!(same.contains(&ctx, &p), mark <= 1, "mark {mark}");
        }
        let (same, _) = a.agree(&a.clone(), Family::Ipv4, &ctx.universe());
        assert!(same.is_universe());
    }

    #[test]
    fn opaque_fields_make_tests_unknown() {
        let ctx = ctx();
        let mut rw = Rewrites::default();
        rw.opaque(Dim::Dst, "the address of the input interface".into());
        let test = ctx.universe().restrict_range(Dim::Dst, 5, 5);
        let (pre, opaque) = rw.preimage(&test);
        assert_eq!(opaque, vec![Dim::Dst]);
        assert!(pre.is_universe());
        // A later full assignment makes it known again.
        rw.assign(Family::Ipv4, Dim::Dst, 5);
        let (pre, opaque) = rw.preimage(&test);
        assert!(opaque.is_empty() && pre.is_universe());
    }

    /// `--ctstate SNAT`/`DNAT` after a NAT: the bit is set on the state the
    /// connection had, never another state (atoms are offset by 2).
    #[test]
    fn nat_sets_its_status_bit() {
        use crate::space::{Conntrack, CtBase, Packet};
        let ctx = ctx();
        for state in [CtBase::New, CtBase::Established, CtBase::Related] {
            for destination in [false, true] {
                let mut rw = Rewrites::default();
                rw.set_nat_status(destination);
                let before = Conntrack::new(state);
                let after = Conntrack {
                    snat: !destination,
                    dnat: destination,
                    ..before
                };
                let atom = after.atom();
                let test = ctx.universe().restrict_range(Dim::Conntrack, atom, atom);
                let (pre, _) = rw.preimage(&test);
                let packet = |conntrack| Packet {
                    conntrack,
                    ..Packet::default()
                };
                assert!(
                    pre.contains(&ctx, &packet(before)),
                    "{state:?} {destination}"
                );
                assert!(
                    pre.contains(&ctx, &packet(after)),
                    "{state:?} {destination}"
                );
                let other = Conntrack::new(CtBase::Invalid);
                assert!(
                    !pre.contains(&ctx, &packet(other)),
                    "{state:?} {destination}"
                );
                assert_eq!(
                    rw.describe(Family::Ipv4),
                    vec![format!(
                        "ctstate +{}",
                        if destination { "DNAT" } else { "SNAT" }
                    )]
                );
            }
        }
        let mut both = Rewrites::default();
        both.set_nat_status(true);
        both.set_nat_status(false);
        assert_eq!(both.describe(Family::Ipv4), vec!["ctstate +SNAT+DNAT"]);
        let untracked = ctx.universe().restrict_range(Dim::Conntrack, 1, 1);
        assert!(both.preimage(&untracked).0.same_as(&untracked));
    }

    #[test]
    fn conntrack_map_composes() {
        let mut rw = Rewrites::default();
        rw.map_conntrack(|x| if x >= 2 { x | 1 } else { x });
        rw.map_conntrack(|_| 1);
        assert_eq!(
            rw.get(Dim::Conntrack),
            Some(&FieldRewrite::Map(vec![1u8; 14].into()))
        );
        let mut id = Rewrites::default();
        id.map_conntrack(|x| x);
        assert!(id.is_identity());
    }
}
