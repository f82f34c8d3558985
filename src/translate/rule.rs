//! One iptables rule to nft rules, exactly or not at all.
//!
//! A rule becomes one nft rule most of the time. It becomes several when
//! iptables itself would load several (`-s a,b` is one rule per address) or
//! when one iptables condition is an "or" nft cannot say in one rule (a
//! `--ctstate` that mixes states with SNAT/DNAT): then the pieces are
//! disjoint, so at most one of them matches a packet and a statement runs at
//! most once. Anything that cannot be said exactly is an `Err` with the
//! reason; the caller keeps the rule as a comment.

use std::net::IpAddr;

use crate::model::AddrKind;
use crate::model::{
    AddrRange, AddrSpec, CtState, Family, JumpKind, MarkMask, Match, MatchOption, Net, PortRange,
    Rule, TableName, Target, TargetKind, Value,
};
use crate::space::icmp_type_code;

use super::ipset::IpsetFile;
use super::names::{NameMap, quoted};

/// One element of a set: its text and the interval of field values it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elem {
    pub text: String,
    pub lo: u128,
    pub hi: u128,
}

/// One condition of an nft rule.
#[derive(Clone, Debug)]
pub struct Expr {
    pub text: String,
    /// `(selector, element)` when the condition is "this field is in this
    /// interval" for a field no non-terminal target can rewrite: rules that
    /// differ only here may share an anonymous set.
    pub field: Option<(&'static str, Elem)>,
    /// The same condition as single values of plain selectors (`meta
    /// l4proto`, `th dport`, ...), for a concatenated map key.
    pub keys: Option<Vec<(&'static str, Elem)>>,
    /// Keeps state or draws a random number: evaluating it twice is not
    /// evaluating it once.
    pub stateful: bool,
    /// The protocol this condition implies (`tcp dport` implies tcp).
    pub implies: Option<u8>,
}

impl Expr {
    pub(super) fn plain(text: String) -> Expr {
        Expr {
            text,
            field: None,
            keys: None,
            stateful: false,
            implies: None,
        }
    }
}

/// What the rule does to the walk when it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
    /// A terminal statement (`reject ...`, `dnat to ...`, `queue ...`).
    Terminal(String),
}

impl Verdict {
    /// Every matched packet leaves this chain for good (a jump may come back).
    pub fn decides(&self) -> bool {
        !matches!(self, Verdict::Jump(_))
    }

    pub fn text(&self) -> String {
        match self {
            Verdict::Accept => "accept".into(),
            Verdict::Drop => "drop".into(),
            Verdict::Return => "return".into(),
            Verdict::Jump(c) => format!("jump {c}"),
            Verdict::Goto(c) => format!("goto {c}"),
            Verdict::Terminal(t) => t.clone(),
        }
    }
}

/// One nft rule, before it is printed.
#[derive(Clone, Debug)]
pub struct NftRule {
    pub exprs: Vec<Expr>,
    /// Non-terminal statements (`log`, `meta mark set`, ...).
    pub stmts: Vec<String>,
    pub verdict: Option<Verdict>,
    pub comment: Option<String>,
    /// `counter` (with the dump's packets and bytes, when it has them).
    pub counter: Option<Option<(u64, u64)>>,
    /// 1-based line of the iptables rule.
    pub line: u32,
}

impl NftRule {
    pub fn render(&self, out: &mut String) {
        let mut first = true;
        let mut put = |out: &mut String, s: &str| {
            if !first {
                out.push(' ');
            }
            out.push_str(s);
            first = false;
        };
        for e in &self.exprs {
            put(out, &e.text);
        }
        match self.counter {
            Some(Some((p, b))) => put(out, &format!("counter packets {p} bytes {b}")),
            Some(None) => put(out, "counter"),
            None => {}
        }
        for s in &self.stmts {
            put(out, s);
        }
        if let Some(v) = &self.verdict {
            put(out, &v.text());
        }
        if let Some(c) = &self.comment {
            put(out, &format!("comment {}", quoted(c).0));
        }
    }

    pub fn stateful(&self) -> bool {
        self.exprs.iter().any(|e| e.stateful)
    }
}

/// What the rule translator needs to know around the rule.
pub struct Scope<'a> {
    pub family: Family,
    pub table: TableName,
    pub chains: &'a NameMap,
    pub ipsets: Option<&'a IpsetFile>,
    pub set_names: &'a NameMap,
    pub counters: bool,
}

/// A note that does not stop the translation (a comment changed to fit).
pub type Notes = Vec<String>;

/// Disjoint alternatives, each a list of conditions (see the module doc).
pub(super) type Cases = Vec<Vec<Expr>>;

/// Translates one rule. `Err` says why it cannot be done exactly.
pub fn translate_rule(
    rule: &Rule,
    scope: &Scope<'_>,
    notes: &mut Notes,
) -> Result<Vec<NftRule>, String> {
    let fam = scope.family;
    if let Some(f) = rule.only_family()
        && f != fam
    {
        // `-4` in an ip6tables dump: ip6tables skips the rule.
        return Ok(Vec::new());
    }
    let mut head: Vec<Expr> = Vec::new();
    if let Some(i) = rule.in_interface()
        && let Some(e) = iface("iifname", &i.value.name, i.negated)?
    {
        head.push(e);
    }
    if let Some(o) = rule.out_interface()
        && let Some(e) = iface("oifname", &o.value.name, o.negated)?
    {
        head.push(e);
    }
    if let Some(f) = rule.fragment() {
        if fam == Family::Ipv6 {
            return Err("`-f` has no IPv6 meaning".into());
        }
        head.push(Expr::plain(format!(
            "ip frag-off & 0x1fff {} 0",
            if f.negated { "==" } else { "!=" }
        )));
    }
    // The protocol goes where iptables-translate puts it; it is left out
    // later when a condition after it implies it.
    let proto = match &rule.protocol {
        Some(p) if p.value.is_all() && !p.negated => None,
        Some(p) if p.value.is_all() => return Err("`! -p all` matches no packet".into()),
        Some(p) => {
            let n = p.value.number.ok_or_else(|| {
                format!(
                    "protocol `{}` is not known to iptlint",
                    rule.protocol_written().unwrap_or("")
                )
            })?;
            Some((n, p.negated))
        }
        None => None,
    };
    let proto_at = head.len();
    let mut cases: Cases = vec![Vec::new()];
    let srcs = addr_list(
        rule.source
            .as_ref()
            .map(|s| (s.negated, s.value.as_slice())),
        fam,
        "saddr",
    )?;
    let dsts = addr_list(
        rule.destination
            .as_ref()
            .map(|s| (s.negated, s.value.as_slice())),
        fam,
        "daddr",
    )?;
    let mut comments: Vec<String> = Vec::new();
    let mut stateful = false;
    let mut split = false;
    for m in &rule.matches {
        let mc = translate_match(m, rule, scope, &mut comments)?;
        if mc.iter().flatten().any(|e| e.stateful) {
            stateful = true;
        }
        if mc.len() > 1 {
            split = true;
        }
        cases = product(cases, mc);
    }
    if split && stateful {
        return Err("a condition that needs two nft rules, with a stateful or random match".into());
    }
    let implied = cases
        .iter()
        .flatten()
        .filter_map(|e| e.implies)
        .collect::<Vec<_>>();
    let proto_expr = match proto {
        Some((n, false)) if implied.contains(&n) => None,
        Some((n, neg)) => Some(proto_test(fam, n, neg)),
        None => None,
    };
    let (stmts, verdict) = translate_target(rule, scope, proto, notes)?;
    let comment = if comments.is_empty() {
        None
    } else {
        let joined = comments.join("; ");
        if joined.contains('"') {
            notes.push("a `\"` in the comment became `'`: nft strings cannot hold `\"`".into());
        }
        // nft keeps at most 128 bytes of a comment.
        Some(if joined.len() > 127 {
            notes.push("the comment was cut to 127 bytes, the most nft keeps".into());
            let mut cut = 127;
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            joined[..cut].to_string()
        } else {
            joined
        })
    };
    let counter = scope
        .counters
        .then(|| rule.counters().map(|c| (c.packets, c.bytes)));
    let mut out = Vec::new();
    for s in &srcs {
        for d in &dsts {
            for case in &cases {
                let mut exprs = head.clone();
                if let Some(p) = &proto_expr {
                    exprs.insert(proto_at, p.clone());
                }
                exprs.extend(s.iter().cloned());
                exprs.extend(d.iter().cloned());
                exprs.extend(case.iter().cloned());
                out.push(NftRule {
                    exprs,
                    stmts: stmts.clone(),
                    verdict: verdict.clone(),
                    comment: comment.clone(),
                    counter,
                    line: rule.span.line,
                });
            }
        }
    }
    Ok(out)
}

fn product(cases: Cases, more: Cases) -> Cases {
    let mut out = Vec::with_capacity(cases.len() * more.len());
    for c in &cases {
        for m in &more {
            let mut v = c.clone();
            v.extend(m.iter().cloned());
            out.push(v);
        }
    }
    out
}

fn iface(selector: &'static str, name: &str, negated: bool) -> Result<Option<Expr>, String> {
    if name.contains(['"', '\\']) {
        return Err(format!("interface name `{name}` cannot be written in nft"));
    }
    if name == "+" {
        if negated {
            return Err("`! -i +`/`! -o +` matches no packet".into());
        }
        return Ok(None);
    }
    // nft reads a last `*` as the wildcard and stores any other `*` as it
    // is; a name that ends in `*` itself ends in `\*`.
    let pattern = match name.strip_suffix('+') {
        Some(prefix) => format!("{prefix}*"),
        None => match name.strip_suffix('*') {
            Some(stem) => format!("{stem}\\*"),
            None => name.to_string(),
        },
    };
    let op = if negated { "!= " } else { "" };
    let text = format!("{selector} {op}\"{pattern}\"");
    let field = (!negated && !name.ends_with('+')).then(|| {
        let v = name_value(name);
        (
            selector,
            Elem {
                text: format!("\"{pattern}\""),
                lo: v,
                hi: v,
            },
        )
    });
    Ok(Some(Expr {
        text,
        field,
        keys: None,
        stateful: false,
        implies: None,
    }))
}

/// Interface names as numbers, only to tell two names apart.
fn name_value(name: &str) -> u128 {
    let mut v = [0u8; 16];
    v[..name.len().min(16)].copy_from_slice(&name.as_bytes()[..name.len().min(16)]);
    u128::from_be_bytes(v)
}

const PROTO_NAMES: &[(u8, &str)] = &[
    (1, "icmp"),
    (2, "igmp"),
    (6, "tcp"),
    (17, "udp"),
    (33, "dccp"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (58, "ipv6-icmp"),
    (132, "sctp"),
    (136, "udplite"),
];

fn proto_name(n: u8) -> String {
    PROTO_NAMES
        .iter()
        .find(|(num, _)| *num == n)
        .map(|(_, name)| name.to_string())
        .unwrap_or_else(|| n.to_string())
}

fn proto_test(fam: Family, n: u8, negated: bool) -> Expr {
    let sel: &'static str = if fam == Family::Ipv4 {
        "ip protocol"
    } else {
        "meta l4proto"
    };
    let name = proto_name(n);
    let op = if negated { "!= " } else { "" };
    let elem = Elem {
        text: name.clone(),
        lo: n as u128,
        hi: n as u128,
    };
    Expr {
        text: format!("{sel} {op}{name}"),
        field: (!negated).then(|| (sel, elem.clone())),
        keys: (!negated).then(|| vec![("meta l4proto", elem)]),
        stateful: false,
        implies: None,
    }
}

/// `-s`/`-d`: iptables loads one rule per address of a list, in order.
fn addr_list(
    spec: Option<(bool, &[AddrSpec])>,
    fam: Family,
    dir: &'static str,
) -> Result<Vec<Vec<Expr>>, String> {
    let Some((negated, list)) = spec else {
        return Ok(vec![Vec::new()]);
    };
    list.iter()
        .map(|a| match a.kind() {
            AddrKind::Net(n) => Ok(addr_expr(fam, dir, &n, negated)?.into_iter().collect()),
            AddrKind::Host(h) => Err(format!(
                "host name `{h}`: iptables resolves it when loading; iptlint does not guess"
            )),
        })
        .collect()
}

fn addr_selector(fam: Family, dir: &'static str) -> &'static str {
    match (fam, dir) {
        (Family::Ipv4, "saddr") => "ip saddr",
        (Family::Ipv4, _) => "ip daddr",
        (Family::Ipv6, "saddr") => "ip6 saddr",
        (Family::Ipv6, _) => "ip6 daddr",
    }
}

fn addr_expr(
    fam: Family,
    dir: &'static str,
    n: &Net,
    negated: bool,
) -> Result<Option<Expr>, String> {
    if n.family() != fam {
        return Err(format!("address `{n}` is not of this dump's family"));
    }
    let sel = addr_selector(fam, dir);
    let op = if negated { "!= " } else { "" };
    let masked = n.addr_u128() & n.mask();
    let addr = addr_from(fam, masked);
    match n.prefix_len() {
        Some(0) if negated => Err("`! -s 0/0` matches no packet".into()),
        Some(0) => Ok(None),
        Some(len) => {
            let text = if len == n.bits() {
                addr.to_string()
            } else {
                format!("{addr}/{len}")
            };
            let hi = masked | (!n.mask() & full(fam));
            let elem = Elem {
                text: text.clone(),
                lo: masked,
                hi,
            };
            Ok(Some(Expr {
                text: format!("{sel} {op}{text}"),
                field: (!negated).then(|| (sel, elem.clone())),
                keys: (!negated && len == n.bits()).then(|| vec![(sel, elem)]),
                stateful: false,
                implies: None,
            }))
        }
        None => {
            let mask = addr_from(fam, n.mask());
            let op = if negated { "!=" } else { "==" };
            Ok(Some(Expr::plain(format!("{sel} & {mask} {op} {addr}"))))
        }
    }
}

fn full(fam: Family) -> u128 {
    if fam == Family::Ipv4 {
        u32::MAX as u128
    } else {
        u128::MAX
    }
}

fn addr_from(fam: Family, v: u128) -> IpAddr {
    if fam == Family::Ipv4 {
        IpAddr::V4((v as u32).into())
    } else {
        IpAddr::V6(v.into())
    }
}

pub(super) fn opt_words(o: &MatchOption) -> Vec<&str> {
    o.words.iter().map(|w| w.text.as_str()).collect()
}

fn opt_text(o: &MatchOption) -> &str {
    o.words.first().map(|w| w.text.as_str()).unwrap_or("")
}

fn port_text(r: &PortRange) -> String {
    if r.lo == r.hi {
        r.lo.to_string()
    } else {
        format!("{}-{}", r.lo, r.hi)
    }
}

fn port_sel(proto: &str, dir: &str) -> &'static str {
    match (proto, dir) {
        ("tcp", "sport") => "tcp sport",
        ("tcp", _) => "tcp dport",
        ("udp", "sport") => "udp sport",
        ("udp", _) => "udp dport",
        ("sctp", "sport") => "sctp sport",
        ("sctp", _) => "sctp dport",
        ("dccp", "sport") => "dccp sport",
        ("dccp", _) => "dccp dport",
        ("udplite", "sport") => "udplite sport",
        (_, _) => "udplite dport",
    }
}

fn proto_number(name: &str) -> u8 {
    match name {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "dccp" => 33,
        _ => 136,
    }
}

fn port_expr(proto: &str, dir: &str, r: &PortRange, negated: bool) -> Expr {
    let sel = port_sel(proto, dir);
    let op = if negated { "!= " } else { "" };
    let text = port_text(r);
    let elem = Elem {
        text: text.clone(),
        lo: r.lo as u128,
        hi: r.hi as u128,
    };
    let pn = proto_number(proto);
    let th: &'static str = if dir == "sport" {
        "th sport"
    } else {
        "th dport"
    };
    Expr {
        text: format!("{sel} {op}{text}"),
        field: (!negated).then(|| (sel, elem.clone())),
        keys: (!negated && r.lo == r.hi).then(|| {
            vec![
                (
                    "meta l4proto",
                    Elem {
                        text: proto_name(pn),
                        lo: pn as u128,
                        hi: pn as u128,
                    },
                ),
                (th, elem),
            ]
        }),
        stateful: false,
        implies: Some(pn),
    }
}

fn mark_expr(sel: &str, mm: &MarkMask, negated: bool) -> Expr {
    let op = if negated { "!=" } else { "==" };
    if mm.mask == u32::MAX {
        Expr::plain(format!("{sel} {op} {:#x}", mm.value))
    } else {
        Expr::plain(format!("{sel} & {:#x} {op} {:#x}", mm.mask, mm.value))
    }
}

/// The rule's protocol when it is one positive protocol.
pub(super) fn rule_proto(rule: &Rule) -> Option<&'static str> {
    let p = rule.protocol.as_ref().filter(|p| !p.negated)?;
    match p.value.number? {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        33 => Some("dccp"),
        136 => Some("udplite"),
        _ => None,
    }
}

fn translate_match(
    m: &Match,
    rule: &Rule,
    scope: &Scope<'_>,
    comments: &mut Vec<String>,
) -> Result<Cases, String> {
    let fam = scope.family;
    if let Some(cases) = super::ext::ext_match(m, rule, scope) {
        return cases;
    }
    if !m.modelled {
        return unmodelled_match(m).map(|e| vec![vec![e]]);
    }
    let mut out: Cases = vec![Vec::new()];
    let push = |out: &mut Cases, e: Expr| {
        for c in out.iter_mut() {
            c.push(e.clone());
        }
    };
    match m.module.as_str() {
        "comment" => {
            for o in &m.options {
                comments.push(opt_text(o).to_string());
            }
        }
        "tcp" | "udp" | "sctp" | "dccp" => {
            let p = m.module.as_str();
            if m.options.is_empty()
                && let Some(e) = first_fragment_only(scope)?
            {
                push(&mut out, e);
            }
            // iptables-translate's order: source port, destination port, the rest.
            let mut opts: Vec<&MatchOption> = m.options.iter().collect();
            opts.sort_by_key(|o| match o.name.as_str() {
                "--sport" => 0,
                "--dport" => 1,
                _ => 2,
            });
            for o in opts {
                match (o.name.as_str(), &o.value) {
                    ("--sport", Value::Ports(r)) if r.len() == 1 => {
                        push(&mut out, port_expr(p, "sport", &r[0], o.negated))
                    }
                    ("--dport", Value::Ports(r)) if r.len() == 1 => {
                        push(&mut out, port_expr(p, "dport", &r[0], o.negated))
                    }
                    ("--tcp-flags", _) => {
                        let w = opt_words(o);
                        if w.len() != 2 {
                            return Err("`--tcp-flags` needs a mask and the flags set".into());
                        }
                        let mask = tcp_flags(w[0])?;
                        let comp = tcp_flags(w[1])?;
                        push(&mut out, flags_expr(&mask, &comp, o.negated));
                    }
                    ("--syn", _) => {
                        let mask = tcp_flags("FIN,SYN,RST,ACK")?;
                        let comp = tcp_flags("SYN")?;
                        push(&mut out, flags_expr(&mask, &comp, o.negated));
                    }
                    ("--dccp-types", _) if p == "dccp" => {
                        push(&mut out, super::ext::dccp_types(o)?)
                    }
                    ("--tcp-option", Value::Number(n)) if *n <= 255 => {
                        let word = if o.negated { "missing" } else { "exists" };
                        let mut e = Expr::plain(format!("tcp option {n} {word}"));
                        e.implies = Some(6);
                        push(&mut out, e);
                    }
                    _ => return Err(format!("`{} {}` has no exact nft form", p, o.written())),
                }
            }
        }
        "icmp" | "icmp6" => {
            for o in &m.options {
                let text = opt_text(o);
                let (sel, pn, f) = if m.module == "icmp" {
                    ("icmp", 1u8, Family::Ipv4)
                } else {
                    ("icmpv6", 58u8, Family::Ipv6)
                };
                let (ty, lo, hi) = icmp_type_code(text, f)
                    .ok_or_else(|| format!("ICMP type `{text}` is not understood"))?;
                if f == Family::Ipv4 && ty == 0xFF {
                    if o.negated {
                        return Err("`! --icmp-type any` matches no packet".into());
                    }
                    // Any type: only the protocol (the match needs it even
                    // when the rule does not say `-p`).
                    if rule.protocol.is_none() {
                        push(&mut out, proto_test(fam, pn, false));
                    }
                    if let Some(e) = first_fragment_only(scope)? {
                        push(&mut out, e);
                    }
                    continue;
                }
                let op = if o.negated { "!= " } else { "" };
                let mut e = if lo == 0 && hi == 0xFF {
                    let elem = Elem {
                        text: ty.to_string(),
                        lo: ty as u128,
                        hi: ty as u128,
                    };
                    Expr {
                        text: format!("{sel} type {op}{ty}"),
                        field: (!o.negated).then(|| {
                            (
                                if sel == "icmp" {
                                    "icmp type"
                                } else {
                                    "icmpv6 type"
                                },
                                elem,
                            )
                        }),
                        keys: None,
                        stateful: false,
                        implies: None,
                    }
                } else if lo == hi {
                    if o.negated {
                        Expr::plain(format!("{sel} type . {sel} code != {{ {ty} . {lo} }}"))
                    } else {
                        Expr::plain(format!("{sel} type {ty} {sel} code {lo}"))
                    }
                } else {
                    return Err(format!("ICMP type `{text}` is a code range"));
                };
                e.implies = Some(pn);
                push(&mut out, e);
            }
        }
        "multiport" => {
            let p = rule_proto(rule)
                .ok_or("multiport needs `-p tcp`, `udp`, `sctp`, `dccp` or `udplite`")?;
            for o in &m.options {
                let Value::Ports(list) = &o.value else {
                    return Err("multiport ports not understood".into());
                };
                let op = if o.negated { "!= " } else { "" };
                let pn = proto_number(p);
                match o.name.as_str() {
                    "--sports" | "--dports" => {
                        let dir = if o.name == "--sports" {
                            "sport"
                        } else {
                            "dport"
                        };
                        if list.len() == 1 {
                            push(&mut out, port_expr(p, dir, &list[0], o.negated));
                        } else {
                            let items: Vec<String> = list.iter().map(port_text).collect();
                            let mut e = Expr::plain(format!(
                                "{} {op}{{ {} }}",
                                port_sel(p, dir),
                                items.join(", ")
                            ));
                            e.implies = Some(pn);
                            push(&mut out, e);
                        }
                    }
                    _ => {
                        let mut items = Vec::new();
                        for r in list {
                            items.push(format!("0-65535 . {}", port_text(r)));
                            items.push(format!("{} . 0-65535", port_text(r)));
                        }
                        let mut e = Expr::plain(format!(
                            "{} . {} {op}{{ {} }}",
                            port_sel(p, "sport"),
                            port_sel(p, "dport"),
                            items.join(", ")
                        ));
                        e.implies = Some(pn);
                        push(&mut out, e);
                    }
                }
            }
        }
        "state" | "conntrack" => return conntrack(m, fam),
        "mark" => {
            for o in &m.options {
                if let Value::Mark(mm) = &o.value {
                    push(&mut out, mark_expr("meta mark", mm, o.negated));
                }
            }
        }
        "connmark" => {
            for o in &m.options {
                if let Value::Mark(mm) = &o.value {
                    push(&mut out, mark_expr("ct mark", mm, o.negated));
                }
            }
        }
        "limit" => {
            let rate = m
                .options
                .iter()
                .find(|o| o.name == "--limit")
                .map(opt_text)
                .unwrap_or("3/hour");
            let burst = match m.options.iter().find(|o| o.name == "--limit-burst") {
                Some(MatchOption {
                    value: Value::Number(n),
                    ..
                }) => *n,
                Some(_) => return Err("`--limit-burst` not understood".into()),
                None => 5,
            };
            if m.options.iter().any(|o| o.negated) {
                return Err("a negated limit has no exact nft form".into());
            }
            let (n, unit) = limit_rate(rate)?;
            let mut e = Expr::plain(if burst == 0 {
                format!("limit rate {n}/{unit}")
            } else {
                format!("limit rate {n}/{unit} burst {burst} packets")
            });
            e.stateful = true;
            push(&mut out, e);
        }
        "addrtype" => {
            let iface = if m.options.iter().any(|o| o.name == "--limit-iface-in") {
                " . iif"
            } else if m.options.iter().any(|o| o.name == "--limit-iface-out") {
                " . oif"
            } else {
                ""
            };
            for o in &m.options {
                let dir = match o.name.as_str() {
                    "--src-type" => "saddr",
                    "--dst-type" => "daddr",
                    _ => continue,
                };
                let Value::Words(types) = &o.value else {
                    return Err("addrtype types not understood".into());
                };
                let names: Vec<String> = types.iter().map(|t| t.to_ascii_lowercase()).collect();
                let op = if o.negated { "!= " } else { "" };
                let set = if names.len() == 1 {
                    names[0].clone()
                } else {
                    format!("{{ {} }}", names.join(", "))
                };
                push(
                    &mut out,
                    Expr::plain(format!("fib {dir}{iface} type {op}{set}")),
                );
            }
        }
        "owner" => {
            for o in &m.options {
                let sel = match o.name.as_str() {
                    "--uid-owner" => "meta skuid",
                    "--gid-owner" => "meta skgid",
                    _ => return Err(format!("owner `{}` has no exact nft form", o.written())),
                };
                if o.negated {
                    // iptables' `! --uid-owner` matches packets without a
                    // socket; nft's `skuid !=` does not.
                    return Err(format!(
                        "`! {}` also matches packets without a socket; nft cannot say that",
                        o.written()
                    ));
                }
                let v = opt_text(o);
                let v = if v.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    v.to_string()
                } else {
                    quoted(v).0
                };
                push(&mut out, Expr::plain(format!("{sel} {v}")));
            }
        }
        "set" => return ipset_match(m, scope),
        "statistic" => {
            let mode = m.options.iter().find(|o| o.name == "--mode").map(opt_text);
            let negated = m.options.iter().any(|o| o.negated);
            match mode {
                Some("random") => {
                    let p = m
                        .options
                        .iter()
                        .find(|o| o.name == "--probability")
                        .map(opt_text)
                        .ok_or("statistic random needs `--probability`")?;
                    let fixed = probability_fixed(p)?;
                    let op = if negated { ">=" } else { "<" };
                    let mut e = Expr::plain(format!("meta random & 2147483647 {op} {fixed}"));
                    e.stateful = true;
                    push(&mut out, e);
                }
                Some("nth") => {
                    let num = |name: &str| {
                        m.options
                            .iter()
                            .find(|o| o.name == name)
                            .and_then(|o| match o.value {
                                Value::Number(n) => Some(n),
                                _ => None,
                            })
                    };
                    let every = num("--every").ok_or("statistic nth needs `--every`")?;
                    let packet = num("--packet").unwrap_or(0);
                    if every == 0 || packet >= every {
                        return Err("statistic nth: `--packet` must be below `--every`".into());
                    }
                    let op = if negated { "!= " } else { "" };
                    let mut e = Expr::plain(format!("numgen inc mod {every} {op}{packet}"));
                    e.stateful = true;
                    push(&mut out, e);
                }
                _ => return Err("statistic mode not understood".into()),
            }
        }
        "iprange" => {
            let mut opts: Vec<&MatchOption> = m.options.iter().collect();
            opts.sort_by_key(|o| o.name != "--src-range");
            for o in opts {
                let dir = if o.name == "--src-range" {
                    "saddr"
                } else {
                    "daddr"
                };
                let Value::AddrRange(range) = &o.value else {
                    return Err("iprange not understood".into());
                };
                let AddrRange { lo, hi } = &**range;
                let op = if o.negated { "!= " } else { "" };
                push(
                    &mut out,
                    Expr::plain(format!("{} {op}{lo}-{hi}", addr_selector(fam, dir))),
                );
            }
        }
        "length" => {
            for o in &m.options {
                let Value::Range(r) = &o.value else {
                    return Err("length not understood".into());
                };
                let op = if o.negated { "!= " } else { "" };
                let v = if r.lo == r.hi {
                    r.lo.to_string()
                } else {
                    format!("{}-{}", r.lo, r.hi.min(65535))
                };
                push(&mut out, Expr::plain(format!("meta length {op}{v}")));
            }
        }
        "ttl" | "hl" => {
            let sel = if m.module == "ttl" {
                "ip ttl"
            } else {
                "ip6 hoplimit"
            };
            for o in &m.options {
                let Value::Number(n) = o.value else {
                    return Err("ttl not understood".into());
                };
                let op = match (o.name.as_str(), o.negated) {
                    (n, false) if n.ends_with("-eq") => "==",
                    (n, true) if n.ends_with("-eq") => "!=",
                    (n, false) if n.ends_with("-gt") => ">",
                    (n, false) if n.ends_with("-lt") => "<",
                    _ => return Err("negated ttl comparison".into()),
                };
                push(&mut out, Expr::plain(format!("{sel} {op} {n}")));
            }
        }
        "dscp" => {
            let sel = if fam == Family::Ipv4 {
                "ip dscp"
            } else {
                "ip6 dscp"
            };
            for o in &m.options {
                let v = match (&o.value, o.name.as_str()) {
                    (Value::Number(n), _) => *n,
                    (_, "--dscp-class") => dscp_class(opt_text(o))?,
                    _ => return Err("dscp not understood".into()),
                };
                let op = if o.negated { "!= " } else { "" };
                push(&mut out, Expr::plain(format!("{sel} {op}{v:#x}")));
            }
        }
        "pkttype" => {
            for o in &m.options {
                let t = match opt_text(o).to_ascii_lowercase().as_str() {
                    "unicast" | "host" => "host",
                    "broadcast" => "broadcast",
                    "multicast" => "multicast",
                    "otherhost" => "other",
                    other => return Err(format!("packet type `{other}` is not known")),
                };
                let op = if o.negated { "!= " } else { "" };
                push(&mut out, Expr::plain(format!("meta pkttype {op}{t}")));
            }
        }
        "mac" => {
            for o in &m.options {
                let op = if o.negated { "!= " } else { "" };
                push(
                    &mut out,
                    Expr::plain(format!(
                        "ether saddr {op}{}",
                        opt_text(o).to_ascii_lowercase()
                    )),
                );
            }
        }
        "recent" => {
            return Err(
                "`-m recent` forgets the oldest of its 200 addresses per list \
                 (ip_list_tot) and counts hits per address; an nft set does neither, \
                 so no translation is exact"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "match `-m {other}` has no exact nft translation in iptlint"
            ));
        }
    }
    Ok(out)
}

/// What an L4 match without options still tests: iptables' tcp, udp, sctp,
/// dccp and icmp matches never match a later fragment. In the nat table no
/// fragment arrives (conntrack reassembles first), elsewhere IPv4 says it
/// with the fragment offset; IPv6 would need an "or" over the fragment
/// header.
fn first_fragment_only(scope: &Scope<'_>) -> Result<Option<Expr>, String> {
    if scope.table == TableName::Nat {
        return Ok(None);
    }
    match scope.family {
        Family::Ipv4 => Ok(Some(Expr::plain("ip frag-off & 0x1fff == 0".into()))),
        Family::Ipv6 => Err(
            "an L4 match without options also refuses later IPv6 fragments; nft cannot say \
             that in one rule"
                .into(),
        ),
    }
}

/// A few matches iptlint's model keeps raw, read from their words: each
/// has an nft selector that tests the same thing.
fn unmodelled_match(m: &Match) -> Result<Expr, String> {
    let refuse = || format!("match `-m {}` is not modelled by iptlint", m.module);
    let mut parts = Vec::new();
    for o in &m.options {
        let w = opt_words(o);
        let [value] = w.as_slice() else {
            return Err(refuse());
        };
        let sel = match (m.module.as_str(), o.name.as_str()) {
            ("esp", "--espspi") => "esp spi",
            ("ah", "--ahspi") => "ah spi",
            ("cpu", "--cpu") => "meta cpu",
            ("devgroup", "--src-group") => "meta iifgroup",
            ("devgroup", "--dst-group") => "meta oifgroup",
            _ => return Err(refuse()),
        };
        // A number, a range `a:b`, or (devgroup) `value/mask`.
        let (v, mask) = match value.split_once('/') {
            Some((v, mk)) if m.module == "devgroup" => (v, Some(crate::model::parse_u32(mk)?)),
            _ => (*value, None),
        };
        let range = match v.split_once(':') {
            Some((a, b)) => format!(
                "{}-{}",
                crate::model::parse_u32(a)?,
                crate::model::parse_u32(b)?
            ),
            None => crate::model::parse_u32(v)?.to_string(),
        };
        let op = if o.negated { "!=" } else { "==" };
        parts.push(match mask {
            Some(mk) => format!("{sel} & {mk:#x} {op} {range}"),
            None if o.negated => format!("{sel} != {range}"),
            None => format!("{sel} {range}"),
        });
    }
    if parts.is_empty() {
        return Err(refuse());
    }
    Ok(Expr::plain(parts.join(" ")))
}

fn tcp_flags(list: &str) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    for f in list.split(',') {
        let names: &[&'static str] = match f.to_ascii_uppercase().as_str() {
            "FIN" => &["fin"],
            "SYN" => &["syn"],
            "RST" => &["rst"],
            "PSH" => &["psh"],
            "ACK" => &["ack"],
            "URG" => &["urg"],
            "ALL" => &["fin", "syn", "rst", "psh", "ack", "urg"],
            "NONE" => &[],
            _ => return Err(format!("TCP flag `{f}` is not known")),
        };
        for n in names {
            if !out.contains(n) {
                out.push(*n);
            }
        }
    }
    Ok(out)
}

pub(super) fn flags_expr(mask: &[&str], comp: &[&str], negated: bool) -> Expr {
    let op = if negated { "!=" } else { "==" };
    let comp: Vec<&str> = comp.iter().copied().filter(|f| mask.contains(f)).collect();
    let mask_text = if mask.is_empty() {
        "0x0".to_string()
    } else {
        format!("({})", mask.join("|"))
    };
    let comp_text = if comp.is_empty() {
        "0x0".to_string()
    } else {
        comp.join("|")
    };
    let mut e = Expr::plain(format!("tcp flags & {mask_text} {op} {comp_text}"));
    e.implies = Some(6);
    e
}

/// `N/unit` as iptables reads it (the unit may be abbreviated).
fn limit_rate(text: &str) -> Result<(u32, &'static str), String> {
    let (n, unit) = text.split_once('/').unwrap_or((text, "second"));
    let n: u32 = n
        .parse()
        .map_err(|_| format!("limit rate `{text}` not understood"))?;
    let u = unit.to_ascii_lowercase();
    let unit = if !u.is_empty() && "second".starts_with(&u) || u == "sec" {
        "second"
    } else if !u.is_empty() && "minute".starts_with(&u) || u == "min" {
        "minute"
    } else if !u.is_empty() && "hour".starts_with(&u) {
        "hour"
    } else if !u.is_empty() && "day".starts_with(&u) {
        "day"
    } else {
        return Err(format!("limit unit `{unit}` not understood"));
    };
    Ok((n, unit))
}

/// The probability as the kernel keeps it: `lround(2^31 * p)`.
pub fn probability_fixed(text: &str) -> Result<u64, String> {
    let p: f64 = text
        .parse()
        .map_err(|_| format!("probability `{text}` not understood"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("probability `{text}` is not between 0 and 1"));
    }
    Ok((2147483648.0 * p).round() as u64)
}

fn dscp_class(name: &str) -> Result<u32, String> {
    let n = name.to_ascii_uppercase();
    let v = match n.as_str() {
        "EF" => 46,
        "BE" | "CS0" => 0,
        _ if n.starts_with("CS") && n.len() == 3 => {
            let d = n[2..]
                .parse::<u32>()
                .map_err(|_| "dscp class".to_string())?;
            d * 8
        }
        _ if n.starts_with("AF") && n.len() == 4 => {
            let c = n[2..3]
                .parse::<u32>()
                .map_err(|_| "dscp class".to_string())?;
            let d = n[3..4]
                .parse::<u32>()
                .map_err(|_| "dscp class".to_string())?;
            c * 8 + d * 2
        }
        _ => return Err(format!("DSCP class `{name}` is not known")),
    };
    Ok(v)
}

fn state_name(s: CtState) -> &'static str {
    match s {
        CtState::Invalid => "invalid",
        CtState::New => "new",
        CtState::Established => "established",
        CtState::Related => "related",
        CtState::Untracked => "untracked",
        CtState::Snat => "snat",
        CtState::Dnat => "dnat",
    }
}

/// `-m state` and `-m conntrack`. `--ctstate` mixes conntrack states with
/// the SNAT/DNAT status bits, an "or" of two nft selectors: it becomes
/// disjoint cases. A packet without a conntrack entry has state `invalid`
/// or `untracked` in both worlds, and no status at all in nft.
fn conntrack(m: &Match, fam: Family) -> Result<Cases, String> {
    let mut others: Vec<Expr> = Vec::new();
    let mut state: Option<(Vec<&str>, Vec<&str>, bool)> = None;
    // The protocol first: nft needs it before the port selectors.
    // iptables-translate's order (the protocol before the ports, as nft needs).
    const ORDER: &[&str] = &[
        "--ctdir",
        "--ctproto",
        "--state",
        "--ctstate",
        "--ctstatus",
        "--ctexpire",
        "--ctorigsrc",
        "--ctorigdst",
        "--ctreplsrc",
        "--ctrepldst",
        "--ctorigsrcport",
        "--ctorigdstport",
        "--ctreplsrcport",
        "--ctrepldstport",
    ];
    let mut ordered: Vec<&MatchOption> = m.options.iter().collect();
    ordered.sort_by_key(|o| {
        ORDER
            .iter()
            .position(|n| *n == o.name)
            .unwrap_or(ORDER.len())
    });
    let mut state_at = 0;
    for o in ordered {
        if matches!(o.name.as_str(), "--state" | "--ctstate") {
            state_at = others.len();
        }
        let op = if o.negated { "!= " } else { "" };
        match (o.name.as_str(), &o.value) {
            ("--state" | "--ctstate", Value::States(list)) => {
                let (nat, st): (Vec<CtState>, Vec<CtState>) = list
                    .iter()
                    .partition(|s| matches!(s, CtState::Snat | CtState::Dnat));
                state = Some((
                    st.into_iter().map(state_name).collect(),
                    nat.into_iter().map(state_name).collect(),
                    o.negated,
                ));
            }
            ("--ctproto", _) => {
                let p = crate::model::Protocol::parse(opt_text(o))?;
                let n = p.number.ok_or("`--ctproto` protocol not known")?;
                others.push(Expr::plain(format!("ct original protocol {op}{n}")));
            }
            ("--ctorigsrc" | "--ctorigdst" | "--ctreplsrc" | "--ctrepldst", Value::Net(n)) => {
                let dir = if o.name.contains("orig") {
                    "original"
                } else {
                    "reply"
                };
                let which = if o.name.ends_with("src") {
                    "saddr"
                } else {
                    "daddr"
                };
                let l3 = if fam == Family::Ipv4 { "ip" } else { "ip6" };
                let value = match n.prefix_len() {
                    Some(len) if len == n.bits() => n.addr.to_string(),
                    Some(len) => format!("{}/{len}", addr_from(fam, n.addr_u128() & n.mask())),
                    None => return Err("conntrack address with a non-prefix mask".into()),
                };
                others.push(Expr::plain(format!("ct {dir} {l3} {which} {op}{value}")));
            }
            (
                "--ctorigsrcport" | "--ctorigdstport" | "--ctreplsrcport" | "--ctrepldstport",
                Value::Ports(r),
            ) if r.len() == 1 => {
                if !m
                    .options
                    .iter()
                    .any(|o| o.name == "--ctproto" && !o.negated)
                {
                    return Err(
                        "conntrack ports without `--ctproto`: nft needs the protocol".into(),
                    );
                }
                let dir = if o.name.contains("orig") {
                    "original"
                } else {
                    "reply"
                };
                let which = if o.name.contains("src") {
                    "proto-src"
                } else {
                    "proto-dst"
                };
                others.push(Expr::plain(format!(
                    "ct {dir} {which} {op}{}",
                    port_text(&r[0])
                )));
            }
            ("--ctstatus", Value::Words(words)) => {
                if words.iter().any(|w| w == "NONE") {
                    return Err("`--ctstatus NONE` has no nft form".into());
                }
                let names: Vec<String> = words
                    .iter()
                    .map(|w| w.to_ascii_lowercase().replace('_', "-"))
                    .collect();
                let neg = if o.negated { "! " } else { "" };
                others.push(Expr::plain(format!("ct status {neg}{}", names.join(","))));
            }
            ("--ctexpire", Value::Range(r)) => {
                let v = if r.lo == r.hi {
                    format!("{}s", r.lo)
                } else {
                    format!("{}s-{}s", r.lo, r.hi)
                };
                others.push(Expr::plain(format!("ct expiration {op}{v}")));
            }
            ("--ctdir", _) => {
                if o.negated {
                    return Err("negated `--ctdir`".into());
                }
                others.push(Expr::plain(format!(
                    "ct direction {}",
                    opt_text(o).to_ascii_lowercase()
                )));
            }
            _ => return Err(format!("conntrack `{}` has no exact nft form", o.written())),
        }
    }
    let needs_entry = !others.is_empty();
    let Some((st, nat, negated)) = state else {
        return Ok(vec![others]);
    };
    let st_list = st.join(",");
    let nat_list = nat.join(",");
    let mut cases: Cases = Vec::new();
    let with = |mut base: Vec<Expr>, more: &[String]| {
        let tail = base.split_off(state_at);
        base.extend(more.iter().map(|t| Expr::plain(t.clone())));
        base.extend(tail);
        base
    };
    match (negated, st.is_empty(), nat.is_empty()) {
        (_, true, true) => return Err("empty `--ctstate`".into()),
        (false, false, true) => cases.push(with(others, &[format!("ct state {st_list}")])),
        (true, false, true) => cases.push(with(others, &[format!("ct state ! {st_list}")])),
        (false, true, false) => cases.push(with(others, &[format!("ct status {nat_list}")])),
        (false, false, false) => {
            cases.push(with(others.clone(), &[format!("ct state {st_list}")]));
            cases.push(with(
                others,
                &[
                    format!("ct state ! {st_list}"),
                    format!("ct status {nat_list}"),
                ],
            ));
        }
        (true, _, false) => {
            let mut tail = Vec::new();
            if !st.is_empty() {
                tail.push(format!("ct state ! {st_list}"));
            }
            let mut with_entry = tail.clone();
            with_entry.push(format!("ct status ! {nat_list}"));
            cases.push(with(others.clone(), &with_entry));
            if !needs_entry {
                // No conntrack entry: no status bit is set.
                let mut without = vec!["ct state invalid,untracked".to_string()];
                without.extend(tail);
                cases.push(with(others, &without));
            }
        }
    }
    Ok(cases)
}

fn ipset_match(m: &Match, scope: &Scope<'_>) -> Result<Cases, String> {
    let Some(file) = scope.ipsets else {
        return Err(
            "`-m set` needs the ipset definitions: give `--ipsets FILE` (an `ipset save`)".into(),
        );
    };
    let mut out = Vec::new();
    for o in &m.options {
        match o.name.as_str() {
            "--match-set" => {
                let w = opt_words(o);
                if w.len() != 2 {
                    return Err("`--match-set` needs a set name and directions".into());
                }
                let set = file
                    .get(w[0])
                    .ok_or_else(|| format!("set `{}` is not in the --ipsets file", w[0]))?;
                let dirs: Vec<&str> = w[1].split(',').collect();
                let key = set.selector(scope.family, &dirs)?;
                let op = if o.negated { "!= " } else { "" };
                out.push(Expr::plain(format!(
                    "{key} {op}@{}",
                    scope.set_names.get(w[0])
                )));
            }
            _ => return Err(format!("set `{}` has no exact nft form", o.written())),
        }
    }
    Ok(vec![out])
}

/// The statements and the verdict of the rule's target.
fn translate_target(
    rule: &Rule,
    scope: &Scope<'_>,
    proto: Option<(u8, bool)>,
    notes: &mut Notes,
) -> Result<(Vec<String>, Option<Verdict>), String> {
    let Some(t) = &rule.target else {
        return Ok((Vec::new(), None));
    };
    let fam = scope.family;
    let flag = |name: &str| t.options.iter().any(|o| o.name == name);
    let l4_known = matches!(proto, Some((6 | 17 | 132 | 33 | 136, false)));
    let verdict = match &t.kind {
        TargetKind::Accept => Verdict::Accept,
        TargetKind::Drop => Verdict::Drop,
        TargetKind::Return => Verdict::Return,
        TargetKind::Queue => Verdict::Terminal("queue num 0".into()),
        TargetKind::Chain => {
            let name = &t.name;
            // iptables-restore --test lets this pass; a real load refuses
            // the dump ("Chain 'X' does not exist"), and nft the script.
            if !scope.chains.contains(name) {
                return Err(format!(
                    "it jumps to chain `{name}`, which the table does not have (the kernel refuses the dump)"
                ));
            }
            let n = scope.chains.get(name).to_string();
            match t.jump {
                JumpKind::Jump => Verdict::Jump(n),
                JumpKind::Goto => Verdict::Goto(n),
            }
        }
        TargetKind::Other if t.name == "DSCP" => {
            let sel = if fam == Family::Ipv4 {
                "ip dscp"
            } else {
                "ip6 dscp"
            };
            let [o] = t.options.as_slice() else {
                return Err("DSCP needs one of `--set-dscp`, `--set-dscp-class`".into());
            };
            let v = match o.name.as_str() {
                "--set-dscp" => crate::model::parse_u32(opt_text(o))?,
                "--set-dscp-class" => dscp_class(opt_text(o))?,
                _ => return Err(format!("DSCP `{}` not understood", o.written())),
            };
            if v > 63 {
                return Err("a DSCP value above 63".into());
            }
            return Ok((vec![format!("{sel} set {v:#x}")], None));
        }
        TargetKind::Other if t.name == "TEE" => {
            if scope.table != TableName::Mangle {
                return Err("TEE outside the mangle table: the kernel refuses the rule".into());
            }
            return Ok((vec![super::ext::tee(t, fam)?], None));
        }
        TargetKind::Other if t.name == "TOS" => return Ok((super::ext::tos(t, scope)?, None)),
        TargetKind::Other => {
            return Err(format!("target `{}` is not modelled by iptlint", t.name));
        }
        TargetKind::Extension => match t.name.as_str() {
            "REJECT" => Verdict::Terminal(reject(t, fam)?),
            "DNAT" | "SNAT" => {
                let opt = if t.name == "DNAT" {
                    "--to-destination"
                } else {
                    "--to-source"
                };
                let Some(Value::Nat(range)) = t.option(opt).map(|o| &o.value) else {
                    return Err(format!("{} without `{opt}`", t.name));
                };
                let range = range.range();
                if t.options.iter().filter(|o| o.name == opt).count() > 1 {
                    return Err(format!("several `{opt}`").to_string());
                }
                // Only a port map's `/BASE` puts a `/` in the value; nft has
                // no shifted port map.
                if t.option(opt)
                    .is_some_and(|o| o.words.iter().any(|w| w.text.contains('/')))
                {
                    return Err("a shifted port map (`PORTS/BASE`) has no nft form".into());
                }
                let addrs = range.addrs.ok_or("NAT without an address")?;
                if range.ports.is_some() && !l4_known {
                    return Err("NAT ports need `-p tcp`, `udp`, `sctp` or `dccp`".into());
                }
                let a = if addrs.lo == addrs.hi {
                    addrs.lo.to_string()
                } else {
                    format!("{}-{}", addrs.lo, addrs.hi)
                };
                if fam == Family::Ipv6 && range.ports.is_some() && addrs.lo != addrs.hi {
                    return Err(
                        "an IPv6 address range with ports cannot be written in nft 1.0.6".into(),
                    );
                }
                let mut to = match (fam, range.ports) {
                    (Family::Ipv6, Some(_)) => format!("[{a}]"),
                    _ => a,
                };
                if let Some(p) = range.ports {
                    to.push(':');
                    to.push_str(&port_text(&p));
                }
                let kw = if t.name == "DNAT" { "dnat" } else { "snat" };
                Verdict::Terminal(format!("{kw} to {to}{}", nat_flags(&flag)))
            }
            "MASQUERADE" | "REDIRECT" => {
                let kw = if t.name == "MASQUERADE" {
                    "masquerade"
                } else {
                    "redirect"
                };
                let mut text = kw.to_string();
                if let Some(o) = t.option("--to-ports") {
                    if !l4_known {
                        return Err("`--to-ports` needs `-p tcp`, `udp`, `sctp` or `dccp`".into());
                    }
                    let ports = opt_text(o);
                    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
                    let a: u16 = a.parse().map_err(|_| "`--to-ports` not understood")?;
                    let b: u16 = b.parse().map_err(|_| "`--to-ports` not understood")?;
                    text.push_str(&format!(" to :{}", port_text(&PortRange { lo: a, hi: b })));
                }
                text.push_str(&nat_flags(&flag));
                Verdict::Terminal(text)
            }
            "LOG" => {
                let mut s = "log".to_string();
                if let Some(o) = t.option("--log-prefix") {
                    let (q, changed) = quoted(opt_text(o));
                    if changed {
                        return Err("a `\"` in the log prefix cannot be written in nft".into());
                    }
                    s.push_str(&format!(" prefix {q}"));
                }
                if let Some(o) = t.option("--log-level") {
                    s.push_str(&format!(" level {}", log_level(opt_text(o))?));
                }
                let mut tcp = Vec::new();
                if flag("--log-tcp-sequence") {
                    tcp.push("sequence");
                }
                if flag("--log-tcp-options") {
                    tcp.push("options");
                }
                if !tcp.is_empty() {
                    s.push_str(&format!(" flags tcp {}", tcp.join(",")));
                }
                if flag("--log-ip-options") {
                    s.push_str(" flags ip options");
                }
                if flag("--log-uid") {
                    s.push_str(" flags skuid");
                }
                if flag("--log-macdecode") {
                    s.push_str(" flags ether");
                }
                return Ok((vec![s], None));
            }
            "NFLOG" => {
                let mut s = "log".to_string();
                if let Some(o) = t.option("--nflog-prefix") {
                    let (q, changed) = quoted(opt_text(o));
                    if changed {
                        return Err("a `\"` in the log prefix cannot be written in nft".into());
                    }
                    s.push_str(&format!(" prefix {q}"));
                }
                let num = |name: &str| match t.option(name).map(|o| &o.value) {
                    Some(Value::Number(n)) => Some(*n),
                    _ => None,
                };
                s.push_str(&format!(" group {}", num("--nflog-group").unwrap_or(0)));
                if let Some(n) = num("--nflog-size") {
                    s.push_str(&format!(" snaplen {n}"));
                }
                if let Some(n) = num("--nflog-threshold") {
                    s.push_str(&format!(" queue-threshold {n}"));
                }
                // `--nflog-range` alone is ignored by the kernel (no COPY_LEN flag).
                return Ok((vec![s], None));
            }
            "MARK" | "CONNMARK" => {
                let sel = if t.name == "MARK" {
                    "meta mark"
                } else {
                    "ct mark"
                };
                return Ok((vec![mark_target(t, sel)?], None));
            }
            "NOTRACK" => return Ok((vec!["notrack".into()], None)),
            "CT" => {
                let mut stmts = Vec::new();
                for o in &t.options {
                    match o.name.as_str() {
                        "--notrack" => stmts.push("notrack".to_string()),
                        "--zone" if opt_text(o).bytes().all(|b| b.is_ascii_digit()) => {
                            stmts.push(format!("ct zone set {}", opt_text(o)))
                        }
                        _ => return Err(format!("CT `{}` has no exact nft form", o.written())),
                    }
                }
                return Ok((stmts, None));
            }
            "CLASSIFY" => {
                let c = t.option("--set-class").map(opt_text).unwrap_or("");
                return Ok((vec![format!("meta priority set {c}")], None));
            }
            "TRACE" => return Ok((vec!["meta nftrace set 1".into()], None)),
            "TCPMSS" => {
                return Err(
                    "TCPMSS adds an MSS option to a SYN that has none (536 or 1220 at \
                     most); nft's `tcp option maxseg size set` only rewrites one that \
                     is there"
                        .into(),
                );
            }
            // Both run the same audit record code (`mark=`, addresses,
            // protocol); `--type` has been ignored by the kernel since 4.12.
            "AUDIT" => return Ok((vec!["log level audit".into()], None)),
            "NFQUEUE" => {
                let mut text = "queue".to_string();
                let mut flags = Vec::new();
                if flag("--queue-bypass") {
                    flags.push("bypass");
                }
                if flag("--queue-cpu-fanout") {
                    flags.push("fanout");
                }
                if flag("--fail-open") {
                    return Err("`--fail-open` has no nft form".into());
                }
                let num = match (t.option("--queue-balance"), t.option("--queue-num")) {
                    (
                        Some(MatchOption {
                            value: Value::Range(r),
                            ..
                        }),
                        _,
                    ) => {
                        format!("{}-{}", r.lo, r.hi)
                    }
                    (
                        _,
                        Some(MatchOption {
                            value: Value::Number(n),
                            ..
                        }),
                    ) => n.to_string(),
                    _ => "0".to_string(),
                };
                text.push_str(&format!(" num {num}"));
                if !flags.is_empty() {
                    text.push(' ');
                    text.push_str(&flags.join(","));
                }
                Verdict::Terminal(text)
            }
            other => {
                return Err(format!(
                    "target `{other}` has no exact nft translation in iptlint"
                ));
            }
        },
    };
    let _ = notes;
    Ok((Vec::new(), Some(verdict)))
}

fn nat_flags(flag: &dyn Fn(&str) -> bool) -> String {
    let mut f = Vec::new();
    if flag("--random") {
        f.push("random");
    }
    if flag("--random-fully") {
        f.push("fully-random");
    }
    if flag("--persistent") {
        f.push("persistent");
    }
    if f.is_empty() {
        String::new()
    } else {
        format!(" {}", f.join(","))
    }
}

fn reject(t: &Target, fam: Family) -> Result<String, String> {
    let Some(o) = t.option("--reject-with") else {
        return Ok("reject".into());
    };
    let typed = opt_text(o).to_ascii_lowercase();
    let table: &[(&str, &str, &str)] = if fam == Family::Ipv4 {
        &[
            (
                "icmp-net-unreachable",
                "net-unreach",
                "with icmp type net-unreachable",
            ),
            (
                "icmp-host-unreachable",
                "host-unreach",
                "with icmp type host-unreachable",
            ),
            (
                "icmp-port-unreachable",
                "port-unreach",
                "with icmp type port-unreachable",
            ),
            (
                "icmp-proto-unreachable",
                "proto-unreach",
                "with icmp type prot-unreachable",
            ),
            (
                "icmp-net-prohibited",
                "net-prohib",
                "with icmp type net-prohibited",
            ),
            (
                "icmp-host-prohibited",
                "host-prohib",
                "with icmp type host-prohibited",
            ),
            (
                "icmp-admin-prohibited",
                "admin-prohib",
                "with icmp type admin-prohibited",
            ),
            ("tcp-reset", "tcp-rst", "with tcp reset"),
        ]
    } else {
        &[
            ("icmp6-no-route", "no-route", "with icmpv6 type no-route"),
            (
                "icmp6-adm-prohibited",
                "adm-prohibited",
                "with icmpv6 type admin-prohibited",
            ),
            (
                "icmp6-addr-unreachable",
                "addr-unreach",
                "with icmpv6 type addr-unreachable",
            ),
            (
                "icmp6-port-unreachable",
                "port-unreach",
                "with icmpv6 type port-unreachable",
            ),
            (
                "icmp6-policy-fail",
                "policy-fail",
                "with icmpv6 type policy-fail",
            ),
            (
                "icmp6-reject-route",
                "reject-route",
                "with icmpv6 type reject-route",
            ),
            ("tcp-reset", "tcp-rst", "with tcp reset"),
        ]
    };
    // iptables takes the first entry the word abbreviates.
    let hit = table
        .iter()
        .find(|(full, alias, _)| full.starts_with(&typed) || alias.starts_with(&typed))
        .ok_or_else(|| format!("reject type `{typed}` is not known"))?;
    Ok(format!("reject {}", hit.2))
}

fn log_level(text: &str) -> Result<&'static str, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "0" | "emerg" | "panic" => "emerg",
        "1" | "alert" => "alert",
        "2" | "crit" => "crit",
        "3" | "err" | "error" => "err",
        "4" | "warning" | "warn" => "warn",
        "5" | "notice" => "notice",
        "6" | "info" => "info",
        "7" | "debug" => "debug",
        _ => return Err(format!("log level `{text}` is not known")),
    })
}

/// MARK and CONNMARK: `x = (x & and) ^ xor` in every form.
fn mark_target(t: &Target, sel: &str) -> Result<String, String> {
    let mut out: Option<String> = None;
    for o in &t.options {
        let mm = match &o.value {
            Value::Mark(mm) => Some(*mm),
            Value::Number(n) => Some(MarkMask {
                value: *n,
                mask: u32::MAX,
            }),
            _ => None,
        };
        let (and, xor) = match (o.name.as_str(), mm) {
            ("--set-xmark", Some(m)) => (!m.mask, m.value),
            ("--set-mark", Some(m)) => (!(m.mask | m.value), m.value),
            ("--and-mark", Some(m)) => (m.value, 0),
            ("--or-mark", Some(m)) => (!m.value, m.value),
            ("--xor-mark", Some(m)) => (u32::MAX, m.value),
            ("--save-mark" | "--restore-mark", _) => {
                let masks_full = t
                    .options
                    .iter()
                    .filter(|o| matches!(o.name.as_str(), "--mask" | "--nfmask" | "--ctmask"))
                    .all(|o| matches!(o.value, Value::Number(u32::MAX)));
                if !masks_full {
                    return Err("CONNMARK save/restore with masks has no nft form".into());
                }
                out = Some(if o.name == "--save-mark" {
                    "ct mark set meta mark".into()
                } else {
                    "meta mark set ct mark".into()
                });
                continue;
            }
            ("--mask" | "--nfmask" | "--ctmask", _) => continue,
            _ => return Err(format!("`{}` has no exact nft form", o.written())),
        };
        let expr = if and == 0 {
            format!("{sel} set {xor:#x}")
        } else if xor == 0 && and == u32::MAX {
            format!("{sel} set {sel}")
        } else if xor == 0 {
            format!("{sel} set {sel} & {and:#x}")
        } else if and == u32::MAX {
            format!("{sel} set {sel} ^ {xor:#x}")
        } else if and == !xor {
            format!("{sel} set {sel} | {xor:#x}")
        } else {
            format!("{sel} set {sel} & {and:#x} ^ {xor:#x}")
        };
        out = Some(expr);
    }
    out.ok_or_else(|| format!("{} without an operation", t.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(name: &str) -> String {
        iface("iifname", name, false).unwrap().unwrap().text
    }

    #[test]
    fn interface_wildcards_and_literal_asterisks() {
        assert_eq!(pattern("eth0"), "iifname \"eth0\"");
        assert_eq!(pattern("eth+"), "iifname \"eth*\"");
        // nft stores an inner `*` as it is, and reads a last one as the wildcard.
        assert_eq!(pattern("eth*foo"), "iifname \"eth*foo\"");
        assert_eq!(pattern("eth*"), "iifname \"eth\\*\"");
        assert_eq!(pattern("eth*foo*+"), "iifname \"eth*foo**\"");
        assert!(iface("iifname", "+", false).unwrap().is_none());
        assert!(iface("iifname", "+", true).is_err());
    }

    #[test]
    fn kernel_probabilities() {
        assert_eq!(probability_fixed("0.33333333349").unwrap(), 715827883);
        assert_eq!(probability_fixed("0.50000000000").unwrap(), 1 << 30);
        assert!(probability_fixed("1.5").is_err());
    }
}
