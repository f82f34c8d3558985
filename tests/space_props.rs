//! The packet-space algebra against brute force.
//!
//! Each case generates a small random rule set (text, through the real
//! parser), compiles every rule, builds random set expressions from the rules'
//! may/must sets, and compares the algebra with a direct, independent
//! evaluation of the rules on concrete packets:
//!
//! - membership of every enumerated packet in every expression;
//! - emptiness, subset and overlap against the enumeration;
//! - every witness the algebra returns really is in its set, and every "not a
//!   subset" / "overlaps" answer comes with a packet that proves it;
//! - `compact` and `forget` keep the right packets.
//!
//! The packets are enumerated per case from pools that hit every atom of the
//! generated predicates: each field draws its rule values from a small list,
//! and its pool holds those values ± 1 (ports, protocols, ICMP), every
//! combination of the bits masks can test (marks, TCP flags, the low address
//! bits), one address block per distinct "region" the prefixes and masks can
//! tell apart, and every interface name class. Fields no rule of the case
//! tests stay at one value.
//!
//! `SPACE_PROP_CASES` sets the number of cases (default 1000);
//! `SPACE_PROP_SEED` the first seed.

use std::collections::BTreeSet;

use iptlint::model::{AddrSpec, CtState, Family, Match, Rule, Value};
use iptlint::space::{
    AddrType, Conntrack, CtBase, Dim, MatchSpace, Packet, PacketSet, SpaceContext, rule_expansions,
    rule_match_space,
};

mod support;
use support::Rng;

// ---------------------------------------------------------------- PRNG ----

// ----------------------------------------------------- three-valued logic --

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tri {
    F,
    U,
    T,
}

fn tri(b: bool) -> Tri {
    if b { Tri::T } else { Tri::F }
}

// ------------------------------------------------ the reference evaluator --
//
// Written from the kernel's match functions, without looking at the algebra.

fn eval_rule(rule: &Rule, p: &Packet, fam: Family) -> Tri {
    if rule.only_family().is_some_and(|f| f != fam) {
        return Tri::F;
    }
    let mut base = Tri::T;
    if let Some(pr) = &rule.protocol {
        base = base.min(match pr.value.number {
            None => Tri::U,
            Some(0) => Tri::T,
            Some(n) => tri((p.protocol == n) != pr.negated),
        });
    }
    for (slot, dev) in [
        (rule.in_interface(), &p.in_interface),
        (rule.out_interface(), &p.out_interface),
    ] {
        if let Some(i) = slot {
            let dev = dev.as_deref().unwrap_or("");
            let name = i.value.name.as_str();
            let hit = match name.strip_suffix('+') {
                Some(prefix) => dev.starts_with(prefix),
                None => name.is_empty() || dev == name,
            };
            base = base.min(tri(hit != i.negated));
        }
    }
    if let Some(f) = rule.fragment() {
        base = base.min(if fam == Family::Ipv6 {
            Tri::U
        } else {
            tri(p.later_fragment != f.negated)
        });
    }
    for m in &rule.matches {
        base = base.min(eval_match(rule, m, p, fam));
    }
    let addr = |slot: &Option<iptlint::model::Negatable<iptlint::model::List<AddrSpec>>>,
                value: u128| {
        let Some(n) = slot else {
            return vec![Tri::T];
        };
        if n.value.is_empty() {
            return vec![Tri::U];
        }
        n.value
            .iter()
            .map(|a| match a.as_net() {
                Some(net) if net.family() == fam => {
                    tri((value & net.mask() == net.addr_u128() & net.mask()) != n.negated)
                }
                _ => Tri::U,
            })
            .collect()
    };
    let mut any = Tri::F;
    for s in addr(&rule.source, p.src) {
        for d in addr(&rule.destination, p.dst) {
            any = any.max(base.min(s).min(d));
        }
    }
    any
}

fn in_ports(v: &Value, port: u16) -> Option<bool> {
    match v {
        Value::Ports(r) => Some(r.iter().any(|r| r.lo <= port && port <= r.hi)),
        _ => None,
    }
}

fn flags(text: &str) -> Option<u8> {
    let mut f = 0;
    for w in text.split(',') {
        f |= match w {
            "FIN" => 1,
            "SYN" => 2,
            "RST" => 4,
            "PSH" => 8,
            "ACK" => 16,
            "URG" => 32,
            "ALL" => 63,
            "NONE" => 0,
            _ => return None,
        };
    }
    Some(f)
}

/// (type, lowest code, highest code) for the ICMP words the generator uses.
fn icmp_spec(text: &str, fam: Family) -> Option<(u8, u8, u8)> {
    let named = match (fam, text) {
        (Family::Ipv4, "any") => Some((255, 0, 255)),
        (Family::Ipv4, "echo-request") => Some((8, 0, 255)),
        (Family::Ipv4, "echo-reply") => Some((0, 0, 255)),
        (Family::Ipv4, "destination-unreachable") => Some((3, 0, 255)),
        (Family::Ipv4, "port-unreachable") => Some((3, 3, 3)),
        (Family::Ipv6, "echo-request") => Some((128, 0, 255)),
        (Family::Ipv6, "destination-unreachable") => Some((1, 0, 255)),
        (Family::Ipv6, "port-unreachable") => Some((1, 4, 4)),
        (Family::Ipv6, "packet-too-big") => Some((2, 0, 255)),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    match text.split_once('/') {
        Some((t, c)) => {
            let c = c.parse().ok()?;
            Some((t.parse().ok()?, c, c))
        }
        None => Some((text.parse().ok()?, 0, 255)),
    }
}

fn state_bits(c: &Conntrack) -> Vec<CtState> {
    match c.state {
        CtBase::Invalid => vec![CtState::Invalid],
        CtBase::Untracked => vec![CtState::Untracked],
        s => {
            let mut v = vec![match s {
                CtBase::New => CtState::New,
                CtBase::Established => CtState::Established,
                _ => CtState::Related,
            }];
            if c.snat {
                v.push(CtState::Snat);
            }
            if c.dnat {
                v.push(CtState::Dnat);
            }
            v
        }
    }
}

fn eval_match(rule: &Rule, m: &Match, p: &Packet, fam: Family) -> Tri {
    if m.module == "comment" {
        return Tri::T;
    }
    if !m.modelled || m.options.iter().any(|o| o.value == Value::Raw) {
        return Tri::U;
    }
    let proto = rule
        .protocol
        .as_ref()
        .filter(|p| !p.negated)
        .and_then(|p| p.value.number);
    let mut r = Tri::T;
    match m.module.as_str() {
        "tcp" | "udp" => {
            let want = if m.module == "tcp" { 6 } else { 17 };
            if proto != Some(want) {
                return Tri::U;
            }
            if p.later_fragment {
                return Tri::F;
            }
            for o in &m.options {
                let hit = match o.name.as_str() {
                    "--sport" => in_ports(&o.value, p.sport),
                    "--dport" => in_ports(&o.value, p.dport),
                    "--syn" => Some(p.tcp_flags & 0x17 == 0x02),
                    "--tcp-flags" => match &o.value {
                        Value::Words(w) => flags(&w[0])
                            .zip(flags(&w[1]))
                            .map(|(mask, comp)| p.tcp_flags & mask == comp),
                        _ => None,
                    },
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "icmp" | "icmp6" => {
            let (want, f) = if m.module == "icmp" {
                (1, Family::Ipv4)
            } else {
                (58, Family::Ipv6)
            };
            if proto != Some(want) || fam != f {
                return Tri::U;
            }
            if p.later_fragment {
                return Tri::F;
            }
            if m.options.is_empty() && f == Family::Ipv6 {
                return Tri::U;
            }
            for o in &m.options {
                let hit = match o.text() {
                    Some(t) => icmp_spec(t, fam).map(|(ty, lo, hi)| {
                        (fam == Family::Ipv4 && ty == 255)
                            || (p.icmp_type == ty && lo <= p.icmp_code && p.icmp_code <= hi)
                    }),
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "multiport" => {
            if !matches!(proto, Some(6 | 17)) {
                return Tri::U;
            }
            if p.later_fragment {
                return Tri::F;
            }
            for o in &m.options {
                let hit = match o.name.as_str() {
                    "--sports" => in_ports(&o.value, p.sport),
                    "--dports" => in_ports(&o.value, p.dport),
                    "--ports" => in_ports(&o.value, p.sport)
                        .zip(in_ports(&o.value, p.dport))
                        .map(|(a, b)| a || b),
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "conntrack" | "state" => {
            if m.options.is_empty() {
                return Tri::U;
            }
            for o in &m.options {
                let hit = match (&o.value, o.name.as_str()) {
                    (Value::States(s), "--ctstate" | "--state") => {
                        if m.module == "state"
                            && s.iter().any(|s| matches!(s, CtState::Snat | CtState::Dnat))
                        {
                            None
                        } else {
                            Some(state_bits(&p.conntrack).iter().any(|b| s.contains(b)))
                        }
                    }
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "mark" | "connmark" => {
            let value = if m.module == "mark" {
                p.mark
            } else {
                if !p.conntrack.state.is_tracked() {
                    return Tri::F;
                }
                p.connmark
            };
            for o in &m.options {
                let hit = match &o.value {
                    Value::Mark(mm) => Some(value & mm.mask == mm.value),
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "addrtype" => {
            if fam == Family::Ipv6 {
                return Tri::U;
            }
            for o in &m.options {
                let ty = match o.name.as_str() {
                    "--src-type" => Some(p.src_type),
                    "--dst-type" => Some(p.dst_type),
                    _ => None,
                };
                let hit = match (&o.value, ty) {
                    (Value::Words(w), Some(ty)) => Some(w.iter().any(|w| w == ty.as_str())),
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        "iprange" => {
            for o in &m.options {
                let v = match o.name.as_str() {
                    "--src-range" => Some(p.src),
                    "--dst-range" => Some(p.dst),
                    _ => None,
                };
                let hit = match (&o.value, v) {
                    (Value::AddrRange(ar), Some(v)) if ar.lo.is_ipv4() == (fam == Family::Ipv4) => {
                        let n = |a: std::net::IpAddr| match a {
                            std::net::IpAddr::V4(a) => u32::from(a) as u128,
                            std::net::IpAddr::V6(a) => u128::from(a),
                        };
                        Some(n(ar.lo) <= v && v <= n(ar.hi))
                    }
                    _ => None,
                };
                r = r.min(hit.map_or(Tri::U, |h| tri(h != o.negated)));
            }
        }
        _ => return Tri::U,
    }
    r
}

// ------------------------------------------------------------ generation --

/// Address layout of one family: region bases (each a block of 8
/// addresses), prefixes whose tests are unions of regions, and the upper
/// parts of odd masks, constant on each region.
struct Layout {
    family: Family,
    regions: Vec<u128>,
    /// (base, prefix length); lengths ≥ width − 3 cut inside a region by the
    /// low bits only.
    prefixes: Vec<(u128, u32)>,
    /// Upper mask parts (low 3 bits clear).
    odd_upper: Vec<u128>,
    /// Regions odd-mask values come from.
    odd_regions: Vec<u128>,
    /// For each odd region, the region that differs only in a group some odd
    /// mask ignores, so "matches the mask but is not the value's region" has
    /// a member. Only in the pool: no rule value comes from them, so nothing
    /// splits them further.
    variants: Vec<u128>,
    width: u32,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> u128 {
    u32::from_be_bytes([a, b, c, d]) as u128
}

fn layout(family: Family) -> Layout {
    match family {
        Family::Ipv4 => Layout {
            family,
            regions: vec![
                v4(10, 0, 0, 0),
                v4(10, 0, 0, 8),
                v4(10, 0, 0, 248),
                v4(10, 0, 1, 0),
                v4(11, 0, 0, 0),
                v4(9, 255, 255, 248),
                v4(0, 0, 0, 0),
                v4(255, 255, 255, 248),
            ],
            prefixes: vec![
                (v4(10, 0, 0, 0), 8),
                (v4(10, 0, 0, 0), 24),
                (v4(10, 0, 0, 0), 28),
                (v4(10, 0, 0, 0), 29),
                (v4(10, 0, 0, 8), 29),
                (v4(0, 0, 0, 0), 0),
            ],
            odd_upper: vec![0xFFFF_FFF8, 0, 0xFF00_FFF8, 0xFF00_0000],
            odd_regions: vec![v4(10, 0, 0, 0), v4(10, 0, 0, 8)],
            variants: vec![v4(10, 5, 0, 0), v4(10, 5, 0, 8)],
            width: 32,
        },
        Family::Ipv6 => {
            let db8: u128 = 0x2001_0db8 << 96;
            Layout {
                family,
                regions: vec![
                    db8,
                    db8 | 8,
                    db8 | 0x1_0000,
                    (0x2001_0db9u128) << 96,
                    0,
                    u128::MAX - 7,
                ],
                prefixes: vec![
                    (db8, 32),
                    (db8, 64),
                    (db8, 125),
                    (db8 | 8, 125),
                    (db8, 124),
                    (0, 0),
                ],
                odd_upper: vec![u128::MAX << 3, 0, (u128::MAX << 3) & !(0xFFFF << 64)],
                odd_regions: vec![db8, db8 | 8],
                variants: vec![db8 | (1 << 64), db8 | (1 << 64) | 8],
                width: 128,
            }
        }
    }
}

impl Layout {
    fn text(&self, a: u128) -> String {
        iptlint::space::ip(self.family, a).to_string()
    }
    fn mask_text(&self, m: u128) -> String {
        self.text(m)
    }
    /// A random address test in this layout.
    fn addr(&self, rng: &mut Rng) -> String {
        let full = if self.width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        match rng.below(4) {
            0 => {
                let r = *rng.pick(&self.regions);
                self.text(r | rng.below(8) as u128)
            }
            1 => {
                let (b, l) = *rng.pick(&self.prefixes);
                format!("{}/{l}", self.text(b))
            }
            2 => {
                // A prefix inside a region: /(w-2)../w.
                let l = self.width - rng.below(3) as u32;
                let r = *rng.pick(&self.regions);
                format!("{}/{l}", self.text(r | rng.below(8) as u128))
            }
            _ => {
                let upper = *rng.pick(&self.odd_upper) & full;
                let mask = upper | rng.below(8) as u128;
                let r = *rng.pick(&self.odd_regions);
                format!(
                    "{}/{}",
                    self.text(r | rng.below(8) as u128),
                    self.mask_text(mask)
                )
            }
        }
    }
    fn pool(&self) -> Vec<u128> {
        self.regions
            .iter()
            .chain(&self.variants)
            .flat_map(|r| (0..8).map(move |l| r | l))
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Src,
    Dst,
    SrcList,
    Proto,
    Ports,
    Multiport,
    Icmp,
    InIf,
    OutIf,
    Frag,
    Ct,
    Mark,
    Connmark,
    TcpFlags,
    AddrType,
    Iprange,
    Unknown,
}

const KINDS: &[Kind] = &[
    Kind::Src,
    Kind::Dst,
    Kind::SrcList,
    Kind::Proto,
    Kind::Ports,
    Kind::Multiport,
    Kind::Icmp,
    Kind::InIf,
    Kind::OutIf,
    Kind::Frag,
    Kind::Ct,
    Kind::Mark,
    Kind::Connmark,
    Kind::TcpFlags,
    Kind::AddrType,
    Kind::Iprange,
    Kind::Unknown,
];

const PORTS: &[u16] = &[0, 1, 21, 22, 23, 80, 443, 1023, 1024, 65534, 65535];
const NAMES: &[&str] = &[
    "eth0", "eth1", "eth10", "wlan0", "lo", "eth+", "eth1+", "e+", "wl+", "+",
];
/// Every interface atom of NAMES: each exact name, a member of each class, and
/// no device.
const NAME_POOL: &[Option<&str>] = &[
    None,
    Some("eth0"),
    Some("eth1"),
    Some("eth10"),
    Some("wlan0"),
    Some("lo"),
    Some("ethzz"),
    Some("eth1zz"),
    Some("ezz"),
    Some("wlzz"),
    Some("zz"),
];
const STATES: &[&str] = &[
    "INVALID",
    "NEW",
    "ESTABLISHED",
    "RELATED",
    "UNTRACKED",
    "SNAT",
    "DNAT",
];
const MARK_VALUES: &[u32] = &[0, 1, 2, 3, 5, 7, 0x4000, 0x4001, 0x4006];
const MARK_MASKS: &[u32] = &[0xFFFF_FFFF, 1, 2, 4, 3, 6, 7, 0x4000, 0x4007];
const FLAG_NAMES: &[&str] = &["FIN", "SYN", "RST", "ACK", "PSH", "URG"];
const TYPES: &[&str] = &["LOCAL", "UNICAST", "BROADCAST", "MULTICAST"];

/// Values each field's packets draw from.
#[derive(Default)]
struct Pools {
    src: bool,
    dst: bool,
    proto: BTreeSet<u8>,
    sport: BTreeSet<u16>,
    dport: BTreeSet<u16>,
    icmp: BTreeSet<(u8, u8)>,
    in_if: bool,
    out_if: bool,
    frag: bool,
    ct: bool,
    mark: bool,
    connmark: bool,
    flag_bits: u8,
    types: bool,
}

impl Pools {
    fn port(&mut self, dim_src: bool, p: u16) {
        let set = if dim_src {
            &mut self.sport
        } else {
            &mut self.dport
        };
        set.insert(p);
        set.insert(p.saturating_sub(1));
        set.insert(p.saturating_add(1));
    }
}

struct Case {
    family: Family,
    text: String,
    pools: Pools,
}

fn port_range(rng: &mut Rng) -> (u16, u16) {
    let a = *rng.pick(PORTS);
    let b = *rng.pick(PORTS);
    (a.min(b), a.max(b))
}

fn range_text((lo, hi): (u16, u16)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}:{hi}")
    }
}

fn bang(rng: &mut Rng) -> &'static str {
    if rng.chance(30) { "! " } else { "" }
}

fn flag_list(rng: &mut Rng, bits: &mut u8) -> String {
    if rng.chance(10) {
        *bits |= 0x3F;
        return "ALL".into();
    }
    let mut out = Vec::new();
    for (i, n) in FLAG_NAMES.iter().enumerate().take(4) {
        if rng.chance(50) {
            out.push(*n);
            *bits |= [1, 2, 4, 16][i];
        }
    }
    if out.is_empty() {
        "NONE".into()
    } else {
        out.join(",")
    }
}

fn gen_case(rng: &mut Rng) -> Case {
    let family = if rng.chance(25) {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let lay = layout(family);
    let mut kinds: Vec<Kind> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let k = *rng.pick(KINDS);
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let mut pools = Pools::default();
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    let nrules = 1 + rng.below(5);
    for _ in 0..nrules {
        let mut generic: Vec<String> = Vec::new();
        let mut proto: Option<(String, &str)> = None;
        let mut l4: Vec<String> = Vec::new();
        let mut rest: Vec<String> = Vec::new();
        let mut mine: Vec<Kind> = kinds.iter().copied().filter(|_| rng.chance(70)).collect();
        if mine.is_empty() && rng.chance(70) {
            mine.push(*rng.pick(&kinds));
        }
        // One protocol per rule.
        let l4_kinds = [
            Kind::Proto,
            Kind::Ports,
            Kind::Multiport,
            Kind::Icmp,
            Kind::TcpFlags,
        ];
        if let Some(first) = mine.iter().position(|k| l4_kinds.contains(k)) {
            let keep = mine[first];
            let tcp_pair = |k: &Kind| {
                matches!(keep, Kind::Ports | Kind::Multiport | Kind::TcpFlags)
                    && matches!(k, Kind::Ports | Kind::Multiport | Kind::TcpFlags)
            };
            mine.retain(|k| !l4_kinds.contains(k) || *k == keep || tcp_pair(k));
        }
        if mine.contains(&Kind::Src) && mine.contains(&Kind::SrcList) {
            mine.retain(|k| *k != Kind::SrcList);
        }
        let tcp_only = mine.contains(&Kind::TcpFlags);
        for k in &mine {
            match k {
                Kind::Src | Kind::SrcList => {
                    pools.src = true;
                    let list: Vec<String> = (0..if *k == Kind::SrcList {
                        2 + rng.below(2)
                    } else {
                        1
                    })
                        .map(|_| lay.addr(rng))
                        .collect();
                    generic.push(format!("{}-s {}", bang(rng), list.join(",")));
                }
                Kind::Dst => {
                    pools.dst = true;
                    generic.push(format!("{}-d {}", bang(rng), lay.addr(rng)));
                }
                Kind::Iprange => {
                    let r = *rng.pick(&lay.regions);
                    let a = r | rng.below(8) as u128;
                    let b = r | rng.below(8) as u128;
                    let (lo, hi) = if rng.chance(80) {
                        (a.min(b), a.max(b))
                    } else {
                        (a.max(b), a.min(b))
                    };
                    let opt = if rng.chance(50) {
                        pools.src = true;
                        "--src-range"
                    } else {
                        pools.dst = true;
                        "--dst-range"
                    };
                    rest.push(format!(
                        "-m iprange {}{opt} {}-{}",
                        bang(rng),
                        lay.text(lo),
                        lay.text(hi)
                    ));
                }
                Kind::Proto => {
                    let n = *rng.pick(&[0u8, 1, 6, 17, 47, 58]);
                    for x in [n, n.saturating_sub(1), n.saturating_add(1)] {
                        pools.proto.insert(x);
                    }
                    // `! -p 0` is refused by iptables; the kernel would match all.
                    let neg = bang(rng);
                    proto = Some((format!("{neg}-p {n}"), ""));
                }
                Kind::Ports | Kind::Multiport | Kind::TcpFlags => {
                    if proto.is_none() {
                        let udp = !tcp_only && rng.chance(40);
                        let (t, n) = if udp { ("udp", 17) } else { ("tcp", 6) };
                        pools.proto.extend([n, n - 1, n + 1]);
                        proto = Some((format!("-p {t}"), t));
                        pools.frag = true;
                    }
                    let module = proto.as_ref().unwrap().1;
                    match k {
                        Kind::Ports => {
                            let src = rng.chance(40);
                            let (lo, hi) = port_range(rng);
                            pools.port(src, lo);
                            pools.port(src, hi);
                            let o = if src { "--sport" } else { "--dport" };
                            l4.push(format!("{}{o} {}", bang(rng), range_text((lo, hi))));
                        }
                        Kind::Multiport => {
                            let which = *rng.pick(&["--sports", "--dports", "--ports"]);
                            let list: Vec<String> = (0..1 + rng.below(3))
                                .map(|_| {
                                    let r = port_range(rng);
                                    for src in [true, false] {
                                        if which == "--ports" || (which == "--sports") == src {
                                            pools.port(src, r.0);
                                            pools.port(src, r.1);
                                        }
                                    }
                                    range_text(r)
                                })
                                .collect();
                            rest.push(format!(
                                "-m multiport {}{which} {}",
                                bang(rng),
                                list.join(",")
                            ));
                        }
                        _ => {
                            let _ = module;
                            if rng.chance(30) {
                                pools.flag_bits |= 0x17;
                                l4.push(format!("{}--syn", bang(rng)));
                            } else {
                                let mut bits = 0;
                                let mask = flag_list(rng, &mut bits);
                                let comp = if rng.chance(85) {
                                    // A comparison inside the mask.
                                    mask.split(',')
                                        .filter(|_| rng.chance(50))
                                        .collect::<Vec<_>>()
                                        .join(",")
                                } else {
                                    flag_list(rng, &mut bits)
                                };
                                let comp = if comp.is_empty() { "NONE".into() } else { comp };
                                pools.flag_bits |= bits;
                                l4.push(format!("{}--tcp-flags {mask} {comp}", bang(rng)));
                            }
                        }
                    }
                }
                Kind::Icmp => {
                    pools.frag = true;
                    let (p, words): (&str, &[&str]) = match family {
                        Family::Ipv4 => (
                            "icmp",
                            &[
                                "any",
                                "echo-request",
                                "echo-reply",
                                "destination-unreachable",
                                "port-unreachable",
                                "3/1",
                                "11",
                                "255",
                            ],
                        ),
                        Family::Ipv6 => (
                            "ipv6-icmp",
                            &[
                                "echo-request",
                                "destination-unreachable",
                                "port-unreachable",
                                "packet-too-big",
                                "1/3",
                                "129",
                            ],
                        ),
                    };
                    let n = if family == Family::Ipv4 { 1 } else { 58 };
                    pools.proto.extend([n, n + 1]);
                    proto = Some((format!("-p {p}"), ""));
                    let w = *rng.pick(words);
                    let (ty, lo, hi) = icmp_spec(w, family).unwrap();
                    for t in [ty.saturating_sub(1), ty, ty.saturating_add(1)] {
                        for c in [0, lo.saturating_sub(1), lo, hi, hi.saturating_add(1), 255] {
                            pools.icmp.insert((t, c));
                        }
                    }
                    let opt = if family == Family::Ipv4 {
                        "--icmp-type"
                    } else {
                        "--icmpv6-type"
                    };
                    l4.push(format!("{}{opt} {w}", bang(rng)));
                }
                Kind::InIf => {
                    pools.in_if = true;
                    generic.push(format!("{}-i {}", bang(rng), rng.pick(NAMES)));
                }
                Kind::OutIf => {
                    pools.out_if = true;
                    generic.push(format!("{}-o {}", bang(rng), rng.pick(NAMES)));
                }
                Kind::Frag => {
                    pools.frag = true;
                    generic.push(format!("{}-f", bang(rng)));
                }
                Kind::Ct => {
                    pools.ct = true;
                    let mut s: Vec<&str> =
                        STATES.iter().copied().filter(|_| rng.chance(30)).collect();
                    if s.is_empty() {
                        s.push(*rng.pick(STATES));
                    }
                    let plain = s.iter().all(|s| *s != "SNAT" && *s != "DNAT");
                    if plain && rng.chance(40) {
                        rest.push(format!("-m state {}--state {}", bang(rng), s.join(",")));
                    } else {
                        rest.push(format!(
                            "-m conntrack {}--ctstate {}",
                            bang(rng),
                            s.join(",")
                        ));
                    }
                }
                Kind::Mark | Kind::Connmark => {
                    let v = *rng.pick(MARK_VALUES);
                    let m = *rng.pick(MARK_MASKS);
                    let module = if *k == Kind::Mark {
                        pools.mark = true;
                        "mark"
                    } else {
                        pools.connmark = true;
                        pools.ct = true;
                        "connmark"
                    };
                    let arg = if m == u32::MAX && rng.chance(50) {
                        format!("{v:#x}")
                    } else {
                        format!("{v:#x}/{m:#x}")
                    };
                    rest.push(format!("-m {module} {}--mark {arg}", bang(rng)));
                }
                Kind::AddrType => {
                    pools.types = true;
                    let mut parts = Vec::new();
                    for o in ["--src-type", "--dst-type"] {
                        if rng.chance(60) {
                            let t: Vec<&str> =
                                TYPES.iter().copied().filter(|_| rng.chance(40)).collect();
                            let t = if t.is_empty() { vec![TYPES[0]] } else { t };
                            parts.push(format!("{}{o} {}", bang(rng), t.join(",")));
                        }
                    }
                    if parts.is_empty() {
                        parts.push("--dst-type LOCAL".into());
                    }
                    rest.push(format!("-m addrtype {}", parts.join(" ")));
                }
                Kind::Unknown => match rng.below(5) {
                    0 => rest.push("-m statistic --mode random --probability 0.5".into()),
                    1 => rest.push("-m limit --limit 5/sec".into()),
                    2 => rest.push("-m set --match-set blocked src".into()),
                    3 => {
                        pools.ct = true;
                        rest.push("-m conntrack --ctstate NEW,ESTABLISHED --ctdir ORIGINAL".into())
                    }
                    _ => {
                        if !mine.contains(&Kind::Src) && !mine.contains(&Kind::SrcList) {
                            pools.src = true;
                            let other = lay.addr(rng);
                            generic.push(format!("{}-s example.com,{other}", bang(rng)));
                        }
                    }
                },
            }
        }
        let mut line = String::from("-A INPUT");
        if rng.chance(4) {
            line.push_str(if rng.chance(50) { " -4" } else { " -6" });
        }
        for g in &generic {
            line.push(' ');
            line.push_str(g);
        }
        if let Some((p, module)) = &proto {
            line.push(' ');
            line.push_str(p);
            if !l4.is_empty() {
                line.push_str(&format!(" -m {module}"));
            }
        }
        for l in l4.iter().chain(&rest) {
            line.push(' ');
            line.push_str(l);
        }
        line.push_str(if rng.chance(50) {
            " -j ACCEPT\n"
        } else {
            " -j DROP\n"
        });
        text.push_str(&line);
    }
    text.push_str("COMMIT\n");
    Case {
        family,
        text,
        pools,
    }
}

/// Every combination of the pooled values of the fields the case tests.
fn enumerate(case: &Case) -> Option<Vec<Packet>> {
    let lay = layout(case.family);
    let p = &case.pools;
    let d = Packet::default();
    let addr_pool = lay.pool();
    let srcs: Vec<u128> = if p.src {
        addr_pool.clone()
    } else {
        vec![d.src]
    };
    let dsts: Vec<u128> = if p.dst { addr_pool } else { vec![d.dst] };
    let protos: Vec<u8> = if p.proto.is_empty() {
        vec![d.protocol]
    } else {
        p.proto.iter().copied().collect()
    };
    let sports: Vec<u16> = if p.sport.is_empty() {
        vec![d.sport]
    } else {
        p.sport.iter().copied().collect()
    };
    let dports: Vec<u16> = if p.dport.is_empty() {
        vec![d.dport]
    } else {
        p.dport.iter().copied().collect()
    };
    let icmps: Vec<(u8, u8)> = if p.icmp.is_empty() {
        vec![(d.icmp_type, d.icmp_code)]
    } else {
        p.icmp.iter().copied().collect()
    };
    let names = |on: bool| -> Vec<Option<String>> {
        if on {
            NAME_POOL.iter().map(|n| n.map(str::to_string)).collect()
        } else {
            vec![None]
        }
    };
    let ins = names(p.in_if);
    let outs = names(p.out_if);
    let frags: Vec<bool> = if p.frag {
        vec![false, true]
    } else {
        vec![false]
    };
    let cts: Vec<Conntrack> = if p.ct {
        let mut v = vec![
            Conntrack::new(CtBase::Invalid),
            Conntrack::new(CtBase::Untracked),
        ];
        for s in [CtBase::New, CtBase::Established, CtBase::Related] {
            for (snat, dnat) in [(false, false), (false, true), (true, false), (true, true)] {
                v.push(Conntrack {
                    state: s,
                    snat,
                    dnat,
                });
            }
        }
        v
    } else {
        vec![d.conntrack]
    };
    // Masks test bits 0-2 and 14; full-mask tests single out a few values.
    // Every combination of the tested bits, alone and with an untested bit
    // (0x10) set, hits every atom.
    let mark_pool: Vec<u32> = (0..8u32)
        .flat_map(|x| [x, x | 0x4000, x | 0x10, x | 0x4010])
        .chain([0xFFFF_FFFF])
        .collect();
    let marks = if p.mark {
        mark_pool.clone()
    } else {
        vec![d.mark]
    };
    let connmarks = if p.connmark {
        mark_pool
    } else {
        vec![d.connmark]
    };
    let flags: Vec<u8> = {
        let bits = p.flag_bits;
        // Every subset of the tested bits.
        let mut v = vec![0u8];
        for b in 0..8 {
            if bits >> b & 1 == 1 {
                let more: Vec<u8> = v.iter().map(|x| x | 1 << b).collect();
                v.extend(more);
            }
        }
        if bits == 0 { vec![d.tcp_flags] } else { v }
    };
    let types: Vec<AddrType> = if p.types {
        vec![
            AddrType::Local,
            AddrType::Unicast,
            AddrType::Broadcast,
            AddrType::Multicast,
            AddrType::Blackhole,
        ]
    } else {
        vec![d.src_type]
    };
    let mut out = Vec::new();
    let mut base = d.clone();
    for &src in &srcs {
        base.src = src;
        for &dst in &dsts {
            base.dst = dst;
            for &pr in &protos {
                base.protocol = pr;
                for &sp in &sports {
                    base.sport = sp;
                    for &dp in &dports {
                        base.dport = dp;
                        for &(t, c) in &icmps {
                            base.icmp_type = t;
                            base.icmp_code = c;
                            for i in &ins {
                                base.in_interface = i.clone();
                                for o in &outs {
                                    base.out_interface = o.clone();
                                    for &fr in &frags {
                                        base.later_fragment = fr;
                                        for &ct in &cts {
                                            base.conntrack = ct;
                                            for &m in &marks {
                                                base.mark = m;
                                                for &cm in &connmarks {
                                                    base.connmark = cm;
                                                    for &fl in &flags {
                                                        base.tcp_flags = fl;
                                                        for &st in &types {
                                                            base.src_type = st;
                                                            for &dt in &types {
                                                                base.dst_type = dt;
                                                                out.push(base.clone());
                                                                if out.len() > LIMIT {
                                                                    return None;
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Some(out)
}

const LIMIT: usize = 6000;

// ----------------------------------------------------------- expressions --

#[derive(Clone, Debug)]
enum Expr {
    May(usize),
    Must(usize),
    All,
    Nothing,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Minus(Box<Expr>, Box<Expr>),
}

fn gen_expr(rng: &mut Rng, n: usize, depth: u32) -> Expr {
    if depth == 0 || rng.chance(30) {
        return match rng.below(12) {
            0 => Expr::All,
            1 => Expr::Nothing,
            2..=4 => Expr::Must(rng.below(n)),
            _ => Expr::May(rng.below(n)),
        };
    }
    let a = Box::new(gen_expr(rng, n, depth - 1));
    match rng.below(4) {
        0 => Expr::Not(a),
        1 => Expr::And(a, Box::new(gen_expr(rng, n, depth - 1))),
        2 => Expr::Or(a, Box::new(gen_expr(rng, n, depth - 1))),
        _ => Expr::Minus(a, Box::new(gen_expr(rng, n, depth - 1))),
    }
}

fn build(e: &Expr, spaces: &[MatchSpace], ctx: &SpaceContext) -> PacketSet {
    match e {
        Expr::May(i) => spaces[*i].may.clone(),
        Expr::Must(i) => spaces[*i].must().clone(),
        Expr::All => ctx.universe(),
        Expr::Nothing => ctx.empty(),
        Expr::Not(a) => build(a, spaces, ctx).complement(),
        Expr::And(a, b) => build(a, spaces, ctx).intersect(&build(b, spaces, ctx)),
        Expr::Or(a, b) => build(a, spaces, ctx).union(&build(b, spaces, ctx)),
        Expr::Minus(a, b) => build(a, spaces, ctx).difference(&build(b, spaces, ctx)),
    }
}

/// Reference membership, from the per-rule verdicts on one packet.
fn holds(e: &Expr, v: &[Tri]) -> bool {
    match e {
        Expr::May(i) => v[*i] != Tri::F,
        Expr::Must(i) => v[*i] == Tri::T,
        Expr::All => true,
        Expr::Nothing => false,
        Expr::Not(a) => !holds(a, v),
        Expr::And(a, b) => holds(a, v) && holds(b, v),
        Expr::Or(a, b) => holds(a, v) || holds(b, v),
        Expr::Minus(a, b) => holds(a, v) && !holds(b, v),
    }
}

// ------------------------------------------------------------------ runs --

struct Stats {
    cases: usize,
    packets: usize,
    checks: usize,
    nonempty: usize,
    subsets: usize,
    escapes: usize,
}

fn verdicts(rules: &[&Rule], p: &Packet, fam: Family) -> Vec<Tri> {
    rules.iter().map(|r| eval_rule(r, p, fam)).collect()
}

fn run_case(seed: u64, stats: &mut Stats) {
    let mut rng = Rng(seed);
    // Cases whose enumeration would be too large, or whose rules all belong
    // to the other family (the parser drops those), are drawn again.
    let (case, packets, parsed) = loop {
        let case = gen_case(&mut rng);
        let parsed = iptlint::syntax::parse(&case.text, Some(case.family));
        if parsed.ruleset.rule_count() == 0 {
            continue;
        }
        if let Some(p) = enumerate(&case) {
            break (case, p, parsed);
        }
    };
    let ruleset = &parsed.ruleset;
    let rules: Vec<&Rule> = ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .collect();
    let fam = case.family;
    let ctx = SpaceContext::for_ruleset(ruleset);
    let spaces: Vec<MatchSpace> = rules.iter().map(|r| rule_match_space(r, &ctx)).collect();
    let table: Vec<Vec<Tri>> = packets.iter().map(|p| verdicts(&rules, p, fam)).collect();
    let ctx_msg = |what: &str, p: Option<&Packet>| {
        format!(
            "seed {seed}: {what}\n{}\npacket: {:?}",
            case.text,
            p.map(|p| iptlint::space::PacketDisplay {
                packet: p,
                family: fam
            }
            .to_string())
        )
    };

    // Each rule: may and must against the reference, must ⊆ may, expansions.
    for (i, (s, r)) in spaces.iter().zip(&rules).enumerate() {
        assert!(
            s.must().is_subset(&s.may),
            "{}",
            ctx_msg("must ⊄ may", None)
        );
        let mut union = ctx.empty();
        for part in rule_expansions(r, &ctx) {
            union = union.union(&part.may);
        }
        assert!(union.same_as(&s.may), "{}", ctx_msg("expansions", None));
        for (p, v) in packets.iter().zip(&table) {
            assert_eq!(
                s.may.contains(&ctx, p),
                v[i] != Tri::F,
                "{}",
                ctx_msg(&format!("rule {i} may ({:?}) {:?}", v[i], s.may), Some(p))
            );
            assert_eq!(
                s.must().contains(&ctx, p),
                v[i] == Tri::T,
                "{}",
                ctx_msg(&format!("rule {i} must {:?}", s.must()), Some(p))
            );
            stats.checks += 2;
        }
    }

    // Random expressions.
    let exprs: Vec<Expr> = (0..6).map(|_| gen_expr(&mut rng, rules.len(), 3)).collect();
    let sets: Vec<PacketSet> = exprs.iter().map(|e| build(e, &spaces, &ctx)).collect();
    let members: Vec<Vec<bool>> = exprs
        .iter()
        .map(|e| table.iter().map(|v| holds(e, v)).collect())
        .collect();
    for ((e, s), mem) in exprs.iter().zip(&sets).zip(&members) {
        let mut compacted = s.clone();
        compacted.compact();
        assert!(compacted.cube_count() <= s.cube_count());
        for (p, &m) in packets.iter().zip(mem) {
            assert_eq!(
                s.contains(&ctx, p),
                m,
                "{}",
                ctx_msg(&format!("membership in {e:?} = {s:?}"), Some(p))
            );
            assert_eq!(
                compacted.contains(&ctx, p),
                m,
                "{}",
                ctx_msg("compact", Some(p))
            );
            stats.checks += 2;
        }
        let any = mem.iter().any(|&m| m);
        match s.witness(&ctx) {
            None => {
                assert!(s.is_empty());
                assert!(!any, "{}", ctx_msg(&format!("{e:?} called empty"), None));
            }
            Some(w) => {
                stats.nonempty += 1;
                assert!(!s.is_empty());
                assert!(
                    holds(e, &verdicts(&rules, &w, fam)),
                    "{}",
                    ctx_msg(&format!("witness not in {e:?} = {s:?}"), Some(&w))
                );
                assert!(s.contains(&ctx, &w));
            }
        }
        assert_eq!(s.is_universe(), s.complement().is_empty());
    }
    for (i, a) in sets.iter().enumerate() {
        for (j, b) in sets.iter().enumerate() {
            let counter = members[i].iter().zip(&members[j]).any(|(&x, &y)| x && !y);
            let sub = a.is_subset(b);
            if sub {
                stats.subsets += 1;
            } else {
                // A "no" comes with a packet in a and not in b.
                let w = a.difference(b).witness(&ctx).expect("a counter-example");
                let v = verdicts(&rules, &w, fam);
                assert!(
                    holds(&exprs[i], &v) && !holds(&exprs[j], &v),
                    "{}",
                    ctx_msg("subset counter-example", Some(&w))
                );
            }
            // A "yes" must survive every enumerated packet (and a "no" is
            // only accepted above if the pools really cover every atom).
            assert_eq!(
                sub,
                !counter,
                "{}",
                ctx_msg(&format!("{:?} ⊆ {:?}: {sub}", exprs[i], exprs[j]), None)
            );
            let both = members[i].iter().zip(&members[j]).any(|(&x, &y)| x && y);
            let meet = a.intersect(b);
            if a.overlaps(b) {
                let w = meet.witness(&ctx).expect("a common packet");
                let v = verdicts(&rules, &w, fam);
                assert!(
                    holds(&exprs[i], &v) && holds(&exprs[j], &v),
                    "{}",
                    ctx_msg(
                        &format!(
                            "overlap witness of {:?} and {:?}: {meet:?}",
                            exprs[i], exprs[j]
                        ),
                        Some(&w)
                    )
                );
            }
            assert_eq!(
                a.overlaps(b),
                both,
                "{}",
                ctx_msg(
                    &format!("overlaps {:?} {:?}: {meet:?}", exprs[i], exprs[j]),
                    None
                )
            );
            stats.checks += 2;
        }
    }

    // escapes: a "yes" is a proof that the others do not cover the set, so
    // some enumerated packet is in it and in none of them.
    for (i, a) in sets.iter().enumerate() {
        for others in [
            sets.iter().skip(i + 1).take(1).collect::<Vec<_>>(),
            sets.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, s)| s)
                .collect(),
        ] {
            let js: Vec<usize> = (0..sets.len())
                .filter(|j| others.iter().any(|o| std::ptr::eq(*o, &sets[*j])))
                .collect();
            if a.escapes(&others) {
                stats.escapes += 1;
                let outside =
                    (0..packets.len()).any(|p| members[i][p] && js.iter().all(|&j| !members[j][p]));
                assert!(
                    outside,
                    "{}",
                    ctx_msg(
                        &format!("{:?} escapes {js:?} but is covered", exprs[i]),
                        None
                    )
                );
            }
        }
    }

    // forget: a packet is in forget(S, d) iff changing d puts it in S.
    let d = *rng.pick(&Dim::ALL);
    let s = &sets[0];
    let f = s.forget(d);
    // One donor packet per distinct value of d in the pool.
    let mut seen = BTreeSet::new();
    let donors: Vec<&Packet> = packets
        .iter()
        .filter(|q| {
            let mut k = Packet::default();
            copy_dim(&mut k, q, d);
            seen.insert(format!("{k:?}"))
        })
        .collect();
    for p in packets.iter().step_by(3) {
        let want = donors.iter().any(|q| {
            let mut x = p.clone();
            copy_dim(&mut x, q, d);
            s.contains(&ctx, &x)
        });
        assert_eq!(
            f.contains(&ctx, p),
            want,
            "{}",
            ctx_msg(&format!("forget {d:?}"), Some(p))
        );
    }

    stats.cases += 1;
    stats.packets += packets.len();
}

fn copy_dim(x: &mut Packet, q: &Packet, d: Dim) {
    match d {
        Dim::Src => x.src = q.src,
        Dim::Dst => x.dst = q.dst,
        Dim::Protocol => x.protocol = q.protocol,
        Dim::SrcPort => x.sport = q.sport,
        Dim::DstPort => x.dport = q.dport,
        Dim::Icmp => {
            x.icmp_type = q.icmp_type;
            x.icmp_code = q.icmp_code
        }
        Dim::InInterface => x.in_interface = q.in_interface.clone(),
        Dim::OutInterface => x.out_interface = q.out_interface.clone(),
        Dim::Conntrack => x.conntrack = q.conntrack,
        Dim::Mark => x.mark = q.mark,
        Dim::Connmark => x.connmark = q.connmark,
        Dim::TcpFlags => x.tcp_flags = q.tcp_flags,
        Dim::Fragment => x.later_fragment = q.later_fragment,
        Dim::SrcType => x.src_type = q.src_type,
        Dim::DstType => x.dst_type = q.dst_type,
    }
}

#[test]
fn algebra_agrees_with_brute_force() {
    let cases: usize = std::env::var("SPACE_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first: u64 = std::env::var("SPACE_PROP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut stats = Stats {
        cases: 0,
        packets: 0,
        checks: 0,
        nonempty: 0,
        subsets: 0,
        escapes: 0,
    };
    for seed in first..first + cases as u64 {
        run_case(seed, &mut stats);
    }
    eprintln!(
        "{} cases, {} packets, {} membership/relation checks, {} non-empty expressions with verified witnesses, {} subset pairs, {} escapes",
        stats.cases, stats.packets, stats.checks, stats.nonempty, stats.subsets, stats.escapes
    );
    assert_eq!(stats.cases, cases);
    // The quick refutation must say yes sometimes, or nothing above tested it.
    assert!(stats.escapes > 0);
}
