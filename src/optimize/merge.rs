//! Merging rules that differ in one field into one rule: over an ipset
//! (`-m set --match-set NAME src`: `hash:ip`/`hash:net` for addresses,
//! `hash:ip,port`/`hash:net,port` for address and port, `bitmap:port` for
//! more ports than one multiport rule holds) or a `-m multiport` list.
//!
//! One pass handles one kind of merge over one chain. Every rule is split
//! into a *key* (the rule with the varying field taken out, printed: every
//! other match, option, negation, protocol, interface and the target with its
//! options) and a *member* (the address, address and port, or port). Rules
//! with the same key form a group; the group becomes one rule at the
//! position of its first member.
//!
//! # Gathering rules from non-adjacent positions, and why it is sound
//!
//! A rule `R` at `j` joins the open group of its key that starts at `i < j`
//! only when moving `R` up to `i` changes no packet's fate: no rule between
//! `i` and `j` (other than the group's own members) may match a packet `R`
//! may match (`rule_match_space(..).may`, an over-approximation, so
//! "disjoint" is a proof), none of them can send a packet on changed (a
//! barrier: MARK, a jump to a chain that may rewrite and return, a target
//! iptlint does not know) and none of them has a match with state that
//! counts packets (`limit`, `recent`, `statistic`, ...: skipping it for a
//! packet would change what it does to later ones). Members themselves must
//! not rewrite-and-continue nor carry stateful matches. Two rules that match
//! disjoint packets and change nothing commute, and every reordering the
//! pass makes swaps only pairs checked this way (the later rule of each
//! swapped pair was checked when it joined), so the output is the input
//! permuted by commuting swaps, then adjacent same-key rules fused.
//!
//! A pass-through rule in between (LOG, NFLOG) that meets `R` blocks it too:
//! moving `R` above it would not change a verdict, but the packet would no
//! longer be logged.
//!
//! Finding the rules in between that may meet `R` uses an index by exact
//! host address (source, else destination) plus a list of the others, each
//! in position order; a join looks at no more than [`SCAN_LIMIT`] candidates
//! and gives up (starting a new group) beyond that, so a pass is linear in
//! the chain with a bounded factor.

use crate::model::Generic;
use std::collections::{BTreeMap, HashMap};

use crate::model::{
    Family, Match, MatchOption, Negatable, PortRange, Rule, TargetKind, Value, Word, protocol_match,
};
use crate::space::{Dim, PacketSet, SpaceContext, rule_match_space};

use super::sets::{IpSet, Member};

/// Candidates looked at, at most, when a rule asks to join a group.
pub const SCAN_LIMIT: usize = 64;

/// Members a set needs. A hash lookup costs about what two or three rule
/// comparisons do (the kernel compares a rule with a few masked words; a
/// hash:ip test hashes the address and walks a bucket), so at two members a
/// set saves nothing and adds an object to manage; from three on it wins,
/// and the win grows with every member.
pub const MIN_SET_MEMBERS: usize = 3;

/// `-m multiport` holds 15 ports, a range counting as two.
pub const MULTIPORT_SLOTS: usize = 15;

/// Which address, or which port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
}

impl Dir {
    fn word(self) -> &'static str {
        match self {
            Dir::Src => "src",
            Dir::Dst => "dst",
        }
    }
}

/// One kind of merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Address (source or destination) and destination port into a
    /// `hash:ip,port`/`hash:net,port` set.
    AddrPort(Dir),
    /// Address into a `hash:ip`/`hash:net` set.
    Addr(Dir),
    /// Destination or source port into `-m multiport`.
    Ports(Dir),
}

impl Pass {
    /// What the change report calls it.
    pub fn how(self) -> &'static str {
        match self {
            Pass::AddrPort(Dir::Src) => "source-address-port-set",
            Pass::AddrPort(Dir::Dst) => "destination-address-port-set",
            Pass::Addr(Dir::Src) => "source-set",
            Pass::Addr(Dir::Dst) => "destination-set",
            Pass::Ports(Dir::Dst) => "destination-ports",
            Pass::Ports(Dir::Src) => "source-ports",
        }
    }

    fn set_prefix(self) -> &'static str {
        match self {
            Pass::AddrPort(Dir::Src) => "sp",
            Pass::AddrPort(Dir::Dst) => "dp",
            Pass::Addr(Dir::Src) => "src",
            Pass::Addr(Dir::Dst) => "dst",
            Pass::Ports(_) => "port",
        }
    }
}

/// A rule of the chain being rewritten, with the input lines it stands for.
#[derive(Clone, Debug)]
pub struct WorkRule {
    pub rule: Rule,
    pub lines: Vec<u32>,
}

/// What a group varies in.
#[derive(Clone, Debug)]
enum Varying {
    /// One or more (an address list is a kernel rule per address).
    Set(Vec<Member>),
    Port(PortRange),
}

struct Group {
    start: usize,
    key_text: String,
    key_rule: Rule,
    members: Vec<(usize, Varying)>,
}

/// One group made into fewer rules.
pub struct Merged {
    pub lines: Vec<u32>,
    pub set: Option<String>,
    pub rule: Rule,
}

/// Where the pass gets what it needs from outside the chain.
pub struct PassEnv<'a> {
    pub ctx: &'a SpaceContext,
    pub family: Family,
    /// `true` for a user chain whose packets may come back changed.
    pub impure: &'a dyn Fn(&str) -> bool,
    /// `table/chain`, for set names.
    pub place: String,
    /// Sets may be used (`--ipsets`).
    pub ipsets: bool,
}

/// Runs one pass over a chain: returns the new rules, the merges made and
/// the sets they use.
pub fn run_pass(
    rules: Vec<WorkRule>,
    pass: Pass,
    env: &PassEnv<'_>,
) -> (Vec<WorkRule>, Vec<Merged>, Vec<IpSet>) {
    let n = rules.len();
    // Most chains have no two rules with the same key: nothing to gather,
    // and no packet space to compute.
    let splits: Vec<Option<(Rule, Varying, String)>> = rules
        .iter()
        .map(|w| {
            if is_barrier(&w.rule, env.impure) {
                return None;
            }
            let (key, member) = split(&w.rule, pass, env.family)?;
            let text = key.spec_text();
            Some((key, member, text))
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, _, text) in splits.iter().flatten() {
        *seen.entry(text.as_str()).or_default() += 1;
    }
    if seen.values().all(|&count| count < 2) {
        return (rules, Vec::new(), Vec::new());
    }
    drop(seen);
    let spaces: Vec<PacketSet> = rules
        .iter()
        .map(|w| rule_match_space(&w.rule, env.ctx).may)
        .collect();
    let mut index = Index::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut group_of: Vec<Option<usize>> = vec![None; n];
    let mut last_barrier: Option<usize> = None;
    for (j, split) in splits.into_iter().enumerate() {
        let rule = &rules[j].rule;
        let barrier = is_barrier(rule, env.impure);
        if let Some((key_rule, member, key_text)) = split {
            // A target that lets the packet go on (LOG, a jump that may
            // return) acts once per matching rule: members must not share
            // a packet, or the fused rule would act fewer times.
            let once = decides(rule);
            let joined = open.get(&key_text).copied().filter(|&g| {
                let start = groups[g].start;
                last_barrier.is_none_or(|b| b < start)
                    && (once || !spaces[start].overlaps(&spaces[j]))
                    && index.none_between(start, &spaces[j], |x| {
                        (!once || group_of[x] != Some(g)) && spaces[x].overlaps(&spaces[j])
                    })
            });
            let g = match joined {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        start: j,
                        key_text: key_text.clone(),
                        key_rule,
                        members: Vec::new(),
                    });
                    open.insert(key_text, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[g].members.push((j, member));
            group_of[j] = Some(g);
        }
        if barrier {
            last_barrier = Some(j);
        }
        index.add(j, &spaces[j]);
    }

    // Which groups are worth it, and what each becomes.
    let mut replaced: Vec<Option<Vec<WorkRule>>> = (0..n).map(|_| None).collect();
    let mut skip = vec![false; n];
    let mut merged = Vec::new();
    let mut sets: Vec<IpSet> = Vec::new();
    for g in &groups {
        let out = match pass {
            Pass::Ports(dir) => fuse_ports(g, dir, env, &rules, &mut sets),
            Pass::Addr(_) | Pass::AddrPort(_) => fuse_set(g, pass, env, &rules, &mut sets),
        };
        let Some(out) = out else { continue };
        for &(pos, _) in &g.members {
            skip[pos] = true;
        }
        for (w, set) in &out {
            merged.push(Merged {
                lines: w.lines.clone(),
                set: set.clone(),
                rule: w.rule.clone(),
            });
        }
        replaced[g.start] = Some(out.into_iter().map(|(w, _)| w).collect());
    }
    let mut result = Vec::with_capacity(n);
    for (pos, w) in rules.into_iter().enumerate() {
        if let Some(new) = replaced[pos].take() {
            result.extend(new);
        } else if !skip[pos] {
            result.push(w);
        }
    }
    (result, merged, sets)
}

/// The group as one rule over a set, when it has enough distinct members.
fn fuse_set(
    g: &Group,
    pass: Pass,
    env: &PassEnv<'_>,
    rules: &[WorkRule],
    sets: &mut Vec<IpSet>,
) -> Option<Vec<(WorkRule, Option<String>)>> {
    let members: Vec<Member> = g
        .members
        .iter()
        .flat_map(|(_, v)| match v {
            Varying::Set(m) => m.clone(),
            Varying::Port(_) => Vec::new(),
        })
        .collect();
    let mut distinct = members.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < MIN_SET_MEMBERS {
        return None;
    }
    let context = format!("{}/{}", env.place, g.key_text);
    let set = IpSet::new(pass.set_prefix(), env.family, members, &context);
    let dirs = match pass {
        Pass::AddrPort(d) => format!("{},dst", d.word()),
        Pass::Addr(d) => d.word().to_string(),
        Pass::Ports(_) => unreachable!("ports are not set members here"),
    };
    let mut rule = g.key_rule.clone();
    rule.matches.push(set_match(&set.name, &dirs));
    let positions: Vec<usize> = g.members.iter().map(|(p, _)| *p).collect();
    rule.set_counters(summed_counters(rules, &positions));
    let name = set.name.clone();
    if !sets.iter().any(|s| s.name == set.name) {
        sets.push(set);
    }
    let lines = positions
        .iter()
        .flat_map(|&p| rules[p].lines.iter().copied())
        .collect();
    Some(vec![(WorkRule { rule, lines }, Some(name))])
}

/// The group as `-m multiport` rules of at most 15 slots each.
fn fuse_ports(
    g: &Group,
    dir: Dir,
    env: &PassEnv<'_>,
    rules: &[WorkRule],
    sets: &mut Vec<IpSet>,
) -> Option<Vec<(WorkRule, Option<String>)>> {
    if g.members.len() < 2 {
        return None;
    }
    let ports: Vec<PortRange> = g
        .members
        .iter()
        .filter_map(|(_, v)| match v {
            Varying::Port(p) => Some(*p),
            Varying::Set(_) => None,
        })
        .collect();
    let slots: usize = ports.iter().map(|p| if p.lo == p.hi { 1 } else { 2 }).sum();
    // More than one multiport rule's worth: one bitmap:port set instead,
    // where the kernel's set can tell (it reads TCP and UDP ports only).
    let tcp_or_udp = g
        .key_rule
        .protocol
        .as_ref()
        .is_some_and(|p| matches!(p.value.number, Some(6 | 17)));
    if env.ipsets && tcp_or_udp && slots > MULTIPORT_SLOTS {
        let context = format!("{}/{}/{}", env.place, dir.word(), g.key_text);
        let set = IpSet::ports("port", env.family, ports, &context);
        let mut rule = g.key_rule.clone();
        rule.matches.push(set_match(&set.name, dir.word()));
        let positions: Vec<usize> = g.members.iter().map(|(p, _)| *p).collect();
        rule.set_counters(summed_counters(rules, &positions));
        let name = set.name.clone();
        if !sets.iter().any(|s| s.name == set.name) {
            sets.push(set);
        }
        let lines = positions
            .iter()
            .flat_map(|&p| rules[p].lines.iter().copied())
            .collect();
        return Some(vec![(WorkRule { rule, lines }, Some(name))]);
    }
    let mut chunks: Vec<Vec<(usize, PortRange)>> = vec![Vec::new()];
    let mut used = 0;
    for (pos, v) in &g.members {
        let Varying::Port(p) = v else { continue };
        let cost = if p.lo == p.hi { 1 } else { 2 };
        if used + cost > MULTIPORT_SLOTS {
            chunks.push(Vec::new());
            used = 0;
        }
        used += cost;
        chunks.last_mut().expect("one chunk").push((*pos, *p));
    }
    let mut out = Vec::new();
    for chunk in chunks {
        if let [(pos, _)] = chunk.as_slice() {
            // A lone port stays the rule it was (moved up with its group).
            out.push((rules[*pos].clone(), None));
            continue;
        }
        let mut rule = g.key_rule.clone();
        let ports: Vec<PortRange> = chunk.iter().map(|(_, p)| *p).collect();
        rule.matches.push(multiport_match(dir, &ports));
        let positions: Vec<usize> = chunk.iter().map(|(p, _)| *p).collect();
        rule.set_counters(summed_counters(rules, &positions));
        let lines = positions
            .iter()
            .flat_map(|&p| rules[p].lines.iter().copied())
            .collect();
        out.push((WorkRule { rule, lines }, None));
    }
    Some(out)
}

fn summed_counters(rules: &[WorkRule], positions: &[usize]) -> Option<crate::model::Counters> {
    let mut sum = crate::model::Counters {
        packets: 0,
        bytes: 0,
    };
    for &p in positions {
        let c = rules[p].rule.counters()?;
        sum.packets = sum.packets.saturating_add(c.packets);
        sum.bytes = sum.bytes.saturating_add(c.bytes);
    }
    Some(sum)
}

// The matches made here stand nowhere in the source: their spans are left
// unset, and read back as their rule's.
fn word(text: &str) -> Word {
    Word {
        text: text.into(),
        at: Default::default(),
    }
}

fn set_match(name: &str, dirs: &str) -> Match {
    Match {
        module: "set".into(),
        at: Default::default(),
        implicit: false,
        modelled: true,
        options: crate::model::list![MatchOption {
            name: "--match-set".into(),
            alias: None,
            negated: false,
            at: Default::default(),
            words: smallvec::smallvec![word(name), word(dirs)],
            value: Value::Words(crate::model::list![name.into(), dirs.into()]),
        }],
    }
}

fn multiport_match(dir: Dir, ports: &[PortRange]) -> Match {
    let name = match dir {
        Dir::Src => "--sports",
        Dir::Dst => "--dports",
    };
    let text = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    Match {
        module: "multiport".into(),
        at: Default::default(),
        implicit: false,
        modelled: true,
        options: crate::model::list![MatchOption {
            name: name.into(),
            alias: None,
            negated: false,
            at: Default::default(),
            words: smallvec::smallvec![word(&text)],
            value: Value::Ports(ports.iter().copied().collect()),
        }],
    }
}

/// The rule without its varying field, and the field, when the rule can
/// take part in this pass.
fn split(rule: &Rule, pass: Pass, family: Family) -> Option<(Rule, Varying)> {
    let mut key = rule.clone();
    match pass {
        Pass::Addr(dir) => {
            let nets = take_addr(&mut key, dir, family)?;
            Some((key, Varying::Set(nets)))
        }
        Pass::AddrPort(dir) => {
            let mut members = take_addr(&mut key, dir, family)?;
            let (proto, port) = take_port(&mut key, Dir::Dst, &[6, 17, 132])?;
            if port.lo != port.hi {
                return None;
            }
            for m in &mut members {
                m.port = Some((proto, port.lo));
            }
            Some((key, Varying::Set(members)))
        }
        Pass::Ports(dir) => {
            if rule.find_match("multiport").is_some() {
                return None;
            }
            let (_, port) = take_port(&mut key, dir, &[6, 17, 132, 33])?;
            Some((key, Varying::Port(port)))
        }
    }
}

/// Takes out a positive address, or list of addresses, of the family, each
/// one a set can hold. A list (`-s a,b`: a kernel rule per address) only
/// for a rule that decides: a packet two of its addresses match is acted on
/// twice otherwise, and once by a set.
fn take_addr(rule: &mut Rule, dir: Dir, family: Family) -> Option<Vec<Member>> {
    let once = decides(rule);
    let slot = match dir {
        Dir::Src => &mut rule.source,
        Dir::Dst => &mut rule.destination,
    };
    let members = match slot.as_ref()? {
        Negatable {
            negated: false,
            value,
            ..
        } if !value.is_empty() && (value.len() == 1 || once) => value
            .iter()
            .map(|a| match a.as_net() {
                Some(n) if n.family() == family => Member::net(&n),
                _ => None,
            })
            .collect::<Option<Vec<Member>>>()?,
        _ => return None,
    };
    *slot = None;
    match dir {
        Dir::Src => rule.set_generic_span(Generic::Source, None),
        Dir::Dst => rule.set_generic_span(Generic::Destination, None),
    }
    Some(members)
}

/// Takes `--dport`/`--sport` (positive, one port or range) out of the match
/// that `-p` loads, for one of `protocols`; drops that match when nothing is
/// left in it (the set or multiport match that replaces the port fails on
/// later fragments just as it does).
fn take_port(rule: &mut Rule, dir: Dir, protocols: &[u8]) -> Option<(&'static str, PortRange)> {
    let proto = rule.protocol.as_ref().filter(|p| !p.negated)?;
    let number = proto.value.number.filter(|n| protocols.contains(n))?;
    let module = protocol_match(number)?;
    let mut found = rule
        .matches
        .iter()
        .enumerate()
        .filter(|(_, m)| m.module == module);
    let (mi, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let option = match dir {
        Dir::Src => "--sport",
        Dir::Dst => "--dport",
    };
    let m = &mut rule.matches[mi];
    let oi = m.options.iter().position(|o| o.name == option)?;
    let o = &m.options[oi];
    let range = match (&o.value, o.negated) {
        (Value::Ports(p), false) if p.len() == 1 => p[0],
        _ => return None,
    };
    m.options.remove(oi);
    if m.options.is_empty() {
        rule.matches.remove(mi);
    }
    Some((module, range))
}

/// Match modules whose result depends only on the packet and on state they
/// do not change: evaluating them one time more or less changes nothing.
/// Every other module (`limit`, `hashlimit`, `recent`, `statistic`,
/// `quota`, `connlabel`, `nfacct`, unknown ones) counts as stateful.
const STATELESS: &[&str] = &[
    "tcp",
    "udp",
    "sctp",
    "dccp",
    "icmp",
    "icmp6",
    "multiport",
    "conntrack",
    "state",
    "mark",
    "connmark",
    "comment",
    "addrtype",
    "set",
    "iprange",
    "physdev",
    "owner",
    "length",
    "ttl",
    "hl",
    "dscp",
    "tos",
    "mac",
    "pkttype",
    "policy",
    "u32",
    "string",
    "time",
    "devgroup",
    "cgroup",
    "helper",
    "realm",
    "socket",
    "rpfilter",
    "ecn",
    "esp",
    "ah",
    "tcpmss",
    "ipv6header",
    "frag",
    "hbh",
    "dst",
    "rt",
    "mh",
    "cpu",
    "connbytes",
    "connlimit",
    "bpf",
    "ipvs",
];

/// Targets after which the packet goes on through the chain unchanged.
const PASS_THROUGH: &[&str] = &["LOG", "NFLOG", "ULOG", "TRACE", "AUDIT"];

/// True when a rule has a match module with state of its own.
pub fn has_stateful_match(rule: &Rule) -> bool {
    rule.matches
        .iter()
        .any(|m| !STATELESS.contains(&m.module.as_str()))
}

/// True when a packet the rule matches may go on through the chain changed:
/// a rewriting target that does not end the walk, a jump to an impure chain.
pub fn continues_changed(rule: &Rule, impure: &dyn Fn(&str) -> bool) -> bool {
    let Some(t) = &rule.target else { return false };
    match &t.kind {
        TargetKind::Accept | TargetKind::Drop | TargetKind::Return | TargetKind::Queue => false,
        TargetKind::Extension if t.kind.is_terminal_verdict(&t.name) => false,
        TargetKind::Extension => !PASS_THROUGH.contains(&t.name.as_str()),
        TargetKind::Other => true,
        TargetKind::Chain => match t.jump {
            crate::model::JumpKind::Jump => impure(&t.name),
            // The packet never comes back to this chain.
            crate::model::JumpKind::Goto => false,
        },
    }
}

/// True when every packet the rule matches leaves the chain: matching it
/// twice or once is the same.
fn decides(rule: &Rule) -> bool {
    let Some(t) = &rule.target else { return false };
    match &t.kind {
        TargetKind::Accept | TargetKind::Drop | TargetKind::Return | TargetKind::Queue => true,
        TargetKind::Extension => t.kind.is_terminal_verdict(&t.name),
        TargetKind::Chain => t.jump == crate::model::JumpKind::Goto,
        TargetKind::Other => false,
    }
}

fn is_barrier(rule: &Rule, impure: &dyn Fn(&str) -> bool) -> bool {
    continues_changed(rule, impure) || has_stateful_match(rule)
}

/// The rules seen so far, by position, found by address.
#[derive(Default)]
struct Index {
    /// Rules whose source is one host.
    src_host: BTreeMap<u128, Vec<usize>>,
    /// Rules whose destination (not source) is one host.
    dst_host: BTreeMap<u128, Vec<usize>>,
    /// The others.
    wide: Vec<usize>,
}

impl Index {
    fn add(&mut self, pos: usize, may: &PacketSet) {
        let (Some(src), Some(dst)) = (may.bounds(Dim::Src), may.bounds(Dim::Dst)) else {
            return; // matches nothing: meets nothing
        };
        if src.0 == src.1 {
            self.src_host.entry(src.0).or_default().push(pos);
        } else if dst.0 == dst.1 {
            self.dst_host.entry(dst.0).or_default().push(pos);
        } else {
            self.wide.push(pos);
        }
    }

    /// True when no rule after `start` that may meet `may` satisfies
    /// `meets`; `false` as well when that takes more than [`SCAN_LIMIT`]
    /// candidates to tell.
    fn none_between(
        &self,
        start: usize,
        may: &PacketSet,
        mut meets: impl FnMut(usize) -> bool,
    ) -> bool {
        let (Some(src), Some(dst)) = (may.bounds(Dim::Src), may.bounds(Dim::Dst)) else {
            return true;
        };
        let mut budget = SCAN_LIMIT;
        let mut check = |positions: &[usize], budget: &mut usize| -> bool {
            for &x in positions.iter().rev() {
                if x <= start {
                    break;
                }
                if *budget == 0 || meets(x) {
                    return false;
                }
                *budget -= 1;
            }
            true
        };
        if !check(&self.wide, &mut budget) {
            return false;
        }
        for (map, (lo, hi)) in [(&self.src_host, src), (&self.dst_host, dst)] {
            for (_, positions) in map.range(lo..=hi) {
                if budget == 0 {
                    return false;
                }
                budget -= 1;
                if !check(positions, &mut budget) {
                    return false;
                }
            }
        }
        true
    }
}
