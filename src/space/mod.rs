//! The packet-space algebra: exact sets of packets, and what each rule matches.
//!
//! Shadowed and redundant rules, diff, trace and the optimizer all ask the
//! same questions — does this rule match anything the earlier ones leave, is
//! this set inside that one, show me a packet that gets here — so they share
//! one representation, [`PacketSet`], and one compiler from a [`Rule`] to the
//! packets it matches, [`rule_match_space`].
//!
//! # The space
//!
//! A packet is a point with one coordinate per [`Dim`]: source and destination
//! address (32 or 128 bits: one family per rule set), protocol number, source
//! and destination port, ICMP type/code, input and output interface, conntrack
//! state, mark, connmark, TCP flags, fragment (non-first or not) and the source
//! and destination address types of `-m addrtype`. Coordinates a packet does
//! not have (ports of an ICMP packet, TCP flags of a fragment) still get a
//! value; no match can tell the values apart, so every set is "any value"
//! along them and nothing changes.
//!
//! # The representation, and why
//!
//! A [`PacketSet`] is a union of pairwise disjoint *cubes*; a cube is a
//! product of one exact value set per field (module `field`), storing only the
//! fields it restricts.
//!
//! - **It is the shape of the input.** A rule is a conjunction of per-field
//!   tests, and each test is an interval or two: a prefix, its complement, a
//!   port range, an interface run. So a rule is one cube, and
//!   `-s 10.1.2.3/32 -p tcp -m tcp --dport 22` is four intervals (source,
//!   protocol, port, and "not a later fragment", which the tcp match
//!   implies): 32 bytes in one allocation, as every field of the cube is one
//!   interval within 32 bits (module `cube`), no per-bit structure. A set of
//!   one cube keeps it inline. Intersection,
//!   overlap and subset of two cubes are a few integer comparisons per field;
//!   overlap and subset allocate nothing. That is what pairwise rule
//!   comparison does millions of times (`benches/space.rs` measures it).
//! - **Difference stays small where it matters.** `a − b` is at most one cube
//!   per field `b` restricts (peel one field at a time), so a rule minus the
//!   few earlier rules that overlap it stays a handful of cubes. The worst case
//!   (many partially overlapping rules) grows with the number of pieces, as
//!   every exact method must somewhere; [`PacketSet::compact`] merges cubes
//!   that differ in one field, and callers are expected to meet each rule only
//!   with the rules that overlap it (index by address/port bounds, see
//!   [`PacketSet::bounds`]).
//! - **Masks stay exact without blowing up.** Arbitrary value/mask tests
//!   (`--mark 0x4000/0x4000`, `-s 10.0.0.0/255.0.255.0`, `0.0.0.1/0.0.0.255`,
//!   `--tcp-flags`) are kept as ternary patterns instead of the up to 2^31
//!   intervals they would be; a field switches to patterns only when such a
//!   test meets it and back to intervals when the result allows.
//! - **No global state.** Sets are plain values (`Send + Sync`), so analyses
//!   can run chains in parallel; memory is proportional to the pieces alive.
//!
//! A BDD over the ~420 header bits (Batfish, FIREMAN) was the alternative. It
//! is canonical and never fragments, but every set lives in a shared,
//! mutable node table: tens of bytes per node, tens of nodes per rule, a
//! garbage collector, and no parallelism without locks. For flat rule lists of
//! 10^5–10^6 rules the cube form is smaller and faster, and the product
//! structure keeps per-field indexes (address/port interval trees) natural.
//!
//! Finite fields are alphabets. Interface names become atoms (module `iface`):
//! every exact name and every `+` prefix a rule set mentions, "any other name",
//! and "no device"; a condition is a run of atoms, so sets over names are
//! exact. Conntrack state is 14 atoms: `INVALID`, `UNTRACKED`, and
//! `NEW`/`ESTABLISHED`/`RELATED` each with or without the `SNAT` and `DNAT`
//! status bits (`--ctstate SNAT` tests those bits, not a fourth state).
//!
//! # What a rule matches
//!
//! [`rule_match_space`] gives a [`MatchSpace`]: the packets the rule *may*
//! match and those it *must* match. They are equal unless the rule has a
//! condition iptlint does not model (an unmodelled module, `-m set`,
//! `statistic`, `limit`, `recent`, `string`, `owner`, `time`, a host name in
//! `-s`, ...): then `may` keeps the modelled conditions and `must` is empty —
//! such a rule can still be covered by earlier rules, but never covers one.
//! `-s a,b` is several kernel rules (iptables expands address lists, source
//! outer, destination inner, each keeping the `!`), so `! -s a,b` matches
//! what `! -s a` or `! -s b` matches; [`rule_expansions`] gives each kernel
//! rule on its own.
//!
//! # Model limits
//!
//! - `-m addrtype` types are independent of the address (the kernel derives
//!   them from routing, which a dump does not contain). This only adds packets
//!   that cannot occur, so coverage claims stay sound; a witness may pair an
//!   address with a type it cannot have.
//! - Interface names are drawn from printable ASCII (the kernel allows any
//!   byte but `/`, `:` and white space); this only matters if a rule set names
//!   all ~90 one-character extensions of a prefix.
//! - The protocol field covers 0–255 for IPv6 too, though ip6tables never sees
//!   an extension-header number there: more packets, never fewer.
//! - Unknown (may, not must): `--tcp-option`, sctp `--chunk-types`, dccp
//!   types and options, conntrack options other than `--ctstate`,
//!   `--limit-iface-in/out`, addrtype in ip6tables (it ANDs the types),
//!   `-m icmp6` without a type, ICMP names iptables would call ambiguous,
//!   `-f` in ip6tables, a protocol match without its `-p` (iptables refuses
//!   it), and every module not named in `compile`: `set`, `statistic`,
//!   `limit`, `recent`, `physdev`, `owner`, `length`, `ttl`, `hl`, `dscp`,
//!   `tos`, `mac`, `pkttype`, and all unmodelled ones.

mod compile;
mod cube;
mod field;
mod iface;
mod packet;

use foldhash::HashMap;
use std::fmt;

use crate::model::{Family, Rule, Ruleset};

pub(crate) use compile::{ICMP_NAMES, ICMPV6_NAMES};
pub use compile::{MatchSpace, Unknown, icmp_type_code, rule_expansions, rule_match_space};
pub use packet::{AddrType, Conntrack, CtBase, Display as PacketDisplay, Packet, ip};

use cube::Cube;
use field::Field;

/// What one cube allows on one dimension (see [`PacketSet::describe_parts`]):
/// the dimension, whether the items are `(value, mask)` patterns (`true`) or
/// inclusive intervals, and the items.
pub type FieldShape = (Dim, bool, Vec<(u128, u128)>);

fn field_weight(f: &Field) -> usize {
    match f {
        Field::One(_) => 1,
        Field::Ranges(v) => v.len(),
        Field::Bits(t) => t.len(),
    }
}

/// The number of dimensions of the space.
pub const DIMS: usize = 15;

/// Past this many merged parts, [`PacketSet::minus_all_along`] takes a set
/// apart by the intervals of its key instead of part after part.
pub const MANY_MERGED_PARTS: usize = 256;

/// One coordinate of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// Source address (32 or 128 bits).
    Src,
    /// Destination address.
    Dst,
    /// IP protocol number (0–255).
    Protocol,
    /// Source port (0–65535).
    SrcPort,
    /// Destination port.
    DstPort,
    /// ICMP type × 256 + code.
    Icmp,
    /// Input interface atom.
    InInterface,
    /// Output interface atom.
    OutInterface,
    /// Conntrack atom (see [`Conntrack`]).
    Conntrack,
    /// `skb->mark`.
    Mark,
    /// The conntrack entry's mark.
    Connmark,
    /// TCP flags byte.
    TcpFlags,
    /// 1 for a non-first fragment.
    Fragment,
    /// [`AddrType`] of the source address.
    SrcType,
    /// [`AddrType`] of the destination address.
    DstType,
}

impl Dim {
    pub const ALL: [Dim; DIMS] = [
        Dim::Src,
        Dim::Dst,
        Dim::Protocol,
        Dim::SrcPort,
        Dim::DstPort,
        Dim::Icmp,
        Dim::InInterface,
        Dim::OutInterface,
        Dim::Conntrack,
        Dim::Mark,
        Dim::Connmark,
        Dim::TcpFlags,
        Dim::Fragment,
        Dim::SrcType,
        Dim::DstType,
    ];

    fn ix(self) -> usize {
        self as usize
    }
}

/// A packet as coordinates, in [`Dim`] order.
pub(crate) type Point = [u128; DIMS];

/// The size of each dimension, shared by every set of one context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Domain {
    /// 128-bit addresses (IPv6).
    wide: bool,
    iface_max: u32,
}

impl Domain {
    fn addr_max(&self) -> u128 {
        if self.wide {
            u128::MAX
        } else {
            u32::MAX as u128
        }
    }

    /// The largest value of dimension `d`.
    pub(crate) fn max_of(&self, d: usize) -> u128 {
        match Dim::ALL[d] {
            Dim::Src | Dim::Dst => self.addr_max(),
            Dim::Protocol | Dim::TcpFlags => 255,
            Dim::SrcPort | Dim::DstPort | Dim::Icmp => 65535,
            Dim::InInterface | Dim::OutInterface => self.iface_max as u128,
            Dim::Conntrack => 13,
            Dim::Mark | Dim::Connmark => u32::MAX as u128,
            Dim::Fragment => 1,
            Dim::SrcType | Dim::DstType => 11,
        }
    }

    /// Dimensions whose domain is all values of some bit width, where
    /// value/mask patterns make sense.
    fn is_bitwise(&self, d: usize) -> bool {
        let m = self.max_of(d);
        m & m.wrapping_add(1) == 0
            && !matches!(
                Dim::ALL[d],
                Dim::InInterface | Dim::OutInterface | Dim::Conntrack
            )
    }
}

/// What sets of one rule set share: the family and the interface alphabet.
///
/// Build it from every rule that will be compiled (all tables of a dump, or
/// both dumps of a diff): an interface name it has not seen makes a condition
/// unknown instead of exact.
#[derive(Clone, Debug)]
pub struct SpaceContext {
    family: Family,
    ifaces: iface::Alphabet,
    dom: Domain,
}

impl SpaceContext {
    /// A context for `family` knowing these `-i`/`-o` arguments (`eth0`, `veth+`).
    pub fn new<'a>(family: Family, interfaces: impl IntoIterator<Item = &'a str>) -> SpaceContext {
        let ifaces = iface::Alphabet::new(interfaces);
        let dom = Domain {
            wide: family == Family::Ipv6,
            iface_max: ifaces.max(),
        };
        SpaceContext {
            family,
            ifaces,
            dom,
        }
    }

    /// A context for these rules.
    pub fn for_rules<'a>(
        family: Family,
        rules: impl IntoIterator<Item = &'a Rule>,
    ) -> SpaceContext {
        let names: Vec<&str> = rules
            .into_iter()
            .flat_map(|r| [r.in_interface(), r.out_interface()])
            .flatten()
            .map(|i| i.value.name.as_str())
            .collect();
        SpaceContext::new(family, names)
    }

    /// A context for every rule of a dump.
    pub fn for_ruleset(ruleset: &Ruleset) -> SpaceContext {
        let rules = ruleset
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules);
        SpaceContext::for_rules(ruleset.family, rules)
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn empty(&self) -> PacketSet {
        PacketSet::new(self.dom, Vec::new())
    }

    /// Every packet.
    pub fn universe(&self) -> PacketSet {
        PacketSet::one(self.dom, Cube::universe())
    }

    /// The packets that can traverse a builtin chain of this hook: no input
    /// device in OUTPUT, no output device in PREROUTING and INPUT, both in
    /// FORWARD. POSTROUTING sees locally sent packets (no input device) and
    /// forwarded ones, which keep the device they came in on (the kernel
    /// passes `skb->dev` as the input device there), so any input side. Any
    /// other name (a user chain) gives every packet.
    pub fn hook_universe(&self, hook: &str) -> PacketSet {
        let any = |d: Dim| Field::range(1, self.dom.max_of(d.ix()));
        let none = Some(Field::One((0, 0)));
        let (inp, out) = match hook {
            "PREROUTING" | "INPUT" => (any(Dim::InInterface), none),
            "FORWARD" => (any(Dim::InInterface), any(Dim::OutInterface)),
            "OUTPUT" => (none, any(Dim::OutInterface)),
            "POSTROUTING" => (
                Field::range(0, self.dom.max_of(Dim::InInterface.ix())),
                any(Dim::OutInterface),
            ),
            _ => return self.universe(),
        };
        let mut set = self.universe();
        for (d, f) in [(Dim::InInterface, inp), (Dim::OutInterface, out)] {
            set = set.restrict_field(d.ix(), f.as_ref());
        }
        set
    }

    /// Packets whose input (`Dim::InInterface`) or output interface is `name`
    /// (`None`: no device). `None` when the name is not in the alphabet.
    pub fn interface_set(&self, dim: Dim, name: &str) -> Option<PacketSet> {
        assert!(matches!(dim, Dim::InInterface | Dim::OutInterface));
        let (lo, hi) = self.ifaces.matched_by(name)?;
        Some(self.universe().restrict_range(dim, lo as u128, hi as u128))
    }

    /// An interface atom for a person: `-` (no device), a name the rule set
    /// mentions, or `(other)` / `eth+ (other)` for the names it does not.
    pub fn interface_label(&self, atom: u128) -> String {
        self.ifaces.label(atom as u32)
    }

    pub(crate) fn domain(&self) -> Domain {
        self.dom
    }

    pub(crate) fn interface_run(&self, name: &str) -> Option<(u32, u32)> {
        self.ifaces.matched_by(name)
    }

    pub(crate) fn point(&self, p: &Packet) -> Point {
        [
            p.src & self.dom.addr_max(),
            p.dst & self.dom.addr_max(),
            p.protocol as u128,
            p.sport as u128,
            p.dport as u128,
            (p.icmp_type as u128) << 8 | p.icmp_code as u128,
            self.ifaces.atom_of(p.in_interface.as_deref()) as u128,
            self.ifaces.atom_of(p.out_interface.as_deref()) as u128,
            p.conntrack.atom(),
            p.mark as u128,
            p.connmark as u128,
            p.tcp_flags as u128,
            p.later_fragment as u128,
            p.src_type.index(),
            p.dst_type.index(),
        ]
    }

    pub(crate) fn packet(&self, x: &Point) -> Packet {
        Packet {
            src: x[0],
            dst: x[1],
            protocol: x[2] as u8,
            sport: x[3] as u16,
            dport: x[4] as u16,
            icmp_type: (x[5] >> 8) as u8,
            icmp_code: x[5] as u8,
            in_interface: self.ifaces.name_of(x[6] as u32),
            out_interface: self.ifaces.name_of(x[7] as u32),
            conntrack: Conntrack::from_atom(x[8]),
            mark: x[9] as u32,
            connmark: x[10] as u32,
            tcp_flags: x[11] as u8,
            later_fragment: x[12] == 1,
            src_type: AddrType::ALL[x[13] as usize],
            dst_type: AddrType::ALL[x[14] as usize],
        }
    }
}

/// An exact set of packets: a union of disjoint cubes.
///
/// Sets from different contexts must not be mixed (debug builds check).
#[derive(Clone)]
pub struct PacketSet {
    repr: Repr,
}

/// A set's domain and cubes. A rule's set is one cube, kept inline: the
/// analyses keep one or two sets per rule, and a separate allocation for
/// one cube would cost as much as the cube. The domain shares the word of
/// the tag, so the whole is 32 bytes.
#[derive(Clone)]
enum Repr {
    One {
        wide: bool,
        iface_max: u32,
        cube: Cube,
    },
    Many {
        wide: bool,
        iface_max: u32,
        cubes: Vec<Cube>,
    },
}

const _: () = assert!(std::mem::size_of::<PacketSet>() == 32);

impl fmt::Debug for PacketSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cubes().is_empty() {
            return f.write_str("PacketSet(∅)");
        }
        f.write_str("PacketSet(")?;
        for (i, c) in self.cubes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ∪ ")?;
            }
            write!(f, "[{}]", c.describe())?;
        }
        f.write_str(")")
    }
}

impl PacketSet {
    /// Hashes the representation that [`PacketSet::same_pieces`] compares.
    pub fn hash_cubes<H: std::hash::Hasher>(&self, state: &mut H) {
        std::hash::Hash::hash(&self.cubes(), state);
    }

    fn same_domain(&self, o: &PacketSet) {
        debug_assert_eq!(self.dom(), o.dom(), "sets from different contexts");
    }

    fn new(dom: Domain, mut cubes: Vec<Cube>) -> PacketSet {
        let Domain { wide, iface_max } = dom;
        let repr = if cubes.len() == 1 {
            let cube = cubes.pop().expect("one cube");
            Repr::One {
                wide,
                iface_max,
                cube,
            }
        } else {
            Repr::Many {
                wide,
                iface_max,
                cubes,
            }
        };
        PacketSet { repr }
    }

    fn one(dom: Domain, cube: Cube) -> PacketSet {
        let Domain { wide, iface_max } = dom;
        PacketSet {
            repr: Repr::One {
                wide,
                iface_max,
                cube,
            },
        }
    }

    fn dom(&self) -> Domain {
        match self.repr {
            Repr::One {
                wide, iface_max, ..
            }
            | Repr::Many {
                wide, iface_max, ..
            } => Domain { wide, iface_max },
        }
    }

    fn cubes(&self) -> &[Cube] {
        match &self.repr {
            Repr::One { cube, .. } => std::slice::from_ref(cube),
            Repr::Many { cubes, .. } => cubes,
        }
    }

    /// The cubes, moved out.
    fn into_cubes(self) -> Vec<Cube> {
        match self.repr {
            Repr::One { cube, .. } => vec![cube],
            Repr::Many { cubes, .. } => cubes,
        }
    }

    /// The cubes, taken out: the set is left empty.
    fn take_cubes(&mut self) -> Vec<Cube> {
        let dom = self.dom();
        std::mem::replace(self, PacketSet::new(dom, Vec::new())).into_cubes()
    }

    fn extend(&mut self, cubes: impl IntoIterator<Item = Cube>) {
        let mut all = self.take_cubes();
        all.extend(cubes);
        *self = PacketSet::new(self.dom(), all);
    }

    fn with_cubes(&self, cubes: Vec<Cube>) -> PacketSet {
        PacketSet::new(self.dom(), cubes)
    }

    /// log2 of how many packets the set holds (`-inf` when empty): a size
    /// to rank sets by, as in "the rule that covers most of it first".
    pub fn log2_volume(&self) -> f64 {
        let logs: Vec<f64> = self
            .cubes()
            .iter()
            .map(|c| c.log2_volume(&self.dom()))
            .collect();
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            return top;
        }
        top + logs.iter().map(|l| (l - top).exp2()).sum::<f64>().log2()
    }

    /// The empty set of the same context (no allocation).
    pub fn empty_like(&self) -> PacketSet {
        self.with_cubes(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.cubes().is_empty()
    }

    /// True when the set is every packet.
    pub fn is_universe(&self) -> bool {
        self.cubes().iter().any(|c| c.dims() == 0) || self.complement().is_empty()
    }

    /// How many disjoint cubes make up the set (a cost measure).
    pub fn cube_count(&self) -> usize {
        self.cubes().len()
    }

    pub fn intersect(&self, o: &PacketSet) -> PacketSet {
        self.same_domain(o);
        if let ([a], [b]) = (self.cubes(), o.cubes()) {
            // Two rules' sets: no vector for the one cube.
            return match a.intersect(b, &self.dom()) {
                Some(c) => PacketSet::one(self.dom(), c),
                None => self.empty_like(),
            };
        }
        let mut out = Vec::new();
        for a in self.cubes() {
            for b in o.cubes() {
                if let Some(c) = a.intersect(b, &self.dom()) {
                    out.push(c);
                }
            }
        }
        self.with_cubes(out)
    }

    /// True when the sets share a packet (no allocation).
    pub fn overlaps(&self, o: &PacketSet) -> bool {
        self.same_domain(o);
        self.cubes()
            .iter()
            .any(|a| o.cubes().iter().any(|b| a.intersects(b, &self.dom())))
    }

    pub fn union(&self, o: &PacketSet) -> PacketSet {
        let mut out = self.cubes().to_vec();
        out.extend(o.difference(self).into_cubes());
        self.with_cubes(out)
    }

    /// `self − o`.
    pub fn difference(&self, o: &PacketSet) -> PacketSet {
        self.same_domain(o);
        let mut cur = self.cubes().to_vec();
        for b in o.cubes() {
            if cur.is_empty() {
                break;
            }
            let mut next = Vec::with_capacity(cur.len());
            for a in &cur {
                a.minus(b, &self.dom(), &mut next);
            }
            cur = next;
        }
        self.with_cubes(cur)
    }

    /// `self − o`, reusing the cubes of `self` that `o` does not touch
    /// (the same cubes, in the same order, as [`PacketSet::difference`]).
    /// A walk that splits a large region by one rule after another keeps
    /// most of it as it is: moving those cubes instead of copying them
    /// is most of the cost.
    pub fn into_difference(self, o: &PacketSet) -> PacketSet {
        self.same_domain(o);
        let [b] = o.cubes() else {
            return self.difference(o);
        };
        let dom = self.dom();
        let mut out = Vec::with_capacity(self.cubes().len());
        for a in self.into_cubes() {
            if a.intersects(b, &dom) {
                a.minus(b, &dom, &mut out);
            } else {
                out.push(a);
            }
        }
        PacketSet::new(dom, out)
    }

    /// `self` minus the union of `parts` (which may overlap), cut so that
    /// `dim` is split last: parts equal on every field but `dim` are first
    /// merged into one cube (their values of `dim` joined), and each cube of
    /// `self` is cut on the other fields before `dim`. Taking a run of rules
    /// keyed by `dim` (`-d IP -p tcp --dport P`, one per address) out of a
    /// region this way leaves one cube per combination of the other fields
    /// (per protocol and port) with the addresses left for it, instead of
    /// one cube per address: a later rule that tests the port alone meets
    /// the few cubes of its port.
    ///
    /// Each merged part is taken out of every piece left by the ones before,
    /// which costs the number of merged parts squared. Past
    /// [`MANY_MERGED_PARTS`] (rules that differ in more than the key: a
    /// port per address), when every part is one cube testing one interval
    /// of `dim` and any two intervals are equal or disjoint, the set is
    /// taken apart by those intervals instead: each interval meets only its
    /// own parts, and the pieces are merged along `dim` at the end.
    pub fn minus_all_along<'s>(
        &self,
        dim: Dim,
        parts: impl IntoIterator<Item = &'s PacketSet>,
    ) -> PacketSet {
        let mut all = Vec::new();
        for p in parts {
            self.same_domain(p);
            all.extend(p.cubes().iter().cloned());
        }
        let mut merged = self.with_cubes(all);
        let d = dim.ix();
        let keyed = merged.cubes().to_vec();
        // The parts may overlap: merging along `dim` only joins values of
        // cubes equal elsewhere, which keeps the union (not disjointness,
        // which the subtraction below does not need).
        merged.merge_along(dim);
        if merged.cubes().len() > MANY_MERGED_PARTS
            && let Some(out) = self.minus_by_intervals(d, keyed)
        {
            return out;
        }
        let mut cur = self.cubes().to_vec();
        for b in merged.cubes() {
            if cur.is_empty() {
                break;
            }
            let mut next = Vec::with_capacity(cur.len() + 3);
            for a in cur {
                if a.intersects(b, &self.dom()) {
                    a.minus_peeling_last(b, Some(d), &self.dom(), &mut next);
                } else {
                    next.push(a);
                }
            }
            cur = next;
        }
        self.with_cubes(cur)
    }

    /// `self` minus the cubes `parts`, when each restricts dimension `d` to
    /// one interval and any two of those are equal or disjoint (else
    /// `None`): the part of `self` outside every interval, and per interval
    /// the part inside it minus the cubes of that interval, merged along
    /// `d`.
    fn minus_by_intervals(&self, d: usize, parts: Vec<Cube>) -> Option<PacketSet> {
        let mut keyed: Vec<((u128, u128), Cube)> = Vec::with_capacity(parts.len());
        for c in parts {
            keyed.push((c.interval(d)?, c));
        }
        keyed.sort_by_key(|(k, _)| *k);
        if keyed
            .windows(2)
            .any(|w| w[0].0 != w[1].0 && w[0].0.1 >= w[1].0.0)
        {
            return None;
        }
        let max = self.dom().max_of(d);
        // The values of `d` in no interval.
        let mut gaps = Vec::with_capacity(keyed.len() + 1);
        let mut next = Some(0u128);
        for ((lo, hi), _) in &keyed {
            let Some(from) = next else { break };
            if *lo > from {
                gaps.push((from, lo - 1));
            }
            next = next.max(hi.checked_add(1).filter(|&n| n <= max));
            if *hi >= max {
                next = None;
            }
        }
        if let Some(from) = next {
            gaps.push((from, max));
        }
        let mut out = self.restrict_field(d, Field::from_intervals(gaps).as_ref());
        for group in keyed.chunk_by(|a, b| a.0 == b.0) {
            let (lo, hi) = group[0].0;
            let mut piece = self
                .restrict_field(d, Field::range(lo, hi).as_ref())
                .into_cubes();
            for (_, b) in group {
                if piece.is_empty() {
                    break;
                }
                let mut rest = Vec::with_capacity(piece.len() + 3);
                for a in piece {
                    a.minus(b, &self.dom(), &mut rest);
                }
                piece = rest;
            }
            out.extend(piece);
        }
        out.merge_along(Dim::ALL[d]);
        Some(out)
    }

    /// Every packet not in the set.
    pub fn complement(&self) -> PacketSet {
        self.with_cubes(vec![Cube::universe()]).difference(self)
    }

    /// `self ⊆ o`.
    pub fn is_subset(&self, o: &PacketSet) -> bool {
        self.same_domain(o);
        if let [b] = o.cubes() {
            return self.cubes().iter().all(|a| a.is_subset(b, &self.dom()));
        }
        'cubes: for a in self.cubes() {
            // Most of the time one cube of `o` holds all of `a`.
            if o.cubes().iter().any(|b| a.is_subset(b, &self.dom())) {
                continue;
            }
            // Not inside any one cube: only a union of two or more cubes that
            // meet `a` can still cover it.
            let mut meeting = o.cubes().iter().filter(|b| a.intersects(b, &self.dom()));
            let (Some(first), Some(_)) = (meeting.next(), meeting.next()) else {
                return false;
            };
            let mut rest = vec![a.clone()];
            for b in o.cubes().iter().skip_while(|b| !std::ptr::eq(*b, first)) {
                let mut next = Vec::with_capacity(rest.len());
                for r in &rest {
                    r.minus(b, &self.dom(), &mut next);
                }
                rest = next;
                if rest.is_empty() {
                    continue 'cubes;
                }
            }
            return false;
        }
        true
    }

    /// True when a quick search finds a packet of the set that is in none of
    /// `others`: proof that their union does not cover the set. `false`
    /// proves nothing. One field at a time, each cube of `others` that
    /// meets a cube of the set is escaped on a field where the set's values
    /// minus the values of all the cubes still to escape restricting that
    /// field are not empty; a cube escaped on some field holds no packet
    /// that takes such a value there. Costs a few field differences per
    /// cube, against the exact difference's pieces (see `shadowed-rule`).
    pub fn escapes(&self, others: &[&PacketSet]) -> bool {
        let mut open: Vec<&Cube> = Vec::new();
        self.cubes().iter().any(|a| {
            open.clear();
            for o in others {
                self.same_domain(o);
                open.extend(o.cubes().iter().filter(|b| a.intersects(b, &self.dom())));
            }
            a.escapes(&mut open, &self.dom())
        })
    }

    /// True when the two sets are made of the same cubes in the same order:
    /// not only the same packets, but every operation on one gives what it
    /// gives on the other, piece for piece.
    pub fn same_pieces(&self, o: &PacketSet) -> bool {
        self.same_domain(o);
        self.cubes() == o.cubes()
    }

    /// Set equality.
    pub fn same_as(&self, o: &PacketSet) -> bool {
        self.is_subset(o) && o.is_subset(self)
    }

    pub fn contains(&self, ctx: &SpaceContext, p: &Packet) -> bool {
        let x = ctx.point(p);
        self.cubes().iter().any(|c| c.contains(&x))
    }

    /// A packet of the set, if it has one ([`Packet::default`] where the set
    /// leaves a field free).
    pub fn witness(&self, ctx: &SpaceContext) -> Option<Packet> {
        self.witness_near(ctx, &Packet::default())
    }

    /// A packet of the set that agrees with `preferred` on each field where
    /// the chosen cube allows it.
    pub fn witness_near(&self, ctx: &SpaceContext, preferred: &Packet) -> Option<Packet> {
        let want = ctx.point(preferred);
        // Prefer a cube that holds the preferred packet outright.
        let cube = self
            .cubes()
            .iter()
            .find(|c| c.contains(&want))
            .or(self.cubes().first())?;
        Some(ctx.packet(&cube.pick(&want)))
    }

    /// The smallest and largest value the set's packets take on `dim`
    /// (`None` when the set is empty) — a key for interval indexes.
    pub fn bounds(&self, dim: Dim) -> Option<(u128, u128)> {
        let d = dim.ix();
        let max = self.dom().max_of(d);
        self.cubes()
            .iter()
            .map(|c| c.field_bounds(d, max).unwrap_or((0, max)))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// [`PacketSet::bounds`] of `self ∩ o`, without building the
    /// intersection.
    pub fn bounds_within(&self, o: &PacketSet, dim: Dim) -> Option<(u128, u128)> {
        self.same_domain(o);
        let d = dim.ix();
        let max = self.dom().max_of(d);
        let mut acc: Option<(u128, u128)> = None;
        for a in self.cubes() {
            for b in o.cubes().iter().filter(|b| a.intersects(b, &self.dom())) {
                let r = match (a.interval(d), b.interval(d)) {
                    (Some(x), Some(y)) => (x.0.max(y.0), x.1.min(y.1)),
                    _ => match (a.get(d), b.get(d)) {
                        (None, None) => (0, max),
                        (Some(f), None) | (None, Some(f)) => (f.min(), f.max_value(max)),
                        (Some(f), Some(g)) => {
                            let f = f.intersect(&g, max).expect("the cubes meet");
                            (f.min(), f.max_value(max))
                        }
                    },
                };
                acc = Some(acc.map_or(r, |(lo, hi)| (lo.min(r.0), hi.max(r.1))));
            }
        }
        acc
    }

    /// The interval `lo..=hi` when the set is one cube whose `dim` is that
    /// one interval (and not every value): what a rule keyed by `dim`
    /// tests there.
    pub fn cube_interval(&self, dim: Dim) -> Option<(u128, u128)> {
        match self.cubes() {
            [c] => c.interval(dim.ix()),
            _ => None,
        }
    }

    /// True when some packet of the set is constrained on `dim`.
    pub fn restricts(&self, dim: Dim) -> bool {
        self.cubes().iter().any(|c| c.get(dim.ix()).is_some())
    }

    /// The packets of the set whose `dim` lies in `lo..=hi`.
    pub fn restrict_range(&self, dim: Dim, lo: u128, hi: u128) -> PacketSet {
        let max = self.dom().max_of(dim.ix());
        self.restrict_field(dim.ix(), Field::range(lo, hi.min(max)).as_ref())
    }

    /// The packets of the set whose `dim` satisfies `x & mask == value & mask`.
    /// Only for dimensions whose domain is a bit width (addresses, ports,
    /// protocol, ICMP, marks, TCP flags, fragment).
    pub fn restrict_pattern(&self, dim: Dim, value: u128, mask: u128) -> PacketSet {
        assert!(
            self.dom().is_bitwise(dim.ix()),
            "{dim:?} is not a bit field"
        );
        let max = self.dom().max_of(dim.ix());
        self.restrict_field(dim.ix(), Some(&Field::pattern(value, mask, max)))
    }

    /// The set with `dim` made free: every packet that differs from a member
    /// only on `dim`. (What a target that rewrites a field does to what later
    /// rules can know about it.)
    pub fn forget(&self, dim: Dim) -> PacketSet {
        let mut out = self.with_cubes(Vec::new());
        for c in self.cubes() {
            let one = self.with_cubes(vec![c.without(dim.ix(), &self.dom())]);
            out = out.union(&one);
        }
        out
    }

    /// `{p : p with dim := (p.dim & keep) ^ xor is in the set}`: the packets
    /// a masked rewrite of `dim` (`MARK --set-xmark xor/!keep`, a NAT to one
    /// address: `keep` 0) turns into members. A later rule's test on the
    /// rewritten packet is this set of original packets. Only for bit-width
    /// dimensions (see [`PacketSet::restrict_pattern`]).
    pub fn preimage_masked(&self, dim: Dim, keep: u128, xor: u128) -> PacketSet {
        assert!(
            self.dom().is_bitwise(dim.ix()),
            "{dim:?} is not a bit field"
        );
        let d = dim.ix();
        let max = self.dom().max_of(d);
        let cubes = self
            .cubes()
            .iter()
            .filter_map(|c| match c.get(d) {
                None => Some(c.clone()),
                Some(f) => f
                    .preimage_masked(keep, xor, max)
                    .map(|g| c.with(d, Some(g), &self.dom())),
            })
            .collect();
        self.with_cubes(cubes)
    }

    /// `{p : p with dim := map[p.dim] is in the set}`, for a dimension with a
    /// small domain (conntrack atoms, address types): `map` has one entry per
    /// value `0..=max`. The set itself, borrowed, when that is what it is
    /// (a NAT's status bit does not change what `--ctstate NEW` holds).
    pub fn preimage_map(&self, dim: Dim, map: &[u8]) -> std::borrow::Cow<'_, PacketSet> {
        let d = dim.ix();
        let max = self.dom().max_of(d);
        assert!(
            max < 128 && map.len() as u128 == max + 1,
            "{dim:?} needs one entry per value"
        );
        // Each field as the bits of its values, and of the values `map`
        // sends into it.
        let bits = |f: &Field| -> (u128, u128) {
            let mut own = 0u128;
            let mut pre = 0u128;
            for x in 0..=max {
                own |= (f.contains(x) as u128) << x;
                pre |= (f.contains(map[x as usize] as u128) as u128) << x;
            }
            (own, pre)
        };
        let fixed = self.cubes().iter().all(|c| {
            c.get(d).is_none_or(|f| {
                let (own, pre) = bits(&f);
                own == pre
            })
        });
        if fixed {
            return std::borrow::Cow::Borrowed(self);
        }
        let cubes = self
            .cubes()
            .iter()
            .filter_map(|c| match c.get(d) {
                None => Some(c.clone()),
                Some(f) => {
                    let (_, pre) = bits(&f);
                    let runs = (0..=max)
                        .filter(|&x| pre >> x & 1 == 1)
                        .map(|x| (x, x))
                        .collect();
                    Field::from_intervals(runs).map(|g| c.with(d, Some(g), &self.dom()))
                }
            })
            .collect();
        std::borrow::Cow::Owned(self.with_cubes(cubes))
    }

    /// The set cut into its disjoint cubes, one set each (for indexes over
    /// the pieces of a large set).
    pub fn parts(&self) -> Vec<PacketSet> {
        self.cubes()
            .iter()
            .map(|c| self.with_cubes(vec![c.clone()]))
            .collect()
    }

    /// The union of sets known to be pairwise disjoint (such as
    /// [`PacketSet::parts`] of one set), without the difference a general
    /// union needs. Debug builds check the disjointness.
    pub fn from_disjoint(
        ctx: &SpaceContext,
        parts: impl IntoIterator<Item = PacketSet>,
    ) -> PacketSet {
        let mut out = ctx.empty();
        for p in parts {
            debug_assert!(!out.overlaps(&p), "parts are not disjoint");
            out.extend(p.into_cubes());
        }
        out
    }

    /// What each cube allows on each dimension it restricts: the values as
    /// intervals (`false`) or as `(value, mask)` patterns (`true`), for
    /// describing a set to a person.
    pub fn describe_parts(&self) -> Vec<Vec<FieldShape>> {
        self.cubes()
            .iter()
            .map(|c| {
                c.restricted_dims()
                    .filter_map(|d| {
                        let (bits, items) = c.get(d.ix())?.shape();
                        Some((d, bits, items))
                    })
                    .collect()
            })
            .collect()
    }

    /// Merges cubes that differ in one field only, until none do. The set is
    /// unchanged; long differences leave fewer, larger cubes afterwards.
    pub fn compact(&mut self) {
        if self.cubes().len() < 2 {
            return;
        }
        let dom = self.dom();
        let mut cubes = self.take_cubes();
        'passes: loop {
            let before = cubes.len();
            for d in 0..DIMS {
                if cubes.len() < 2 {
                    break 'passes;
                }
                let mut groups: HashMap<Cube, usize> = HashMap::default();
                let mut merged: Vec<Cube> = Vec::with_capacity(cubes.len());
                for c in cubes.drain(..) {
                    let key = c.without(d, &dom);
                    match groups.get(&key) {
                        Some(&i) => {
                            // Same everywhere but `d`: one cube with the union there.
                            let max = dom.max_of(d);
                            let f = match (merged[i].get(d), c.get(d)) {
                                (Some(a), Some(b)) => Some(a.union(&b, max)),
                                _ => None,
                            };
                            merged[i] = merged[i].with(d, f, &dom);
                        }
                        None => {
                            groups.insert(key, merged.len());
                            merged.push(c);
                        }
                    }
                }
                cubes = merged;
            }
            if cubes.len() == before {
                break;
            }
        }
        *self = PacketSet::new(dom, cubes);
    }

    /// How many intervals or patterns the set stores, over all its cubes
    /// and fields (at least one per cube): a measure of its memory.
    pub fn weight(&self) -> usize {
        self.cubes()
            .iter()
            .map(|c| {
                let fields: usize = (0..DIMS)
                    .filter_map(|d| c.get(d))
                    .map(|f| field_weight(&f))
                    .sum();
                fields.max(1)
            })
            .sum()
    }

    /// The dimension whose fields store the most intervals or patterns,
    /// with that number (`None` for a set of unrestricted cubes).
    pub fn heaviest_dim(&self) -> Option<(Dim, usize)> {
        let mut per = [0usize; DIMS];
        for c in self.cubes() {
            for (d, w) in per.iter_mut().enumerate() {
                if let Some(f) = c.get(d) {
                    *w += field_weight(&f);
                }
            }
        }
        let (d, w) = per.iter().enumerate().max_by_key(|(_, w)| **w)?;
        (*w > 0).then_some((Dim::ALL[d], *w))
    }

    /// Merges cubes that are equal on every field but `dim` into one cube
    /// with the union there: one pass of [`PacketSet::compact`] along one
    /// dimension. The grouping looks at the other fields only, so a set
    /// whose bulk is on `dim` (a long list of addresses, cut into pieces by
    /// other fields) is merged for the cost of its small fields.
    pub fn merge_along(&mut self, dim: Dim) {
        use std::hash::{BuildHasher, Hash, Hasher};
        if self.cubes().len() < 2 {
            return;
        }
        let d = dim.ix();
        let bit = 1u16 << d;
        let state = foldhash::fast::FixedState::default();
        let key = |c: &Cube| {
            let mut h = state.build_hasher();
            (c.dims() & !bit).hash(&mut h);
            for e in (0..DIMS).filter(|&e| e != d) {
                if let Some(f) = c.get(e) {
                    f.hash(&mut h);
                }
            }
            h.finish()
        };
        let same_but_d = |a: &Cube, b: &Cube| {
            a.dims() & !bit == b.dims() & !bit && (0..DIMS).all(|e| e == d || a.get(e) == b.get(e))
        };
        let mut by_key: HashMap<u64, Vec<usize>> = HashMap::default();
        let mut groups: Vec<Vec<Cube>> = Vec::new();
        let dom = self.dom();
        for c in self.take_cubes() {
            let slot = by_key.entry(key(&c)).or_default();
            match slot.iter().find(|&&g| same_but_d(&groups[g][0], &c)) {
                Some(&g) => groups[g].push(c),
                None => {
                    slot.push(groups.len());
                    groups.push(vec![c]);
                }
            }
        }
        let max = dom.max_of(d);
        let mut out = Vec::with_capacity(groups.len());
        for mut group in groups {
            if group.len() == 1 {
                out.extend(group.pop());
                continue;
            }
            // All at once: one merge of sorted runs instead of a growing
            // union per member.
            let mut intervals: Vec<field::Rg> = Vec::new();
            let mut full = false;
            let mut ranges = true;
            for c in &group {
                match c.get(d).as_deref() {
                    None => full = true,
                    Some(Field::One(r)) => intervals.push(*r),
                    Some(Field::Ranges(v)) => intervals.extend_from_slice(v),
                    Some(Field::Bits(_)) => ranges = false,
                }
            }
            let union = if full {
                None
            } else if ranges {
                // The members' lists are sorted runs: a stable sort merges
                // runs, so the sort inside `from_intervals` finds them sorted.
                intervals.sort();
                Field::from_intervals(intervals)
            } else {
                let mut fields = group.iter().filter_map(|c| c.get(d));
                let first = fields.next().map(std::borrow::Cow::into_owned);
                first.map(|f| fields.fold(f, |acc, g| acc.union(&g, max)))
            };
            out.push(group[0].with(d, union, &dom));
        }
        *self = PacketSet::new(dom, out);
    }

    /// The dimensions some cube of the set restricts.
    pub fn dims(&self) -> Vec<Dim> {
        let mut all = 0u16;
        for c in self.cubes() {
            all |= c.dims();
        }
        Dim::ALL
            .into_iter()
            .filter(|d| all >> d.ix() & 1 == 1)
            .collect()
    }

    fn restrict_field(&self, d: usize, f: Option<&Field>) -> PacketSet {
        let Some(f) = f else {
            return self.with_cubes(Vec::new());
        };
        let cubes = self
            .cubes()
            .iter()
            .filter_map(|c| c.restrict(d, f, &self.dom()))
            .collect();
        self.with_cubes(cubes)
    }

    /// Cubes, for the compiler.
    pub(crate) fn restrict_dim(&self, d: Dim, f: Option<&Field>) -> PacketSet {
        self.restrict_field(d.ix(), f)
    }

    /// The set of one cube: `fields` on the dimensions in `dims` (none full).
    pub(crate) fn from_cube(ctx: &SpaceContext, dims: u16, fields: Vec<Field>) -> PacketSet {
        PacketSet::one(ctx.domain(), Cube::from_parts(dims, fields))
    }

    /// Iterates over the restricted dimensions of each cube (for tests and
    /// debugging output).
    pub fn cube_dims(&self) -> Vec<Vec<Dim>> {
        self.cubes()
            .iter()
            .map(|c| c.restricted_dims().collect())
            .collect()
    }
}
