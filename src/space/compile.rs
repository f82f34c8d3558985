//! From a [`Rule`] to the packets it matches, the way the kernel decides it.
//!
//! Each condition narrows one field (or, for `--ports` and `--ctstate`, a
//! few). What the kernel does is followed to the letter, including the odd
//! corners: a `-m tcp`/`udp`/`sctp`/`dccp`/`icmp`/`multiport` match never
//! matches a non-first fragment, even negated (`! --dport 22` does not match
//! a fragment); `-m connmark` never matches a packet without a conntrack
//! entry, even negated; `-p all` ignores `!`; `--icmp-type any` (type 255)
//! matches every ICMP packet; `--mark 1/0` never matches (the value has a bit
//! outside the mask).

use crate::model::AddrKind;
use crate::model::Generic;
use crate::model::{
    AddrSpec, CtState, Family, Match, MatchOption, Negatable, PortRange, Rule, Span, Value,
};

use super::field::Field;
use super::packet::{AddrType, Conntrack};
use super::{DIMS, Dim, PacketSet, SpaceContext};

/// A condition iptlint does not model, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub span: Span,
    pub reason: String,
}

/// What one rule matches: `may ⊇ must`.
#[derive(Clone, Debug)]
pub struct MatchSpace {
    /// Packets the rule can match: every packet outside it is certainly not
    /// matched.
    pub may: PacketSet,
    /// `None` when the rule is exact (`must == may`); boxed because rare
    /// (an analysis keeps one space per rule).
    inexact: Option<Box<Inexact>>,
}

#[derive(Clone, Debug)]
struct Inexact {
    must: PacketSet,
    /// Why `must` is smaller than `may`; never empty.
    unknown: Vec<Unknown>,
}

impl MatchSpace {
    /// Packets the rule certainly matches.
    pub fn must(&self) -> &PacketSet {
        self.inexact.as_ref().map_or(&self.may, |i| &i.must)
    }

    /// `true` when every condition is modelled: the rule matches exactly `may`.
    pub fn is_exact(&self) -> bool {
        self.inexact.is_none()
    }

    /// The conditions iptlint does not model; empty when exact.
    pub fn unknown(&self) -> &[Unknown] {
        self.inexact.as_ref().map_or(&[], |i| &i.unknown)
    }

    /// `must` is only used when `unknown` is not empty.
    fn with_must(may: PacketSet, must: PacketSet, unknown: Vec<Unknown>) -> MatchSpace {
        let inexact = (!unknown.is_empty()).then(|| Box::new(Inexact { must, unknown }));
        MatchSpace { may, inexact }
    }

    fn new(may: PacketSet, unknown: Vec<Unknown>) -> MatchSpace {
        let must = may.empty_like();
        MatchSpace::with_must(may, must, unknown)
    }
}

/// The packets `rule` may and must match, over all its kernel rules.
pub fn rule_match_space(rule: &Rule, ctx: &SpaceContext) -> MatchSpace {
    let mut one = None;
    let mut parts = Vec::new();
    expand(rule, ctx, |s, total| {
        if total == 1 {
            one = Some(s);
        } else {
            parts.push(s);
        }
    });
    if let Some(s) = one {
        return s;
    }
    let mut may = ctx.empty();
    let mut must = ctx.empty();
    let mut unknown: Vec<Unknown> = Vec::new();
    for p in &parts {
        may = may.union(&p.may);
        must = must.union(p.must());
        for u in p.unknown() {
            if !unknown.contains(u) {
                unknown.push(u.clone());
            }
        }
    }
    MatchSpace::with_must(may, must, unknown)
}

/// One [`MatchSpace`] per kernel rule the rule expands to: iptables turns
/// `-s a,b -d c` into `-s a -d c` and `-s b -d c`, in that order, each with
/// the rule's `!`.
pub fn rule_expansions(rule: &Rule, ctx: &SpaceContext) -> Vec<MatchSpace> {
    let mut out = Vec::new();
    expand(rule, ctx, |s, _| out.push(s));
    out
}

/// Calls `each` with each kernel rule's space and the number of them.
fn expand(rule: &Rule, ctx: &SpaceContext, mut each: impl FnMut(MatchSpace, usize)) {
    let mut base = Acc::new(ctx);
    if rule.only_family().is_some_and(|f| f != ctx.family()) {
        // `-4` in ip6tables-restore (or `-6` in iptables-restore): the rule
        // is skipped when loading, so it matches nothing.
        return each(MatchSpace::new(ctx.empty(), Vec::new()), 1);
    }
    base.generic(rule);
    for m in &rule.matches {
        base.module(rule, m);
    }
    let sources = AddrTests::of(&rule.source);
    let dests = AddrTests::of(&rule.destination);
    let total = sources.len() * dests.len();
    let (src_span, dst_span) = (
        rule.generic_span(Generic::Source).unwrap_or(rule.span),
        rule.generic_span(Generic::Destination).unwrap_or(rule.span),
    );
    if total == 1 {
        // The common case: no copy of the conditions.
        base.address(Dim::Src, sources.get(0), src_span);
        base.address(Dim::Dst, dests.get(0), dst_span);
        let (set, unknown) = base.finish();
        return each(MatchSpace::new(set, unknown), 1);
    }
    for i in 0..sources.len() {
        for j in 0..dests.len() {
            let mut acc = base.clone();
            acc.address(Dim::Src, sources.get(i), src_span);
            acc.address(Dim::Dst, dests.get(j), dst_span);
            let (set, unknown) = acc.finish();
            each(MatchSpace::new(set, unknown), total);
        }
    }
}

/// The address tests of `-s`/`-d`, one per kernel rule.
enum AddrTests<'a> {
    /// No `-s`: one kernel rule without an address test.
    Absent,
    /// `-s` whose every address failed to parse.
    Invalid(bool),
    List(bool, &'a [AddrSpec]),
}

impl<'a> AddrTests<'a> {
    fn of(slot: &'a Option<Negatable<crate::model::List<AddrSpec>>>) -> AddrTests<'a> {
        match slot {
            None => AddrTests::Absent,
            Some(n) if n.value.is_empty() => AddrTests::Invalid(n.negated),
            Some(n) => AddrTests::List(n.negated, &n.value),
        }
    }

    fn len(&self) -> usize {
        match self {
            AddrTests::List(_, v) => v.len(),
            _ => 1,
        }
    }

    /// `(negated, address)` of kernel rule `i`; `None` for no test.
    fn get(&self, i: usize) -> Option<(bool, Option<&'a AddrSpec>)> {
        match self {
            AddrTests::Absent => None,
            AddrTests::Invalid(neg) => Some((*neg, None)),
            AddrTests::List(neg, v) => Some((*neg, Some(&v[i]))),
        }
    }
}

/// The conditions read so far, and what could not be modelled. Most
/// conditions narrow one field, so they are kept per field (`present` says
/// which are set; `empty` once one of them has no value left) and made into
/// one cube at the end; the few that are not a product (`--ports`) are kept
/// as a set.
#[derive(Clone)]
struct Acc<'a> {
    ctx: &'a SpaceContext,
    fields: [Option<Field>; DIMS],
    present: u16,
    empty: bool,
    extra: Option<PacketSet>,
    unknown: Vec<Unknown>,
}

impl<'a> Acc<'a> {
    fn new(ctx: &'a SpaceContext) -> Acc<'a> {
        Acc {
            ctx,
            fields: Default::default(),
            present: 0,
            empty: false,
            extra: None,
            unknown: Vec::new(),
        }
    }

    fn finish(&mut self) -> (PacketSet, Vec<Unknown>) {
        let unknown = std::mem::take(&mut self.unknown);
        if self.empty {
            return (self.ctx.empty(), unknown);
        }
        let mut present = self.present;
        let mut dims = 0u16;
        let mut fields = Vec::with_capacity(present.count_ones() as usize);
        let dom = self.ctx.domain();
        while present != 0 {
            let d = present.trailing_zeros() as usize;
            present &= present - 1;
            if let Some(f) = self.fields[d].take()
                && !f.is_full(dom.max_of(d))
            {
                dims |= 1 << d;
                fields.push(f);
            }
        }
        let set = PacketSet::from_cube(self.ctx, dims, fields);
        let set = match &self.extra {
            Some(e) => set.intersect(e),
            None => set,
        };
        (set, unknown)
    }

    fn unknown(&mut self, span: Span, reason: impl Into<String>) {
        self.unknown.push(Unknown {
            span,
            reason: reason.into(),
        });
    }

    fn max(&self, d: Dim) -> u128 {
        self.ctx.domain().max_of(d as usize)
    }

    /// Narrows `d` to `f` (`None`: nothing), or to its complement.
    fn field(&mut self, d: Dim, f: Option<Field>, negated: bool) {
        let max = self.max(d);
        let f = if negated {
            match f {
                Some(f) => Field::full(max).difference(&f, max),
                None => Some(Field::full(max)),
            }
        } else {
            f
        };
        if self.empty {
            return;
        }
        let slot = &mut self.fields[d as usize];
        let new = match (f, slot.take()) {
            (None, _) => None,
            (Some(f), None) => Some(f),
            (Some(f), Some(old)) => old.intersect(&f, max),
        };
        match new {
            Some(f) => {
                *slot = Some(f);
                self.present |= 1 << d as usize;
            }
            None => self.empty = true,
        }
    }

    fn and(&mut self, other: PacketSet) {
        self.extra = Some(match self.extra.take() {
            Some(e) => e.intersect(&other),
            None => other,
        });
    }

    fn generic(&mut self, rule: &Rule) {
        if let Some(p) = &rule.protocol {
            let span = rule.generic_span(Generic::Protocol).unwrap_or(rule.span);
            match p.value.number {
                None => self.unknown(
                    span,
                    format!(
                        "protocol `{}` is unknown",
                        rule.protocol_written().unwrap_or("")
                    ),
                ),
                // The kernel skips the protocol test for 0, `!` or not.
                Some(0) => {}
                Some(n) => self.field(Dim::Protocol, Field::range(n as u128, n as u128), p.negated),
            }
        }
        for (slot, d, span) in [
            (rule.in_interface(), Dim::InInterface, Generic::InInterface),
            (
                rule.out_interface(),
                Dim::OutInterface,
                Generic::OutInterface,
            ),
        ] {
            let Some(i) = slot else { continue };
            match self.ctx.interface_run(&i.value.name) {
                Some((lo, hi)) => self.field(d, Field::range(lo as u128, hi as u128), i.negated),
                None => self.unknown(
                    rule.generic_span(span).unwrap_or(rule.span),
                    format!("interface `{}` is not in the context", i.value.name),
                ),
            }
        }
        if let Some(f) = rule.fragment() {
            if self.ctx.family() == Family::Ipv6 {
                self.unknown(rule.span, "ip6tables has no `-f`");
            } else {
                self.field(Dim::Fragment, Field::range(1, 1), f.negated);
            }
        }
    }

    fn address(&mut self, d: Dim, test: Option<(bool, Option<&AddrSpec>)>, span: Span) {
        let Some((negated, spec)) = test else { return };
        match spec.map(AddrSpec::kind) {
            Some(AddrKind::Net(n)) if n.family() == self.ctx.family() => {
                let f = Field::pattern(n.addr_u128(), n.mask(), self.max(d));
                self.field(d, Some(f), negated);
            }
            Some(AddrKind::Net(n)) => self.unknown(
                span,
                format!("`{n}` is not a {} address", self.ctx.family().as_str()),
            ),
            Some(AddrKind::Host(h)) => self.unknown(
                span,
                format!("host name `{h}` is resolved only when the rules are loaded"),
            ),
            None => self.unknown(span, "no valid address"),
        }
    }

    fn module(&mut self, rule: &Rule, m: &Match) {
        if m.module == "comment" {
            return;
        }
        if !m.modelled {
            return self.unknown(
                m.span_in(rule),
                format!("`-m {}` is not modelled", m.module),
            );
        }
        if let Some(o) = m.options.iter().find(|o| o.value == Value::Raw) {
            return self.unknown(
                o.span_in(rule),
                format!("`{}` has no valid value", o.written()),
            );
        }
        let proto = rule
            .protocol
            .as_ref()
            .filter(|p| !p.negated)
            .and_then(|p| p.value.number);
        let family = self.ctx.family();
        match m.module.as_str() {
            "tcp" | "udp" | "sctp" | "dccp" => {
                let needs = match m.module.as_str() {
                    "tcp" => 6,
                    "udp" => 17,
                    "sctp" => 132,
                    _ => 33,
                };
                if proto != Some(needs) {
                    return self.needs_protocol(rule, m);
                }
                self.first_fragment();
                for o in &m.options {
                    match (m.module.as_str(), o.name.as_str()) {
                        (_, "--sport") => self.ports(rule, Dim::SrcPort, o),
                        (_, "--dport") => self.ports(rule, Dim::DstPort, o),
                        ("tcp", "--tcp-flags") => self.tcp_flags(rule, o),
                        ("tcp", "--syn") => {
                            // FIN,SYN,RST,ACK SYN
                            let f = Field::pattern(0x02, 0x17, 255);
                            self.field(Dim::TcpFlags, Some(f), o.negated);
                        }
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            "icmp" | "icmp6" => {
                let (needs, fam) = if m.module == "icmp" {
                    (1, Family::Ipv4)
                } else {
                    (58, Family::Ipv6)
                };
                if proto != Some(needs) || family != fam {
                    return self.needs_protocol(rule, m);
                }
                self.first_fragment();
                if m.options.is_empty() && fam == Family::Ipv6 {
                    // ip6tables' default is type 0, not "any".
                    return self.unknown(m.span_in(rule), "`-m icmp6` without `--icmpv6-type`");
                }
                for o in &m.options {
                    match (o.text(), o.name.as_str()) {
                        (Some(t), "--icmp-type" | "--icmpv6-type") => match icmp_field(t, fam) {
                            Some(f) => self.field(Dim::Icmp, f, o.negated),
                            None => {
                                self.unknown(o.span_in(rule), format!("ICMP type `{t}` is unknown"))
                            }
                        },
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            "multiport" => {
                if !matches!(proto, Some(6 | 17 | 33 | 132 | 136)) {
                    return self.needs_protocol(rule, m);
                }
                self.first_fragment();
                for o in &m.options {
                    match o.name.as_str() {
                        "--sports" => self.ports(rule, Dim::SrcPort, o),
                        "--dports" => self.ports(rule, Dim::DstPort, o),
                        "--ports" => {
                            let Value::Ports(p) = &o.value else {
                                return self.option_unknown(rule, m, o);
                            };
                            // Either port in the list: a union, not a product.
                            let f = port_field(p);
                            let u = self.ctx.universe();
                            let either = u
                                .restrict_dim(Dim::SrcPort, f.as_ref())
                                .union(&u.restrict_dim(Dim::DstPort, f.as_ref()));
                            let s = if o.negated {
                                either.complement()
                            } else {
                                either
                            };
                            self.and(s);
                        }
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            "conntrack" | "state" => {
                if m.options.is_empty() {
                    return self.unknown(
                        m.span_in(rule),
                        format!("`-m {}` without options", m.module),
                    );
                }
                for o in &m.options {
                    match (&o.value, o.name.as_str()) {
                        (Value::States(s), "--ctstate" | "--state") => {
                            if m.module == "state"
                                && s.iter().any(|s| matches!(s, CtState::Snat | CtState::Dnat))
                            {
                                self.unknown(o.span_in(rule), "`--state` takes no SNAT/DNAT");
                                continue;
                            }
                            self.field(Dim::Conntrack, ct_field(s), o.negated);
                        }
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            "mark" | "connmark" => {
                let d = if m.module == "mark" {
                    Dim::Mark
                } else {
                    // No conntrack entry: no match, `!` or not.
                    self.field(Dim::Conntrack, Field::range(2, 13), false);
                    Dim::Connmark
                };
                for o in &m.options {
                    match (&o.value, o.name.as_str()) {
                        (Value::Mark(mm), "--mark") => {
                            let (v, k) = (mm.value as u128, mm.mask as u128);
                            // The kernel tests (mark & mask) == value.
                            let f = (v & !k == 0).then(|| Field::pattern(v, k, u32::MAX as u128));
                            self.field(d, f, o.negated);
                        }
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            "addrtype" => {
                if family == Family::Ipv6 {
                    // ip6t's addrtype ANDs the listed types; not modelled.
                    return self.unknown(
                        m.span_in(rule),
                        "`-m addrtype` in ip6tables is not modelled",
                    );
                }
                for o in &m.options {
                    let d = match o.name.as_str() {
                        "--src-type" => Dim::SrcType,
                        "--dst-type" => Dim::DstType,
                        _ => {
                            self.option_unknown(rule, m, o);
                            continue;
                        }
                    };
                    let Value::Words(w) = &o.value else {
                        self.option_unknown(rule, m, o);
                        continue;
                    };
                    let types: Option<Vec<AddrType>> =
                        w.iter().map(|w| AddrType::parse(w)).collect();
                    match types {
                        Some(t) => {
                            let f = Field::from_intervals(
                                t.iter().map(|t| (t.index(), t.index())).collect(),
                            );
                            self.field(d, f, o.negated);
                        }
                        None => self.option_unknown(rule, m, o),
                    }
                }
            }
            "iprange" => {
                for o in &m.options {
                    let d = match o.name.as_str() {
                        "--src-range" => Dim::Src,
                        "--dst-range" => Dim::Dst,
                        _ => {
                            self.option_unknown(rule, m, o);
                            continue;
                        }
                    };
                    match &o.value {
                        Value::AddrRange(r) if r.lo.is_ipv4() == (family == Family::Ipv4) => {
                            let lo = addr_u128(r.lo);
                            let hi = addr_u128(r.hi);
                            self.field(d, Field::range(lo, hi), o.negated);
                        }
                        _ => self.option_unknown(rule, m, o),
                    }
                }
            }
            _ => self.unknown(
                m.span_in(rule),
                format!("`-m {}` is not modelled", m.module),
            ),
        }
    }

    fn needs_protocol(&mut self, rule: &Rule, m: &Match) {
        self.unknown(
            m.span_in(rule),
            format!(
                "`-m {}` without its protocol: iptables refuses to load it",
                m.module
            ),
        );
    }

    fn option_unknown(&mut self, rule: &Rule, m: &Match, o: &MatchOption) {
        self.unknown(
            o.span_in(rule),
            format!("`-m {} {}` is not modelled", m.module, o.written()),
        );
    }

    /// Transport-header matches fail on non-first fragments.
    fn first_fragment(&mut self) {
        self.field(Dim::Fragment, Field::range(0, 0), false);
    }

    fn ports(&mut self, rule: &Rule, d: Dim, o: &MatchOption) {
        match &o.value {
            Value::Ports(p) => self.field(d, port_field(p), o.negated),
            _ => self.unknown(
                o.span_in(rule),
                format!("`{}` has no port value", o.written()),
            ),
        }
    }

    fn tcp_flags(&mut self, rule: &Rule, o: &MatchOption) {
        let parsed = match &o.value {
            Value::Words(w) if w.len() == 2 => tcp_flag_list(&w[0]).zip(tcp_flag_list(&w[1])),
            _ => None,
        };
        match parsed {
            Some((mask, comp)) => {
                let (mask, comp) = (mask as u128, comp as u128);
                let f = (comp & !mask == 0).then(|| Field::pattern(comp, mask, 255));
                self.field(Dim::TcpFlags, f, o.negated);
            }
            None => self.unknown(o.span_in(rule), "`--tcp-flags` with unknown flags"),
        }
    }
}

fn addr_u128(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(a) => u32::from(a) as u128,
        std::net::IpAddr::V6(a) => u128::from(a),
    }
}

fn port_field(p: &[PortRange]) -> Option<Field> {
    if let [r] = p {
        return Field::range(r.lo as u128, r.hi as u128);
    }
    Field::from_intervals(p.iter().map(|r| (r.lo as u128, r.hi as u128)).collect())
}

/// `FIN,SYN,...` as libxt_tcp reads it (`ALL` is the six classic flags).
fn tcp_flag_list(text: &str) -> Option<u8> {
    let mut out = 0u8;
    for name in text.split(',') {
        out |= match name.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ALL" => 0x3F,
            "NONE" => 0,
            _ => return None,
        };
    }
    Some(out)
}

/// The conntrack atoms a `--ctstate` list matches: those whose state bits
/// (the base state, plus SNAT/DNAT on a tracked packet) meet the list.
fn ct_field(states: &[CtState]) -> Option<Field> {
    use super::packet::CtBase;
    let hits = (0..14u128).filter(|&a| {
        let c = Conntrack::from_atom(a);
        states.iter().any(|s| match s {
            CtState::Invalid => c.state == CtBase::Invalid,
            CtState::Untracked => c.state == CtBase::Untracked,
            CtState::New => c.state == CtBase::New,
            CtState::Established => c.state == CtBase::Established,
            CtState::Related => c.state == CtBase::Related,
            CtState::Snat => c.state.is_tracked() && c.snat,
            CtState::Dnat => c.state.is_tracked() && c.dnat,
        })
    });
    Field::from_intervals(hits.map(|a| (a, a)).collect())
}

/// ICMP type names (libxt_icmp.h): name, type, lowest and highest code.
pub(crate) const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
];

/// ICMPv6 type names (libxt_icmp.h).
pub(crate) const ICMPV6_NAMES: &[(&str, u8, u8, u8)] = &[
    ("destination-unreachable", 1, 0, 0xFF),
    ("no-route", 1, 0, 0),
    ("communication-prohibited", 1, 1, 1),
    ("beyond-scope", 1, 2, 2),
    ("address-unreachable", 1, 3, 3),
    ("port-unreachable", 1, 4, 4),
    ("failed-policy", 1, 5, 5),
    ("reject-route", 1, 6, 6),
    ("packet-too-big", 2, 0, 0xFF),
    ("time-exceeded", 3, 0, 0xFF),
    ("ttl-exceeded", 3, 0, 0xFF),
    ("ttl-zero-during-transit", 3, 0, 0),
    ("ttl-zero-during-reassembly", 3, 1, 1),
    ("parameter-problem", 4, 0, 0xFF),
    ("bad-header", 4, 0, 0),
    ("unknown-header-type", 4, 1, 1),
    ("unknown-option", 4, 2, 2),
    ("echo-request", 128, 0, 0xFF),
    ("ping", 128, 0, 0xFF),
    ("echo-reply", 129, 0, 0xFF),
    ("pong", 129, 0, 0xFF),
    ("router-solicitation", 133, 0, 0xFF),
    ("router-advertisement", 134, 0, 0xFF),
    ("neighbour-solicitation", 135, 0, 0xFF),
    ("neighbor-solicitation", 135, 0, 0xFF),
    ("neighbour-advertisement", 136, 0, 0xFF),
    ("neighbor-advertisement", 136, 0, 0xFF),
    ("redirect", 137, 0, 0xFF),
];

/// The ICMP type/code values `--icmp-type TEXT` matches (before `!`):
/// `Some(None)` for nothing, `None` when the text is not understood.
///
/// Like libxt_icmp: a name may be abbreviated (case-insensitive, must be
/// unambiguous), else `TYPE` or `TYPE/CODE` in decimal. In IPv4 type 255
/// ("any") matches every type and code.
fn icmp_field(text: &str, family: Family) -> Option<Option<Field>> {
    let (ty, lo, hi) = icmp_type_code(text, family)?;
    if family == Family::Ipv4 && ty == 0xFF {
        return Some(Some(Field::full(65535)));
    }
    let base = (ty as u128) << 8;
    Some(Field::range(base + lo as u128, base + hi as u128))
}

/// What `--icmp-type TEXT` / `--icmpv6-type TEXT` names, read as libxt_icmp
/// reads it: `(type, lowest code, highest code)`; type 255 in IPv4 is "any".
/// `None` when the text is not understood (or ambiguous).
pub fn icmp_type_code(text: &str, family: Family) -> Option<(u8, u8, u8)> {
    let table = match family {
        Family::Ipv4 => ICMP_NAMES,
        Family::Ipv6 => ICMPV6_NAMES,
    };
    let lower = text.to_ascii_lowercase();
    let mut hits = table
        .iter()
        .filter(|(n, ..)| n.to_ascii_lowercase().starts_with(&lower));
    let (ty, lo, hi) = match (hits.next(), hits.next()) {
        (Some(&(_, t, lo, hi)), None) => (t, lo, hi),
        (Some(_), Some(_)) => return None,
        _ => {
            let (t, c) = match text.split_once('/') {
                Some((t, c)) => (t, Some(c)),
                None => (text, None),
            };
            let t: u8 = t.parse().ok()?;
            match c {
                Some(c) => {
                    let c: u8 = c.parse().ok()?;
                    (t, c, c)
                }
                None => (t, 0, 0xFF),
            }
        }
    };
    Some((ty, lo, hi))
}
