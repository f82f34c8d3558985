//! One nft rule → iptables rules with the same meaning, as words.
//!
//! | nft | iptables |
//! |---|---|
//! | `ip saddr A`, `!= A`, `& M == A` | `-s A`, `! -s A`, `-s A/M` |
//! | `ip saddr a-b` | `-m iprange --src-range a-b` |
//! | `meta l4proto P`, `ip protocol P` | `-p P` |
//! | `tcp dport 22`, `udp sport 1-9`, `th dport` (with a protocol) | `-p tcp -m tcp --dport 22`, ... |
//! | `tcp dport { 80, 443 }` (at most 15 ports) | `-m multiport --dports 80,443` |
//! | `iifname "eth*"` | `-i eth+` |
//! | `ct state a,b`, `ct state ! a` | `-m conntrack [!] --ctstate A,B` |
//! | `ct status dnat` / `! dnat` | `--ctstate DNAT` / `! --ctstate INVALID,UNTRACKED` and `! --ctstate DNAT` |
//! | `ct status assured` | `-m conntrack --ctstatus ASSURED` |
//! | `meta mark & M == V`, `ct mark ...` | `-m mark --mark V/M`, `-m connmark` |
//! | `tcp flags & (a\|b) == c` | `-m tcp --tcp-flags A,B C` |
//! | `fib daddr [. iif] type local` | `-m addrtype --dst-type LOCAL [--limit-iface-in]` |
//! | `icmp type T [icmp code C]` | `-m icmp --icmp-type T[/C]` |
//! | `ip frag-off & 0x1fff == 0` / `!= 0` | `! -f` / `-f` |
//! | `limit rate N/unit burst B packets` | `-m limit --limit N/unit --limit-burst B` |
//! | `meta random & 2147483647 < N` | `-m statistic --mode random --probability N/2^31` |
//! | `numgen ...` | an unknown condition |
//! | accept, drop, return, jump, goto, reject, dnat, snat, masquerade, redirect, notrack, queue, log, meta/ct mark set | the iptables target |
//!
//! A positive anonymous set is one rule per element, a verdict map one rule
//! per element, a negated set one negated match per element; see the module
//! docs of `crate::nft` for when that is refused.

use std::net::IpAddr;

use foldhash::{HashMap, HashSet, HashSetExt};

use crate::diagnostic::Finding;
use crate::model::{AddrRange, Family, Net, Protocol, Span};

use super::{Tok, TokKind, error};

/// One word of generated iptables text and the nft text it stands for.
#[derive(Clone, Debug)]
pub(crate) struct Gw {
    pub text: String,
    pub span: Span,
}

fn gw(text: impl Into<String>, span: Span) -> Gw {
    Gw {
        text: text.into(),
        span,
    }
}

/// One iptables rule: its words after `-A CHAIN`, and the nft text it
/// comes from (the rule, or the element of a verdict map).
#[derive(Debug)]
pub(crate) struct Line {
    pub span: Span,
    pub words: Vec<Gw>,
}

/// What lowering needs to know about the rule's place.
pub(crate) struct Ctx<'a> {
    pub family: Family,
    /// nft chain name → iptables chain name, for this nft table.
    pub chains: &'a HashMap<String, String>,
}

/// A piece of a rule's match words.
#[derive(Clone, Debug)]
enum Part {
    /// `-p`: by name as written, negated or not.
    Proto {
        name: String,
        negated: bool,
        span: Span,
    },
    /// Words that stand alone.
    Words(Vec<Gw>),
    /// Words of a transport match: `module` (None: the rule's protocol,
    /// for `th`), and the protocol the module implies.
    L4 {
        module: Option<&'static str>,
        implies: Option<&'static str>,
        words: Vec<Gw>,
        span: Span,
    },
}

/// One way a condition can hold: its match parts, the key it tests (to
/// check that alternatives are disjoint), and, for a verdict map element,
/// its verdict and span.
#[derive(Clone, Debug, Default)]
struct Alt {
    parts: Vec<Part>,
    key: Vec<KeyComp>,
    verdict: Option<Vec<Gw>>,
    span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyComp {
    Range(u128, u128),
    Iface(String, bool),
}

fn overlap(a: &KeyComp, b: &KeyComp) -> bool {
    match (a, b) {
        (KeyComp::Range(a0, a1), KeyComp::Range(b0, b1)) => a0 <= b1 && b0 <= a1,
        (KeyComp::Iface(a, aw), KeyComp::Iface(b, bw)) => match (aw, bw) {
            (false, false) => a == b,
            (true, false) => b.starts_with(a.as_str()),
            (false, true) => a.starts_with(b.as_str()),
            (true, true) => a.starts_with(b.as_str()) || b.starts_with(a.as_str()),
        },
        _ => true,
    }
}

/// The conditions of one nft expression: one alternative, or several (a
/// set, a map), at least one of which holds.
struct Cond {
    alts: Vec<Alt>,
    /// Draws or counts: evaluating it more than once is not the same.
    stateful: bool,
    /// Tests a field that a non-terminal statement can change (marks,
    /// conntrack state).
    mutable: bool,
    span: Span,
}

impl Cond {
    fn one(parts: Vec<Part>, span: Span) -> Cond {
        Cond {
            alts: vec![Alt {
                parts,
                ..Alt::default()
            }],
            stateful: false,
            mutable: false,
            span,
        }
    }
}

/// A statement that does something and lets the packet go on.
struct Stmt {
    words: Vec<Gw>,
    /// Changes the mark, the connmark or the conntrack state.
    changes: Option<Field>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Mark,
    CtMark,
    CtState,
}

type R<T> = Result<T, Finding>;

struct Cur<'t> {
    toks: &'t [Tok],
    pos: usize,
    end: Span,
}

impl<'t> Cur<'t> {
    fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&'t Tok> {
        self.toks.get(self.pos + n)
    }
    fn next(&mut self) -> Option<&'t Tok> {
        let t = self.toks.get(self.pos);
        self.pos += 1;
        t
    }
    fn at_word(&self, w: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(w))
    }
    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.at_word(w);
        if yes {
            self.pos += 1;
        }
        yes
    }
    fn here(&self) -> Span {
        self.peek().map(|t| t.span).unwrap_or(self.end)
    }
    fn word(&mut self, what: &str) -> R<&'t Tok> {
        match self.peek() {
            Some(t) if matches!(t.kind, TokKind::Word | TokKind::Str) => {
                self.pos += 1;
                Ok(t)
            }
            _ => Err(error(self.here(), format!("expected {what}"))),
        }
    }
    fn expect(&mut self, w: &str) -> R<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(error(self.here(), format!("expected `{w}`")))
        }
    }
    /// The span from token `from` to the last one read.
    fn since(&self, from: usize) -> Span {
        let a = self.toks[from].span;
        let b = self.toks[(self.pos.max(from + 1) - 1).min(self.toks.len() - 1)].span;
        a.to(b)
    }
}

/// What a selector tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sel {
    Addr {
        dst: bool,
    },
    Proto,
    Port {
        l4: Option<&'static str>,
        dst: bool,
    },
    Iface {
        out: bool,
    },
    Mark,
    CtMark,
    CtState,
    CtStatus,
    IcmpType {
        v6: bool,
    },
    TcpFlags,
    FragOff,
    Fib {
        dst: bool,
        iface: Option<bool>,
    },
    Random,
    Numgen,
    PktType,
    /// `ct original|reply ip saddr|daddr`, `protocol`, `proto-src|proto-dst`:
    /// the `--ctorigsrc`... option.
    CtTuple(&'static str),
    /// `meta skuid|skgid`: `--uid-owner`, `--gid-owner`.
    Owner(&'static str),
    /// `ip ttl` (`-m ttl`), `ip6 hoplimit` (`-m hl`).
    HopLimit {
        v6: bool,
    },
}

impl Sel {
    fn mutable(self) -> bool {
        matches!(self, Sel::Mark | Sel::CtMark | Sel::CtState | Sel::CtStatus)
    }
}

/// Reads a selector at the cursor, if there is one.
fn selector(cur: &mut Cur<'_>, family: Family) -> R<Option<(Sel, String)>> {
    let Some(t) = cur.peek() else {
        return Ok(None);
    };
    if !matches!(t.kind, TokKind::Word) {
        return Ok(None);
    }
    let second = cur.peek_at(1).map(|t| t.text.as_str()).unwrap_or("");
    let fam_ok = |f: Family| -> R<()> {
        if f == family {
            Ok(())
        } else {
            Err(error(
                t.span,
                format!("`{}` in a table of the other family", t.text),
            ))
        }
    };
    let (sel, n) = match (t.text.as_str(), second) {
        ("ip", "saddr" | "daddr") | ("ip6", "saddr" | "daddr") => {
            fam_ok(if t.text == "ip" {
                Family::Ipv4
            } else {
                Family::Ipv6
            })?;
            (
                Sel::Addr {
                    dst: second == "daddr",
                },
                2,
            )
        }
        ("ip", "protocol") => {
            fam_ok(Family::Ipv4)?;
            (Sel::Proto, 2)
        }
        ("ip", "frag-off") => {
            fam_ok(Family::Ipv4)?;
            (Sel::FragOff, 2)
        }
        ("ip", "ttl") => {
            fam_ok(Family::Ipv4)?;
            (Sel::HopLimit { v6: false }, 2)
        }
        ("ip6", "hoplimit") => {
            fam_ok(Family::Ipv6)?;
            (Sel::HopLimit { v6: true }, 2)
        }
        ("meta", "l4proto") => (Sel::Proto, 2),
        ("meta", "mark") if !is_set_stmt(cur, 2) => (Sel::Mark, 2),
        ("mark", _) if !is_set_stmt(cur, 1) => (Sel::Mark, 1),
        ("meta", "iifname") => (Sel::Iface { out: false }, 2),
        ("meta", "oifname") => (Sel::Iface { out: true }, 2),
        ("iifname", _) => (Sel::Iface { out: false }, 1),
        ("oifname", _) => (Sel::Iface { out: true }, 1),
        ("meta", "random") => (Sel::Random, 2),
        ("meta", "pkttype") => (Sel::PktType, 2),
        ("meta", "skuid") => (Sel::Owner("--uid-owner"), 2),
        ("meta", "skgid") => (Sel::Owner("--gid-owner"), 2),
        ("pkttype", _) => (Sel::PktType, 1),
        ("tcp" | "udp" | "sctp" | "dccp", "dport" | "sport") => {
            let l4 = match t.text.as_str() {
                "tcp" => "tcp",
                "udp" => "udp",
                "sctp" => "sctp",
                _ => "dccp",
            };
            (
                Sel::Port {
                    l4: Some(l4),
                    dst: second == "dport",
                },
                2,
            )
        }
        ("th", "dport" | "sport") => (
            Sel::Port {
                l4: None,
                dst: second == "dport",
            },
            2,
        ),
        ("tcp", "flags") => (Sel::TcpFlags, 2),
        ("icmp", "type") => {
            fam_ok(Family::Ipv4)?;
            (Sel::IcmpType { v6: false }, 2)
        }
        ("icmpv6", "type") => {
            fam_ok(Family::Ipv6)?;
            (Sel::IcmpType { v6: true }, 2)
        }
        ("ct", "state") => (Sel::CtState, 2),
        ("ct", "status") => (Sel::CtStatus, 2),
        ("ct", "mark") if !is_set_stmt(cur, 2) => (Sel::CtMark, 2),
        ("ct", "original" | "reply") => {
            let orig = second == "original";
            let third = cur.peek_at(2).map(|t| t.text.as_str()).unwrap_or("");
            let fourth = cur.peek_at(3).map(|t| t.text.as_str()).unwrap_or("");
            let (opt, n) = match (third, fourth) {
                ("ip" | "ip6", "saddr") => (if orig { "--ctorigsrc" } else { "--ctreplsrc" }, 4),
                ("ip" | "ip6", "daddr") => (if orig { "--ctorigdst" } else { "--ctrepldst" }, 4),
                ("protocol", _) if orig => ("--ctproto", 3),
                ("proto-src", _) => (
                    if orig {
                        "--ctorigsrcport"
                    } else {
                        "--ctreplsrcport"
                    },
                    3,
                ),
                ("proto-dst", _) => (
                    if orig {
                        "--ctorigdstport"
                    } else {
                        "--ctrepldstport"
                    },
                    3,
                ),
                _ => {
                    return Err(error(t.span, format!("`ct {second} {third}` is not read")));
                }
            };
            (Sel::CtTuple(opt), n)
        }
        ("fib", "saddr" | "daddr") => {
            let dst = second == "daddr";
            let (iface, n) = match (
                cur.peek_at(2).map(|t| t.text.as_str()),
                cur.peek_at(3).map(|t| t.text.as_str()),
            ) {
                (Some("."), Some("iif")) => (Some(true), 4),
                (Some("."), Some("oif")) => (Some(false), 4),
                _ => (None, 2),
            };
            if !cur.peek_at(n).is_some_and(|t| t.is_word("type")) {
                return Err(error(
                    t.span,
                    "only `fib saddr|daddr [. iif|oif] type` is read",
                ));
            }
            (Sel::Fib { dst, iface }, n + 1)
        }
        ("numgen", _) => {
            // `numgen random|inc mod N [offset M]`: read whole below.
            (Sel::Numgen, 0)
        }
        _ => return Ok(None),
    };
    let from = cur.pos;
    if sel == Sel::Numgen {
        cur.next();
        let kind = cur.word("`random` or `inc`")?;
        if kind.text != "random" && kind.text != "inc" {
            return Err(error(kind.span, "expected `random` or `inc`"));
        }
        cur.expect("mod")?;
        cur.word("a modulus")?;
        if cur.eat_word("offset") {
            cur.word("an offset")?;
        }
    } else {
        cur.pos += n;
    }
    let text = cur.toks[from..cur.pos]
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some((sel, text)))
}

/// `meta mark set` / `mark set` / `ct mark set` is a statement.
fn is_set_stmt(cur: &Cur<'_>, n: usize) -> bool {
    cur.peek_at(n).is_some_and(|t| t.is_word("set"))
}

/// A value: one element (tokens joined by `,` or `|`), or a set's elements.
enum Val<'t> {
    One(Vec<&'t Tok>),
    Set(Vec<Elem<'t>>),
}

struct Elem<'t> {
    toks: Vec<&'t Tok>,
    comment: Option<&'t Tok>,
    /// After `:` in a map.
    verdict: Vec<&'t Tok>,
    span: Span,
}

fn elements(set: &Tok) -> R<Vec<Elem<'_>>> {
    let TokKind::Set(inner) = &set.kind else {
        unreachable!()
    };
    let mut out = Vec::new();
    for chunk in inner.split(|t| matches!(t.kind, TokKind::Comma)) {
        if chunk.is_empty() {
            continue;
        }
        let colon = chunk.iter().position(|t| t.is_word(":"));
        let (key, verdict) = match colon {
            Some(i) => (&chunk[..i], &chunk[i + 1..]),
            None => (chunk, &chunk[chunk.len()..]),
        };
        let (key, comment) = match key.iter().position(|t| t.is_word("comment")) {
            Some(i) if i + 2 == key.len() && matches!(key[i + 1].kind, TokKind::Str) => {
                (&key[..i], Some(&key[i + 1]))
            }
            Some(i) => return Err(error(key[i].span, "expected `comment \"text\"`")),
            None => (key, None),
        };
        if key.is_empty() {
            return Err(error(chunk[0].span, "an element without a value"));
        }
        if let Some(t) = key.iter().find(|t| matches!(t.kind, TokKind::Set(_))) {
            return Err(error(t.span, "a set inside a set is not read"));
        }
        let span = chunk[0].span.to(chunk[chunk.len() - 1].span);
        out.push(Elem {
            toks: key.iter().collect(),
            comment,
            verdict: verdict.iter().collect(),
            span,
        });
    }
    if out.is_empty() {
        return Err(error(set.span, "an empty set"));
    }
    Ok(out)
}

fn value<'t>(cur: &mut Cur<'t>) -> R<Val<'t>> {
    let Some(first) = cur.next() else {
        return Err(error(cur.end, "expected a value"));
    };
    match &first.kind {
        TokKind::Set(_) => Ok(Val::Set(elements(first)?)),
        TokKind::Word | TokKind::Str => {
            let mut toks = vec![first];
            while let Some(sep) = cur.peek() {
                let joins = matches!(sep.kind, TokKind::Comma) || sep.is_op("|");
                let then = cur.peek_at(1);
                if joins && then.is_some_and(|t| matches!(t.kind, TokKind::Word)) {
                    toks.push(sep);
                    toks.push(then.expect("checked"));
                    cur.pos += 2;
                } else {
                    break;
                }
            }
            Ok(Val::One(toks))
        }
        _ => Err(error(first.span, "expected a value")),
    }
}

/// Words of one value: the tokens that are not `,`/`|`.
fn words_of<'a>(toks: &[&'a Tok]) -> Vec<&'a Tok> {
    toks.iter()
        .copied()
        .filter(|t| !matches!(t.kind, TokKind::Comma) && !t.is_op("|"))
        .collect()
}

fn span_of(toks: &[&Tok]) -> Span {
    toks[0].span.to(toks[toks.len() - 1].span)
}

fn single<'a>(toks: &[&'a Tok], what: &str) -> R<&'a Tok> {
    let w = words_of(toks);
    if w.len() == 1 {
        Ok(w[0])
    } else {
        Err(error(span_of(toks), format!("expected one {what}")))
    }
}

pub(crate) fn parse_number(text: &str) -> Option<u128> {
    if let Some(h) = text.strip_prefix("0x") {
        u128::from_str_radix(h, 16).ok()
    } else {
        text.parse().ok()
    }
}

fn number(t: &Tok, max: u128) -> R<u128> {
    parse_number(&t.text)
        .filter(|n| *n <= max)
        .ok_or_else(|| error(t.span, format!("`{}` is not a number up to {max}", t.text)))
}

fn addr_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Equality operators: `None` for `==` or none written, `Some(true)` for `!=`.
fn negation(op: Option<&Tok>) -> R<bool> {
    match op.map(|t| t.text.as_str()) {
        None | Some("==") => Ok(false),
        Some("!=") => Ok(true),
        Some(o) => Err(error(
            op.expect("some").span,
            format!("operator `{o}` is not read here"),
        )),
    }
}

/// One value of a selector as a condition: parts and key.
fn one_value(sel: Sel, family: Family, toks: &[&Tok], negated: bool) -> R<(Vec<Part>, KeyComp)> {
    let span = span_of(toks);
    let bang = |w: &mut Vec<Gw>| {
        if negated {
            w.push(gw("!", span));
        }
    };
    match sel {
        Sel::Addr { dst } => {
            let t = single(toks, "address")?;
            let fam_of = |a: &IpAddr| {
                if a.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                }
            };
            if t.text.contains('-') {
                let r = AddrRange::parse(&t.text).map_err(|e| error(t.span, e))?;
                if fam_of(&r.lo) != family {
                    return Err(error(t.span, "an address of the other family"));
                }
                let mut w = vec![gw("-m", span), gw("iprange", span)];
                bang(&mut w);
                w.push(gw(if dst { "--dst-range" } else { "--src-range" }, span));
                w.push(gw(format!("{}-{}", r.lo, r.hi), t.span));
                let key = KeyComp::Range(addr_u128(r.lo), addr_u128(r.hi));
                return Ok((vec![Part::Words(w)], key));
            }
            let n = Net::parse(&t.text).map_err(|e| error(t.span, e))?;
            if n.family() != family {
                return Err(error(t.span, "an address of the other family"));
            }
            let mut w = Vec::new();
            bang(&mut w);
            w.push(gw(if dst { "-d" } else { "-s" }, span));
            w.push(gw(t.text.clone(), t.span));
            Ok((vec![Part::Words(w)], net_key(&n)))
        }
        Sel::Proto => {
            let t = single(toks, "protocol")?;
            let p = Protocol::parse(&t.text).map_err(|e| error(t.span, e))?;
            let n = p
                .number
                .ok_or_else(|| error(t.span, "a protocol without a number"))?;
            Ok((
                vec![Part::Proto {
                    name: t.text.clone(),
                    negated,
                    span: t.span,
                }],
                KeyComp::Range(n as u128, n as u128),
            ))
        }
        Sel::Port { l4, dst } => {
            let t = single(toks, "port")?;
            let (lo, hi) = port_range(t)?;
            let mut w = Vec::new();
            bang(&mut w);
            w.push(gw(if dst { "--dport" } else { "--sport" }, span));
            w.push(gw(port_text(lo, hi, ':'), t.span));
            Ok((
                vec![Part::L4 {
                    module: l4,
                    implies: l4,
                    words: w,
                    span,
                }],
                KeyComp::Range(lo as u128, hi as u128),
            ))
        }
        Sel::Iface { out } => {
            let t = single(toks, "interface name")?;
            let (name, wildcard) = iface_name(t)?;
            let mut w = Vec::new();
            bang(&mut w);
            w.push(gw(if out { "-o" } else { "-i" }, span));
            w.push(gw(
                if wildcard {
                    format!("{name}+")
                } else {
                    name.clone()
                },
                t.span,
            ));
            Ok((vec![Part::Words(w)], KeyComp::Iface(name, wildcard)))
        }
        Sel::Mark | Sel::CtMark => {
            let t = single(toks, "mark")?;
            let v = number(t, u32::MAX as u128)?;
            let module = if sel == Sel::Mark { "mark" } else { "connmark" };
            let mut w = vec![gw("-m", span), gw(module, span)];
            bang(&mut w);
            w.push(gw("--mark", span));
            w.push(gw(format!("{v:#x}"), t.span));
            Ok((vec![Part::Words(w)], KeyComp::Range(v, v)))
        }
        Sel::IcmpType { v6 } => {
            let t = single(toks, "ICMP type")?;
            let ty = icmp_type(&t.text, v6)
                .ok_or_else(|| error(t.span, format!("ICMP type `{}` is not known", t.text)))?;
            Ok((
                icmp_parts(v6, ty, None, negated, span),
                KeyComp::Range(ty as u128, ty as u128),
            ))
        }
        Sel::CtTuple(opt) => {
            let t = single(toks, "value")?;
            let text = match opt {
                "--ctproto" => {
                    let p = Protocol::parse(&t.text).map_err(|e| error(t.span, e))?;
                    p.number
                        .ok_or_else(|| error(t.span, "a protocol without a number"))?
                        .to_string()
                }
                "--ctorigsrc" | "--ctorigdst" | "--ctreplsrc" | "--ctrepldst" => {
                    let n = Net::parse(&t.text).map_err(|e| error(t.span, e))?;
                    if n.family() != family {
                        return Err(error(t.span, "an address of the other family"));
                    }
                    t.text.clone()
                }
                _ => {
                    let (lo, hi) = port_range(t)?;
                    port_text(lo, hi, ':')
                }
            };
            // One conntrack match per test: like nft, each fails without a
            // conntrack entry, negated or not.
            Ok((
                vec![ct_words(span, negated, opt, &text)],
                KeyComp::Iface(String::new(), true),
            ))
        }
        Sel::Owner(opt) => {
            let t = single(toks, "user or group")?;
            if negated {
                // `! --uid-owner` matches packets without a socket; nft's
                // `skuid !=` does not.
                return Err(error(
                    span,
                    "a negated `meta skuid|skgid` has no iptables form",
                ));
            }
            let numeric = match t.text.split_once('-') {
                Some((a, b)) => parse_number(a).is_some() && parse_number(b).is_some(),
                None => parse_number(&t.text).is_some(),
            };
            if !numeric {
                return Err(error(t.span, "only numeric users and groups are read"));
            }
            let w = vec![
                gw("-m", span),
                gw("owner", span),
                gw(opt, span),
                gw(t.text.clone(), t.span),
            ];
            Ok((vec![Part::Words(w)], KeyComp::Iface(String::new(), true)))
        }
        Sel::PktType => {
            let t = single(toks, "packet type")?;
            let (name, code) = match t.text.as_str() {
                "host" | "unicast" => ("unicast", 0),
                "broadcast" => ("broadcast", 1),
                "multicast" => ("multicast", 2),
                "other" | "otherhost" => ("otherhost", 3),
                _ => {
                    return Err(error(
                        t.span,
                        format!("packet type `{}` is not known", t.text),
                    ));
                }
            };
            let mut w = vec![gw("-m", span), gw("pkttype", span)];
            bang(&mut w);
            w.push(gw("--pkt-type", span));
            w.push(gw(name, t.span));
            Ok((vec![Part::Words(w)], KeyComp::Range(code, code)))
        }
        _ => Err(error(span, "this selector takes no such value")),
    }
}

fn icmp_parts(v6: bool, ty: u8, code: Option<u8>, negated: bool, span: Span) -> Vec<Part> {
    let (proto, module, opt) = if v6 {
        ("icmpv6", "icmp6", "--icmpv6-type")
    } else {
        ("icmp", "icmp", "--icmp-type")
    };
    let mut w = vec![gw("-m", span), gw(module, span)];
    if negated {
        w.push(gw("!", span));
    }
    w.push(gw(opt, span));
    w.push(gw(
        match code {
            Some(c) => format!("{ty}/{c}"),
            None => ty.to_string(),
        },
        span,
    ));
    vec![
        Part::Proto {
            name: proto.into(),
            negated: false,
            span,
        },
        Part::Words(w),
    ]
}

fn net_key(n: &Net) -> KeyComp {
    let full = if n.bits() == 32 {
        u32::MAX as u128
    } else {
        u128::MAX
    };
    match n.prefix_len() {
        Some(_) => {
            let lo = n.addr_u128() & n.mask();
            KeyComp::Range(lo, lo | (!n.mask() & full))
        }
        // A non-contiguous mask: not an interval; taken to overlap all.
        None => KeyComp::Iface(String::new(), true),
    }
}

fn port_range(t: &Tok) -> R<(u16, u16)> {
    let p = |s: &str| -> R<u16> {
        s.parse::<u16>()
            .map_err(|_| error(t.span, format!("`{s}` is not a port number")))
    };
    let (lo, hi) = match t.text.split_once('-') {
        Some((a, b)) => (p(a)?, p(b)?),
        None => {
            let x = p(&t.text)?;
            (x, x)
        }
    };
    if lo > hi {
        return Err(error(t.span, "a port range that runs backwards"));
    }
    Ok((lo, hi))
}

fn port_text(lo: u16, hi: u16, sep: char) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}{sep}{hi}")
    }
}

/// An interface name pattern: the name and whether it ends in a wildcard.
fn iface_name(t: &Tok) -> R<(String, bool)> {
    let text = &t.text;
    let (stem, wildcard) = if let Some(s) = text.strip_suffix("\\*") {
        (format!("{s}*"), false)
    } else if let Some(s) = text.strip_suffix('*') {
        (s.to_string(), true)
    } else {
        (text.clone(), false)
    };
    if stem.contains('+') || stem.contains('\\') || stem.contains('*') && wildcard {
        return Err(error(
            t.span,
            format!("interface name `{text}` has no iptables form"),
        ));
    }
    if stem.len() > 15 || (stem.is_empty() && !wildcard) {
        return Err(error(
            t.span,
            format!("interface name `{text}` is not valid"),
        ));
    }
    Ok((stem, wildcard))
}

fn icmp_type(text: &str, v6: bool) -> Option<u8> {
    if let Ok(n) = text.parse::<u8>() {
        return Some(n);
    }
    let v4: &[(&str, u8)] = &[
        ("echo-reply", 0),
        ("destination-unreachable", 3),
        ("source-quench", 4),
        ("redirect", 5),
        ("echo-request", 8),
        ("router-advertisement", 9),
        ("router-solicitation", 10),
        ("time-exceeded", 11),
        ("parameter-problem", 12),
        ("timestamp-request", 13),
        ("timestamp-reply", 14),
        ("info-request", 15),
        ("info-reply", 16),
        ("address-mask-request", 17),
        ("address-mask-reply", 18),
    ];
    let v6t: &[(&str, u8)] = &[
        ("destination-unreachable", 1),
        ("packet-too-big", 2),
        ("time-exceeded", 3),
        ("parameter-problem", 4),
        ("echo-request", 128),
        ("echo-reply", 129),
        ("mld-listener-query", 130),
        ("mld-listener-report", 131),
        ("mld-listener-done", 132),
        ("nd-router-solicit", 133),
        ("nd-router-advert", 134),
        ("nd-neighbor-solicit", 135),
        ("nd-neighbor-advert", 136),
        ("nd-redirect", 137),
    ];
    let table = if v6 { v6t } else { v4 };
    table.iter().find(|(n, _)| *n == text).map(|(_, v)| *v)
}

fn upper_list(toks: &[&Tok], known: &[&str], what: &str) -> R<Vec<String>> {
    let mut out = Vec::new();
    for t in words_of(toks) {
        if !known.contains(&t.text.as_str()) {
            return Err(error(t.span, format!("`{}` is not a {what}", t.text)));
        }
        out.push(t.text.to_ascii_uppercase());
    }
    Ok(out)
}

const CT_STATES: &[&str] = &["new", "established", "related", "invalid", "untracked"];

fn ct_words(span: Span, negated: bool, opt: &str, list: &str) -> Part {
    let mut w = vec![gw("-m", span), gw("conntrack", span)];
    if negated {
        w.push(gw("!", span));
    }
    w.push(gw(opt, span));
    w.push(gw(list, span));
    Part::Words(w)
}

/// All the elements of a value as lists of tokens (for list-valued
/// selectors, where `{ a, b }` and `a,b` mean the same).
fn flat<'t>(v: &Val<'t>) -> R<Vec<&'t Tok>> {
    Ok(match v {
        Val::One(t) => words_of(t),
        Val::Set(elems) => {
            let mut out = Vec::new();
            for e in elems {
                if e.comment.is_some() || !e.verdict.is_empty() {
                    return Err(error(e.span, "expected a plain value"));
                }
                out.extend(words_of(&e.toks));
            }
            out
        }
    })
}

/// A relational expression `SEL [& MASK] [OP] VALUE`.
fn relation(cur: &mut Cur<'_>, sel: Sel, sel_text: &str, family: Family, from: usize) -> R<Cond> {
    // The mask, for the selectors that take one.
    let mut mask: Option<Vec<&Tok>> = None;
    if cur.peek().is_some_and(|t| t.is_op("&") || t.is_word("and")) {
        cur.next();
        let mut m = Vec::new();
        if cur.peek().is_some_and(|t| t.is_op("(")) {
            cur.next();
            while let Some(t) = cur.next() {
                if t.is_op(")") {
                    break;
                }
                m.push(t);
            }
        } else {
            m.push(cur.word("a mask")?);
        }
        mask = Some(m);
    }
    let op = match cur.peek() {
        Some(t) if matches!(t.kind, TokKind::Op) && !t.is_op("&") && !t.is_op("|") => {
            cur.next();
            Some(t)
        }
        _ => None,
    };
    let val = value(cur)?;
    let span = cur.since(from);
    let mut cond = Cond::one(Vec::new(), span);
    cond.mutable = sel.mutable();
    match sel {
        Sel::TcpFlags => {
            // `tcp flags syn / fin,syn,rst,ack`: the flags under the mask.
            let slash_mask = if mask.is_none() && cur.at_word("/") {
                cur.next();
                let Val::One(m) = value(cur)? else {
                    return Err(error(span, "expected the flags of the mask"));
                };
                Some(m)
            } else {
                None
            };
            let span = cur.since(from);
            let mask = mask.or(slash_mask).ok_or_else(|| {
                error(
                    span,
                    "only `tcp flags & (mask) == flags` is read (bare `tcp flags` tests any bit)",
                )
            })?;
            let negated = negation(op)?;
            let names = |toks: &[&Tok]| -> R<String> {
                let w = words_of(toks);
                if w.len() == 1 && parse_number(&w[0].text) == Some(0) {
                    return Ok("NONE".into());
                }
                Ok(upper_list(
                    toks,
                    &["fin", "syn", "rst", "psh", "ack", "urg"],
                    "TCP flag iptables knows",
                )?
                .join(","))
            };
            let Val::One(comp) = &val else {
                return Err(error(span, "a set of TCP flag values is not read"));
            };
            let mut w = Vec::new();
            if negated {
                w.push(gw("!", span));
            }
            w.push(gw("--tcp-flags", span));
            w.push(gw(names(&mask)?, span));
            w.push(gw(names(comp)?, span));
            cond.alts[0].parts.push(Part::L4 {
                module: Some("tcp"),
                implies: Some("tcp"),
                words: w,
                span,
            });
            return Ok(cond);
        }
        Sel::HopLimit { v6 } => {
            // `-m ttl --ttl-eq|--ttl-gt|--ttl-lt N` (`-m hl --hl-...` in
            // ip6tables); only `--ttl-eq` takes `!`.
            let (module, prefix) = if v6 { ("hl", "--hl") } else { ("ttl", "--ttl") };
            let Val::One(v) = &val else {
                return Err(error(span, "a set of hop limits is not read"));
            };
            if mask.is_some() {
                return Err(error(span, "a masked hop limit is not read"));
            }
            let v = single(v, "number")?;
            let n = number(v, 255)?;
            let (negated, test) = match op.map(|t| t.text.as_str()) {
                None | Some("==") => (false, "eq"),
                Some("!=") => (true, "eq"),
                Some(">") => (false, "gt"),
                Some("<") => (false, "lt"),
                Some(o) => {
                    return Err(error(span, format!("operator `{o}` is not read here")));
                }
            };
            let mut w = vec![gw("-m", span), gw(module, span)];
            if negated {
                w.push(gw("!", span));
            }
            w.push(gw(format!("{prefix}-{test}"), span));
            w.push(gw(n.to_string(), v.span));
            cond.alts[0].parts.push(Part::Words(w));
            return Ok(cond);
        }
        Sel::FragOff => {
            let m =
                mask.ok_or_else(|| error(span, "only `ip frag-off & 0x1fff ==|!= 0` is read"))?;
            let Val::One(v) = &val else {
                return Err(error(span, "only `ip frag-off & 0x1fff ==|!= 0` is read"));
            };
            let (m, v) = (single(&m, "mask")?, single(v, "value")?);
            if parse_number(&m.text) != Some(0x1fff) || parse_number(&v.text) != Some(0) {
                return Err(error(span, "only `ip frag-off & 0x1fff ==|!= 0` is read"));
            }
            let negated = negation(op)?;
            // `== 0`: not a later fragment (`! -f`).
            let mut w = Vec::new();
            if !negated {
                w.push(gw("!", span));
            }
            w.push(gw("-f", span));
            cond.alts[0].parts.push(Part::Words(w));
            return Ok(cond);
        }
        Sel::Random => {
            let m =
                mask.ok_or_else(|| error(span, "only `meta random & 2147483647 < N` is read"))?;
            let m = single(&m, "mask")?;
            let Val::One(v) = &val else {
                return Err(error(span, "only `meta random & 2147483647 < N` is read"));
            };
            let v = single(v, "number")?;
            let n = number(v, 1 << 31)?;
            let negated = match op.map(|t| t.text.as_str()) {
                Some("<") => false,
                Some(">=") => true,
                _ => {
                    return Err(error(
                        span,
                        "only `meta random & 2147483647 < N` (or `>=`) is read",
                    ));
                }
            };
            if parse_number(&m.text) != Some(0x7fff_ffff) {
                return Err(error(span, "only `meta random & 2147483647 < N` is read"));
            }
            // iptables-save's text for the probability the kernel keeps as N.
            let p = format!("{:.11}", n as f64 / 2147483648.0);
            let back: f64 = p.parse().unwrap_or(-1.0);
            if (back * 2147483648.0).round() as u128 != n {
                return Err(error(
                    v.span,
                    "no iptables probability gives exactly this draw",
                ));
            }
            let mut w = vec![
                gw("-m", span),
                gw("statistic", span),
                gw("--mode", span),
                gw("random", span),
            ];
            if negated {
                w.push(gw("!", span));
            }
            w.push(gw("--probability", span));
            w.push(gw(p, v.span));
            cond.alts[0].parts.push(Part::Words(w));
            cond.stateful = true;
            return Ok(cond);
        }
        Sel::Numgen => {
            let Val::One(v) = &val else {
                return Err(error(
                    span,
                    "a `numgen` set is not read (a `numgen ... vmap` is)",
                ));
            };
            if mask.is_some() {
                return Err(error(span, "`numgen` with a mask is not read"));
            }
            let op_text = op.map(|t| t.text.as_str()).unwrap_or("==");
            let text = format!("{sel_text} {op_text} {}", single(v, "number")?.text);
            cond.alts[0].parts.push(unknown(&text, span));
            cond.stateful = true;
            return Ok(cond);
        }
        _ => {}
    }
    // Masked marks and addresses.
    if let Some(m) = mask {
        let m = single(&m, "mask")?;
        let negated = negation(op)?;
        let Val::One(v) = &val else {
            return Err(error(span, "a masked set is not read"));
        };
        let v = single(v, "value")?;
        match sel {
            Sel::Mark | Sel::CtMark => {
                let mk = number(m, u32::MAX as u128)?;
                let vv = number(v, u32::MAX as u128)?;
                let module = if sel == Sel::Mark { "mark" } else { "connmark" };
                let mut w = vec![gw("-m", span), gw(module, span)];
                if negated {
                    w.push(gw("!", span));
                }
                w.push(gw("--mark", span));
                w.push(gw(format!("{vv:#x}/{mk:#x}"), span));
                cond.alts[0].parts.push(Part::Words(w));
            }
            Sel::Addr { dst } => {
                let mask_addr: IpAddr = m
                    .text
                    .parse()
                    .map_err(|_| error(m.span, "expected an address mask"))?;
                let n =
                    Net::parse(&format!("{}/{}", v.text, mask_addr)).map_err(|e| error(span, e))?;
                if n.family() != family {
                    return Err(error(span, "an address of the other family"));
                }
                let mut w = Vec::new();
                if negated {
                    w.push(gw("!", span));
                }
                w.push(gw(if dst { "-d" } else { "-s" }, span));
                w.push(gw(n.to_string(), span));
                cond.alts[0].parts.push(Part::Words(w));
            }
            _ => return Err(error(span, "a mask is not read on this selector")),
        }
        return Ok(cond);
    }
    // List-valued selectors: one match whatever the number of values.
    match sel {
        Sel::CtState => {
            let negated = match op.map(|t| t.text.as_str()) {
                None | Some("==") => false,
                Some("!") => true,
                Some("!=") if matches!(&val, Val::One(t) if words_of(t).len() == 1) => true,
                _ => {
                    return Err(error(
                        span,
                        "only `ct state a,b`, `ct state { a, b }` and `ct state ! a,b` are read",
                    ));
                }
            };
            let list = upper_list(&flat(&val)?, CT_STATES, "conntrack state")?;
            cond.alts[0]
                .parts
                .push(ct_words(span, negated, "--ctstate", &list.join(",")));
            return Ok(cond);
        }
        Sel::CtStatus => {
            let negated = match op.map(|t| t.text.as_str()) {
                None | Some("==") => false,
                Some("!") => true,
                _ => {
                    return Err(error(
                        span,
                        "only `ct status a,b` and `ct status ! a,b` are read",
                    ));
                }
            };
            let all = flat(&val)?;
            let list = upper_list(
                &all,
                &[
                    "expected",
                    "seen-reply",
                    "assured",
                    "confirmed",
                    "snat",
                    "dnat",
                ],
                "conntrack status iptables tests",
            )?;
            let list: Vec<String> = list.into_iter().map(|s| s.replace('-', "_")).collect();
            let (nat, other): (Vec<String>, Vec<String>) =
                list.into_iter().partition(|s| s == "SNAT" || s == "DNAT");
            if !negated && !nat.is_empty() && !other.is_empty() {
                return Err(error(
                    span,
                    "`ct status` with NAT bits and other bits together has no iptables form",
                ));
            }
            let parts = &mut cond.alts[0].parts;
            if !other.is_empty() {
                parts.push(ct_words(span, negated, "--ctstatus", &other.join(",")));
            }
            if !nat.is_empty() {
                if negated {
                    // nft tests a status only with a conntrack entry.
                    parts.push(ct_words(span, true, "--ctstate", "INVALID,UNTRACKED"));
                }
                parts.push(ct_words(span, negated, "--ctstate", &nat.join(",")));
            }
            return Ok(cond);
        }
        Sel::Fib { dst, iface } => {
            let negated = negation(op)?;
            let list = upper_list(
                &flat(&val)?,
                &[
                    "unspec",
                    "unicast",
                    "local",
                    "broadcast",
                    "anycast",
                    "multicast",
                    "blackhole",
                    "unreachable",
                    "prohibit",
                ],
                "route type",
            )?;
            let mut w = vec![gw("-m", span), gw("addrtype", span)];
            if negated {
                w.push(gw("!", span));
            }
            w.push(gw(if dst { "--dst-type" } else { "--src-type" }, span));
            w.push(gw(list.join(","), span));
            match iface {
                Some(true) => w.push(gw("--limit-iface-in", span)),
                Some(false) => w.push(gw("--limit-iface-out", span)),
                None => {}
            }
            cond.alts[0].parts.push(Part::Words(w));
            return Ok(cond);
        }
        _ => {}
    }
    // Ordering operators on ports.
    if let (Sel::Port { l4, dst }, Some(o)) = (sel, op)
        && matches!(o.text.as_str(), "<" | ">" | "<=" | ">=")
    {
        let Val::One(v) = &val else {
            return Err(error(span, "expected a port"));
        };
        let t = single(v, "port")?;
        let (p, _) = port_range(t)?;
        let (lo, hi) = match o.text.as_str() {
            "<" if p > 0 => (0, p - 1),
            "<=" => (0, p),
            ">" if p < 65535 => (p + 1, 65535),
            ">=" => (p, 65535),
            _ => return Err(error(span, "a port comparison no port passes")),
        };
        cond.alts[0].parts.push(Part::L4 {
            module: l4,
            implies: l4,
            words: vec![
                gw(if dst { "--dport" } else { "--sport" }, span),
                gw(port_text(lo, hi, ':'), t.span),
            ],
            span,
        });
        return Ok(cond);
    }
    let negated = negation(op)?;
    match val {
        Val::One(toks) => {
            // `icmp type T icmp code C`: one iptables match.
            if let Sel::IcmpType { v6 } = sel
                && !negated
                && cur.at_word(if v6 { "icmpv6" } else { "icmp" })
                && cur.peek_at(1).is_some_and(|t| t.is_word("code"))
            {
                let t = single(&toks, "ICMP type")?;
                let ty = icmp_type(&t.text, v6)
                    .ok_or_else(|| error(t.span, format!("ICMP type `{}` is not known", t.text)))?;
                cur.pos += 2;
                let c = cur.word("an ICMP code")?;
                let code = number(c, 255)? as u8;
                let span = cur.since(from);
                cond.span = span;
                cond.alts[0].parts = icmp_parts(v6, ty, Some(code), false, span);
                return Ok(cond);
            }
            let (parts, _) = one_value(sel, family, &toks, negated)?;
            cond.alts[0].parts = parts;
            Ok(cond)
        }
        Val::Set(elems) => {
            for e in &elems {
                if !e.verdict.is_empty() {
                    return Err(error(e.span, "a map element outside `vmap`"));
                }
            }
            // Ports: `-m multiport` when they fit (15 slots, a range takes two).
            if let Sel::Port { l4, dst } = sel {
                let mut ranges = Vec::new();
                for e in &elems {
                    ranges.push(port_range(single(&e.toks, "port")?)?);
                }
                let slots: usize = ranges.iter().map(|(a, b)| if a == b { 1 } else { 2 }).sum();
                if slots <= 15 {
                    let list: Vec<String> =
                        ranges.iter().map(|(a, b)| port_text(*a, *b, ':')).collect();
                    let mut w = Vec::new();
                    if negated {
                        w.push(gw("!", span));
                    }
                    w.push(gw(if dst { "--dports" } else { "--sports" }, span));
                    w.push(gw(list.join(","), span));
                    cond.alts[0].parts.push(Part::L4 {
                        module: Some("multiport"),
                        implies: l4,
                        words: w,
                        span,
                    });
                    return Ok(cond);
                }
            }
            if negated {
                // Not any element: every element negated, each its own match.
                if matches!(sel, Sel::Iface { .. } | Sel::Proto) {
                    return Err(error(
                        span,
                        "a negated set of interfaces or protocols has no iptables form",
                    ));
                }
                let mut parts = Vec::new();
                for e in &elems {
                    let (p, _) = match sel {
                        Sel::Addr { dst } if words_of(&e.toks).len() == 1 => {
                            let t = single(&e.toks, "address")?;
                            let text = if t.text.contains('-') {
                                t.text.clone()
                            } else {
                                let n = Net::parse(&t.text).map_err(|x| error(t.span, x))?;
                                let KeyComp::Range(lo, hi) = net_key(&n) else {
                                    return Err(error(t.span, "a non-contiguous mask in a set"));
                                };
                                let to = |x: u128| -> IpAddr {
                                    if family == Family::Ipv4 {
                                        IpAddr::V4((x as u32).into())
                                    } else {
                                        IpAddr::V6(x.into())
                                    }
                                };
                                format!("{}-{}", to(lo), to(hi))
                            };
                            let r = AddrRange::parse(&text).map_err(|x| error(t.span, x))?;
                            let w = vec![
                                gw("-m", e.span),
                                gw("iprange", e.span),
                                gw("!", e.span),
                                gw(if dst { "--dst-range" } else { "--src-range" }, e.span),
                                gw(format!("{}-{}", r.lo, r.hi), t.span),
                            ];
                            (vec![Part::Words(w)], KeyComp::Range(0, 0))
                        }
                        _ => one_value(sel, family, &e.toks, true)?,
                    };
                    parts.extend(p);
                }
                cond.alts[0].parts = parts;
                return Ok(cond);
            }
            let mut alts = Vec::new();
            for e in &elems {
                let (mut parts, key) = one_value(sel, family, &e.toks, false)?;
                if let Some(c) = e.comment {
                    parts.push(comment_part(c));
                }
                alts.push(Alt {
                    parts,
                    key: vec![key],
                    ..Alt::default()
                });
            }
            cond.alts = alts;
            Ok(cond)
        }
    }
}

fn comment_part(c: &Tok) -> Part {
    Part::Words(vec![
        gw("-m", c.span),
        gw("comment", c.span),
        gw("--comment", c.span),
        gw(c.text.clone(), c.span),
    ])
}

/// A condition iptlint does not model, kept as its nft text.
fn unknown(text: &str, span: Span) -> Part {
    Part::Words(vec![
        gw("-m", span),
        gw("nft", span),
        gw("--expr", span),
        gw(text, span),
    ])
}

/// Alternatives must not overlap: a packet takes at most one.
fn disjoint(alts: &[Alt], span: Span) -> R<()> {
    let points = alts.iter().all(|a| {
        a.key.iter().all(|k| match k {
            KeyComp::Range(lo, hi) => lo == hi,
            KeyComp::Iface(_, w) => !w,
        })
    });
    if points {
        let mut seen = HashSet::with_capacity(alts.len());
        for a in alts {
            if !seen.insert(&a.key) {
                return Err(error(a.span.unwrap_or(span), "an element given twice"));
            }
        }
        return Ok(());
    }
    if alts.len() > 4096 {
        return Err(error(span, "a set of more than 4096 intervals is not read"));
    }
    for (i, a) in alts.iter().enumerate() {
        for b in &alts[..i] {
            if a.key.len() == b.key.len() && a.key.iter().zip(&b.key).all(|(x, y)| overlap(x, y)) {
                return Err(error(
                    a.span.unwrap_or(span),
                    "set elements overlap: one rule per element would not be the same",
                ));
            }
        }
    }
    Ok(())
}

/// Words of a verdict (`accept`, `jump X`, ...) at the cursor.
fn verdict(cur: &mut Cur<'_>, ctx: &Ctx<'_>) -> R<Option<Vec<Gw>>> {
    let Some(t) = cur.peek() else {
        return Ok(None);
    };
    let simple = match t.text.as_str() {
        "accept" => Some("ACCEPT"),
        "drop" => Some("DROP"),
        "return" => Some("RETURN"),
        _ => None,
    };
    if !matches!(t.kind, TokKind::Word) {
        return Ok(None);
    }
    if let Some(name) = simple {
        cur.next();
        return Ok(Some(vec![gw("-j", t.span), gw(name, t.span)]));
    }
    if t.text == "jump" || t.text == "goto" {
        cur.next();
        let c = cur.word("a chain name")?;
        let target = ctx
            .chains
            .get(&c.text)
            .ok_or_else(|| error(c.span, format!("chain `{}` is not in this table", c.text)))?;
        let span = t.span.to(c.span);
        let flag = if t.text == "jump" { "-j" } else { "-g" };
        return Ok(Some(vec![gw(flag, span), gw(target.clone(), c.span)]));
    }
    Ok(None)
}

/// Lowers one rule.
pub(crate) fn lower(rule_span: Span, toks: &[Tok], ctx: &Ctx<'_>) -> R<Vec<Line>> {
    let mut cur = Cur {
        toks,
        pos: 0,
        end: Span {
            start: rule_span.end,
            end: rule_span.end,
            line: rule_span.line,
            column: rule_span.column,
        },
    };
    let mut conds: Vec<Cond> = Vec::new();
    let mut stmts: Vec<Stmt> = Vec::new();
    let mut comments: Vec<Part> = Vec::new();
    let mut last: Option<Vec<Gw>> = None;
    // Statements run in order: a condition after one would test the
    // packet after it.
    let mut acted = false;
    while cur.peek().is_some() {
        let from = cur.pos;
        let t = cur.peek().expect("some");
        if last.is_some() && !t.is_word("comment") {
            return Err(error(
                t.span,
                "nothing but a comment may follow the verdict",
            ));
        }
        if let Some((sel, text)) = selector(&mut cur, ctx.family)? {
            if acted {
                return Err(error(t.span, "a condition after a statement is not read"));
            }
            if cur.at_word(".") || cur.at_word("vmap") {
                let (cond, is_map) = vmap(&mut cur, ctx, sel, text, from)?;
                conds.push(cond);
                if is_map {
                    // The map is the verdict: nothing but a comment follows.
                    last = Some(Vec::new());
                }
                continue;
            }
            conds.push(relation(&mut cur, sel, &text, ctx.family, from)?);
            continue;
        }
        if let Some(v) = verdict(&mut cur, ctx)? {
            last = Some(v);
            continue;
        }
        match t.text.as_str() {
            "counter" if matches!(t.kind, TokKind::Word) => {
                cur.next();
                if cur.eat_word("packets") {
                    cur.word("a count")?;
                    cur.expect("bytes")?;
                    cur.word("a count")?;
                }
            }
            "comment" if matches!(t.kind, TokKind::Word) => {
                cur.next();
                let c = cur.next().filter(|c| matches!(c.kind, TokKind::Str));
                let c = c.ok_or_else(|| error(t.span, "expected `comment \"text\"`"))?;
                comments.push(comment_part(c));
            }
            "limit" => {
                if acted {
                    return Err(error(t.span, "a condition after a statement is not read"));
                }
                conds.push(limit(&mut cur)?);
            }
            "log" => {
                stmts.push(log(&mut cur)?);
                acted = true;
            }
            "notrack" => {
                cur.next();
                stmts.push(Stmt {
                    words: vec![gw("-j", t.span), gw("CT", t.span), gw("--notrack", t.span)],
                    changes: Some(Field::CtState),
                });
                acted = true;
            }
            "meta" | "mark" | "ct" => {
                stmts.push(mark_set(&mut cur)?);
                acted = true;
            }
            "reject" => last = Some(reject(&mut cur, ctx.family)?),
            "dnat" | "snat" | "masquerade" | "redirect" => last = Some(nat(&mut cur)?),
            "queue" => last = Some(queue(&mut cur)?),
            _ => {
                return Err(error(
                    t.span,
                    format!("`{}` is not something iptlint reads in an nft rule", t.text),
                ));
            }
        }
        let _ = from;
    }
    assemble(rule_span, conds, stmts, comments, last)
}

fn limit(cur: &mut Cur<'_>) -> R<Cond> {
    let from = cur.pos;
    cur.next();
    cur.expect("rate")?;
    if cur.at_word("over") {
        return Err(error(cur.here(), "`limit rate over` is not read"));
    }
    let r = cur.word("a rate")?;
    let (n, unit) = r
        .text
        .split_once('/')
        .ok_or_else(|| error(r.span, "expected `N/unit`"))?;
    let unit = match unit {
        "second" => "sec",
        "minute" => "min",
        "hour" => "hour",
        "day" => "day",
        _ => {
            return Err(error(
                r.span,
                "only packet rates per second, minute, hour or day are read",
            ));
        }
    };
    let mut burst = "5".to_string();
    if cur.eat_word("burst") {
        let b = cur.word("a burst")?;
        burst = b.text.clone();
        cur.expect("packets")?;
    }
    let span = cur.since(from);
    let mut words = vec![
        gw("-m", span),
        gw("limit", span),
        gw("--limit", span),
        gw(format!("{n}/{unit}"), r.span),
    ];
    // iptables-save leaves out the default burst: the same text as a dump's.
    if parse_number(&burst) != Some(5) {
        words.extend([gw("--limit-burst", span), gw(burst, span)]);
    }
    let mut c = Cond::one(vec![Part::Words(words)], span);
    c.stateful = true;
    Ok(c)
}

fn log(cur: &mut Cur<'_>) -> R<Stmt> {
    let from = cur.pos;
    cur.next();
    let mut opts: Vec<(String, Option<String>)> = Vec::new();
    let mut group = None;
    loop {
        if cur.eat_word("prefix") {
            let p = cur
                .next()
                .filter(|t| matches!(t.kind, TokKind::Str | TokKind::Word));
            let p = p.ok_or_else(|| error(cur.here(), "expected a prefix"))?;
            opts.push(("prefix".into(), Some(p.text.clone())));
        } else if cur.eat_word("level") {
            opts.push(("level".into(), Some(cur.word("a level")?.text.clone())));
        } else if cur.eat_word("group") {
            group = Some(cur.word("a group")?.text.clone());
        } else if cur.eat_word("snaplen") {
            opts.push(("snaplen".into(), Some(cur.word("a length")?.text.clone())));
        } else if cur.eat_word("queue-threshold") {
            opts.push(("threshold".into(), Some(cur.word("a number")?.text.clone())));
        } else if cur.eat_word("flags") {
            let what = cur.word("log flags")?;
            match what.text.as_str() {
                "tcp" => {
                    let v = value(cur)?;
                    for f in flat(&v)? {
                        match f.text.as_str() {
                            "sequence" => opts.push(("tcp-sequence".into(), None)),
                            "options" => opts.push(("tcp-options".into(), None)),
                            _ => return Err(error(f.span, "unknown tcp log flag")),
                        }
                    }
                }
                "ip" => {
                    cur.expect("options")?;
                    opts.push(("ip-options".into(), None));
                }
                "skuid" => opts.push(("uid".into(), None)),
                "ether" => opts.push(("macdecode".into(), None)),
                _ => return Err(error(what.span, "unknown log flag")),
            }
        } else {
            break;
        }
    }
    let span = cur.since(from);
    let mut w = Vec::new();
    if let Some(g) = group {
        w.extend([
            gw("-j", span),
            gw("NFLOG", span),
            gw("--nflog-group", span),
            gw(g, span),
        ]);
        for (k, v) in opts {
            let name = match k.as_str() {
                "prefix" => "--nflog-prefix",
                "snaplen" => "--nflog-size",
                "threshold" => "--nflog-threshold",
                _ => return Err(error(span, format!("log {k} with a group is not read"))),
            };
            w.push(gw(name, span));
            w.push(gw(v.unwrap_or_default(), span));
        }
    } else {
        w.extend([gw("-j", span), gw("LOG", span)]);
        for (k, v) in opts {
            let name = match k.as_str() {
                "prefix" => "--log-prefix",
                "level" => "--log-level",
                "tcp-sequence" => "--log-tcp-sequence",
                "tcp-options" => "--log-tcp-options",
                "ip-options" => "--log-ip-options",
                "uid" => "--log-uid",
                "macdecode" => "--log-macdecode",
                _ => return Err(error(span, format!("log {k} without a group is not read"))),
            };
            w.push(gw(name, span));
            if let Some(v) = v {
                let v = if k == "level" && v == "warn" {
                    "warning".to_string()
                } else {
                    v
                };
                w.push(gw(v, span));
            }
        }
    }
    Ok(Stmt {
        words: w,
        changes: None,
    })
}

/// `meta mark set ...`, `mark set ...`, `ct mark set ...`.
fn mark_set(cur: &mut Cur<'_>) -> R<Stmt> {
    let from = cur.pos;
    let first = cur.next().expect("some");
    let ct = first.text == "ct";
    if first.text != "mark" {
        let m = cur.word("`mark`")?;
        if m.text != "mark" {
            return Err(error(
                first.span.to(m.span),
                format!("`{} {}` is not something iptlint reads", first.text, m.text),
            ));
        }
    }
    cur.expect("set")?;
    // The value: a number, or the mark itself with & | ^ operations, or the other mark.
    let at = |cur: &Cur<'_>, a: &str, b: &str| {
        cur.peek().is_some_and(|t| t.is_word(a)) && cur.peek_at(1).is_some_and(|t| t.is_word(b))
    };
    let self_ref = |cur: &mut Cur<'_>, ct: bool| -> bool {
        if ct && at(cur, "ct", "mark") || !ct && at(cur, "meta", "mark") {
            cur.pos += 2;
            true
        } else if !ct && cur.at_word("mark") {
            cur.pos += 1;
            true
        } else {
            false
        }
    };
    let target = if ct { "CONNMARK" } else { "MARK" };
    let words = if self_ref(cur, ct) {
        let (mut and, mut xor) = (u32::MAX, 0u32);
        while let Some(op) = cur.peek().filter(|t| {
            t.is_op("&")
                || t.is_op("|")
                || t.is_op("^")
                || t.is_word("and")
                || t.is_word("or")
                || t.is_word("xor")
        }) {
            cur.next();
            let v = number(cur.word("a number")?, u32::MAX as u128)? as u32;
            match op.text.as_str() {
                "&" | "and" => {
                    and &= v;
                    xor &= v;
                }
                "|" | "or" => {
                    and &= !v;
                    xor |= v;
                }
                _ => xor ^= v,
            }
        }
        let span = cur.since(from);
        vec![
            gw("--set-xmark", span),
            gw(format!("{xor:#x}/{:#x}", !and), span),
        ]
    } else if self_ref(cur, !ct) {
        let span = cur.since(from);
        if cur.peek().is_some_and(|t| matches!(t.kind, TokKind::Op)) {
            return Err(error(span, "copying a mark with a mask is not read"));
        }
        vec![gw(if ct { "--save-mark" } else { "--restore-mark" }, span)]
    } else {
        let v = number(cur.word("a mark value")?, u32::MAX as u128)? as u32;
        if cur.peek().is_some_and(|t| matches!(t.kind, TokKind::Op)) {
            return Err(error(cur.here(), "this mark expression is not read"));
        }
        let span = cur.since(from);
        vec![
            gw("--set-xmark", span),
            gw(format!("{v:#x}/0xffffffff"), span),
        ]
    };
    let span = cur.since(from);
    let target = if !ct && words[0].text == "--restore-mark" {
        "CONNMARK"
    } else {
        target
    };
    let mut w = vec![gw("-j", span), gw(target, span)];
    w.extend(words);
    Ok(Stmt {
        words: w,
        changes: Some(if ct { Field::CtMark } else { Field::Mark }),
    })
}

fn reject(cur: &mut Cur<'_>, family: Family) -> R<Vec<Gw>> {
    let from = cur.pos;
    cur.next();
    let with = if cur.eat_word("with") {
        let kind = cur.word("`icmp`, `icmpv6` or `tcp`")?;
        match kind.text.as_str() {
            "tcp" => {
                cur.expect("reset")?;
                "tcp-reset".to_string()
            }
            "icmp" | "icmpv6" => {
                cur.eat_word("type");
                let ty = cur.word("a reject type")?;
                let v6 = kind.text == "icmpv6";
                if v6 != (family == Family::Ipv6) {
                    return Err(error(kind.span, "a reject type of the other family"));
                }
                let name = if v6 {
                    match ty.text.as_str() {
                        "no-route" => "icmp6-no-route",
                        "admin-prohibited" => "icmp6-adm-prohibited",
                        "addr-unreachable" => "icmp6-addr-unreachable",
                        "port-unreachable" => "icmp6-port-unreachable",
                        "policy-fail" => "icmp6-policy-fail",
                        "reject-route" => "icmp6-reject-route",
                        _ => return Err(error(ty.span, "unknown ICMPv6 reject type")),
                    }
                } else {
                    match ty.text.as_str() {
                        "net-unreachable" => "icmp-net-unreachable",
                        "host-unreachable" => "icmp-host-unreachable",
                        "prot-unreachable" => "icmp-proto-unreachable",
                        "port-unreachable" => "icmp-port-unreachable",
                        "net-prohibited" => "icmp-net-prohibited",
                        "host-prohibited" => "icmp-host-prohibited",
                        "admin-prohibited" => "icmp-admin-prohibited",
                        _ => return Err(error(ty.span, "unknown ICMP reject type")),
                    }
                };
                name.to_string()
            }
            _ => {
                return Err(error(
                    kind.span,
                    "only `reject with icmp|icmpv6 type T` and `with tcp reset` are read",
                ));
            }
        }
    } else if family == Family::Ipv6 {
        "icmp6-port-unreachable".into()
    } else {
        "icmp-port-unreachable".into()
    };
    let span = cur.since(from);
    Ok(vec![
        gw("-j", span),
        gw("REJECT", span),
        gw("--reject-with", span),
        gw(with, span),
    ])
}

fn nat(cur: &mut Cur<'_>) -> R<Vec<Gw>> {
    let from = cur.pos;
    let kw = cur.next().expect("some");
    let mut to = None;
    if kw.text == "dnat" || kw.text == "snat" {
        if cur.at_word("ip") || cur.at_word("ip6") {
            cur.next();
        }
        cur.expect("to")?;
        to = Some(cur.word("an address")?);
    } else if cur.eat_word("to") {
        to = Some(cur.word("ports")?);
    }
    let mut flags = Vec::new();
    while let Some(f) = cur.peek() {
        match f.text.as_str() {
            "random" => flags.push("--random"),
            "fully-random" => flags.push("--random-fully"),
            "persistent" => flags.push("--persistent"),
            _ if matches!(f.kind, TokKind::Comma) => {}
            _ => break,
        }
        cur.next();
    }
    let span = cur.since(from);
    let (target, opt) = match kw.text.as_str() {
        "dnat" => ("DNAT", "--to-destination"),
        "snat" => ("SNAT", "--to-source"),
        "masquerade" => ("MASQUERADE", "--to-ports"),
        _ => ("REDIRECT", "--to-ports"),
    };
    let mut w = vec![gw("-j", span), gw(target, span)];
    if let Some(t) = to {
        let text = if opt == "--to-ports" {
            t.text.strip_prefix(':').unwrap_or(&t.text).to_string()
        } else {
            t.text.clone()
        };
        w.push(gw(opt, span));
        w.push(gw(text, t.span));
    }
    for f in flags {
        w.push(gw(f, span));
    }
    Ok(w)
}

fn queue(cur: &mut Cur<'_>) -> R<Vec<Gw>> {
    let from = cur.pos;
    cur.next();
    let mut num = None;
    let mut bypass = false;
    let mut fanout = false;
    loop {
        if cur.eat_word("num") {
            num = Some(cur.word("a queue number")?);
        } else if cur.eat_word("bypass") {
            bypass = true;
        } else if cur.eat_word("fanout") {
            fanout = true;
        } else if cur.peek().is_some_and(|t| matches!(t.kind, TokKind::Comma)) {
            cur.next();
        } else {
            break;
        }
    }
    let span = cur.since(from);
    let mut w = vec![gw("-j", span), gw("NFQUEUE", span)];
    match num {
        Some(n) if n.text.contains('-') => {
            w.push(gw("--queue-balance", span));
            w.push(gw(n.text.replace('-', ":"), n.span));
        }
        Some(n) => {
            w.push(gw("--queue-num", span));
            w.push(gw(n.text.clone(), n.span));
        }
        None => {
            w.push(gw("--queue-num", span));
            w.push(gw("0", span));
        }
    }
    if bypass {
        w.push(gw("--queue-bypass", span));
    }
    if fanout {
        w.push(gw("--queue-cpu-fanout", span));
    }
    Ok(w)
}

/// `KEY [. KEY ...] vmap { k : verdict, ... }` (the first selector is read).
fn vmap(
    cur: &mut Cur<'_>,
    ctx: &Ctx<'_>,
    first: Sel,
    first_text: String,
    from: usize,
) -> R<(Cond, bool)> {
    let mut sels = vec![(first, first_text)];
    while cur.eat_word(".") {
        let (s, text) = selector(cur, ctx.family)?
            .ok_or_else(|| error(cur.here(), "expected a selector after `.`"))?;
        sels.push((s, text));
    }
    let is_map = cur.eat_word("vmap");
    if !is_map && cur.peek().is_some_and(|t| t.is_op("==")) {
        cur.next();
    }
    let set = cur.next().filter(|t| matches!(t.kind, TokKind::Set(_)));
    let set = set.ok_or_else(|| error(cur.here(), "expected `{ key : verdict, ... }`"))?;
    let span = cur.since(from);
    let elems = elements(set)?;
    let numgen = sels.len() == 1 && sels[0].0 == Sel::Numgen;
    let mut alts = Vec::new();
    for e in &elems {
        let mut parts = Vec::new();
        let mut key = Vec::new();
        if numgen {
            let v = single(&e.toks, "number")?;
            let n = number(v, u32::MAX as u128)?;
            parts.push(unknown(&format!("{} == {n}", sels[0].1), e.span));
            key.push(KeyComp::Range(n, n));
        } else {
            let comps: Vec<&[&Tok]> = e.toks.split(|t| t.is_word(".")).collect();
            if comps.len() != sels.len() {
                return Err(error(
                    e.span,
                    format!("a key of {} parts for a map of {}", comps.len(), sels.len()),
                ));
            }
            for ((sel, _), comp) in sels.iter().zip(comps) {
                if comp.is_empty() {
                    return Err(error(e.span, "an empty part of a key"));
                }
                match sel {
                    Sel::Addr { .. }
                    | Sel::Proto
                    | Sel::Port { .. }
                    | Sel::Iface { .. }
                    | Sel::Mark
                    | Sel::CtMark
                    | Sel::IcmpType { .. }
                    | Sel::PktType => {}
                    _ => return Err(error(span, "this selector is not read in a concatenation")),
                }
                let (p, k) = one_value(*sel, ctx.family, comp, false)?;
                parts.extend(p);
                key.push(k);
            }
        }
        if let Some(c) = e.comment {
            parts.push(comment_part(c));
        }
        let v = if is_map {
            let vt: Vec<Tok> = e.verdict.iter().map(|t| (*t).clone()).collect();
            let mut vc = Cur {
                toks: &vt,
                pos: 0,
                end: e.span,
            };
            let v = verdict(&mut vc, ctx)?
                .ok_or_else(|| error(e.span, "expected `: verdict` in a map element"))?;
            if vc.peek().is_some() {
                return Err(error(vc.here(), "expected the end of the element"));
            }
            Some(v)
        } else if !e.verdict.is_empty() {
            return Err(error(e.span, "a map element outside `vmap`"));
        } else {
            None
        };
        alts.push(Alt {
            parts,
            key,
            verdict: v,
            span: is_map.then_some(e.span),
        });
    }
    let mutable = sels.iter().any(|(s, _)| s.mutable());
    let stateful = numgen;
    let cond = Cond {
        alts,
        stateful,
        mutable,
        span,
    };
    // A map's keys must be disjoint (a packet takes one verdict); a set's
    // only where the rule could act twice (checked in `assemble`).
    if is_map {
        disjoint(&cond.alts, span)?;
    }
    Ok((cond, is_map))
}

/// The iptables rules: one per combination of alternatives, and per
/// combination one per statement and one for the verdict.
fn assemble(
    rule_span: Span,
    conds: Vec<Cond>,
    stmts: Vec<Stmt>,
    comments: Vec<Part>,
    last: Option<Vec<Gw>>,
) -> R<Vec<Line>> {
    let combos: usize = conds.iter().map(|c| c.alts.len()).product();
    let map_verdict = conds
        .iter()
        .any(|c| c.alts.iter().any(|a| a.verdict.is_some()));
    if conds
        .iter()
        .filter(|c| c.alts.iter().any(|a| a.verdict.is_some()))
        .count()
        > 1
    {
        return Err(error(rule_span, "two verdict maps in one rule"));
    }
    // A vmap stands for the verdict; `last` is then the empty placeholder.
    let last = if map_verdict { None } else { last };
    if combos > 1 {
        if combos > 100_000 {
            return Err(error(
                rule_span,
                "sets whose combinations exceed 100,000 rules",
            ));
        }
        if let Some(c) = conds.iter().find(|c| c.stateful && c.alts.len() == 1) {
            return Err(error(
                c.span,
                "a stateful match in a rule with a set: one rule per element would evaluate it again",
            ));
        }
        let jumps = |v: &Option<Vec<Gw>>| {
            v.as_ref().is_some_and(|w| {
                w[0].text == "-j"
                    && !matches!(
                        w[1].text.as_str(),
                        "ACCEPT"
                            | "DROP"
                            | "RETURN"
                            | "REJECT"
                            | "DNAT"
                            | "SNAT"
                            | "MASQUERADE"
                            | "REDIRECT"
                            | "NFQUEUE"
                    )
            })
        };
        // A packet in two elements of a set takes the rule twice, which is
        // the same only when the rule's action ends the chain.
        if !stmts.is_empty() || jumps(&last) {
            for c in conds
                .iter()
                .filter(|c| c.alts.len() > 1 && c.alts[0].verdict.is_none())
            {
                disjoint(&c.alts, c.span)?;
            }
        }
        for c in conds.iter().filter(|c| c.alts.len() > 1 && c.mutable) {
            let map_jumps = c.alts.iter().any(|a| jumps(&a.verdict));
            if !stmts.is_empty() || jumps(&last) || map_jumps {
                return Err(error(
                    c.span,
                    "a set on a mark or conntrack field with a statement or a jump: a later element could match after the field changed",
                ));
            }
        }
    }
    let count = stmts.len() + usize::from(last.is_some() || map_verdict);
    if count > 1 {
        if let Some(c) = conds.iter().find(|c| c.stateful) {
            return Err(error(
                c.span,
                "a stateful match in a rule with several statements: one iptables rule per statement would evaluate it again",
            ));
        }
        let tested: Vec<Field> = conds
            .iter()
            .flat_map(|c| &c.alts)
            .flat_map(|a| &a.parts)
            .filter_map(|p| match p {
                Part::Words(w) if w.len() > 1 => match w[1].text.as_str() {
                    "mark" => Some(Field::Mark),
                    "connmark" => Some(Field::CtMark),
                    "conntrack" => Some(Field::CtState),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        for s in &stmts {
            if let Some(f) = s.changes
                && tested.contains(&f)
            {
                return Err(error(
                    s.words[0].span,
                    "a statement changes a field the rule tests: one iptables rule per statement would not be the same",
                ));
            }
        }
    }
    let mut out = Vec::new();
    let mut index = vec![0usize; conds.len()];
    for _ in 0..combos {
        let alts: Vec<&Alt> = conds.iter().zip(&index).map(|(c, &i)| &c.alts[i]).collect();
        let span = alts
            .iter()
            .find_map(|a| a.verdict.as_ref().and(a.span))
            .unwrap_or(rule_span);
        let mut parts: Vec<&Part> = alts.iter().flat_map(|a| &a.parts).collect();
        parts.extend(&comments);
        let matches = match_words(&parts, span)?;
        let verdict = alts
            .iter()
            .find_map(|a| a.verdict.clone())
            .or_else(|| last.clone());
        for s in &stmts {
            let mut w = matches.clone();
            w.extend(s.words.iter().cloned());
            out.push(Line { span, words: w });
        }
        if let Some(v) = verdict {
            let mut w = matches.clone();
            w.extend(v);
            out.push(Line { span, words: w });
        } else if stmts.is_empty() {
            out.push(Line {
                span,
                words: matches.clone(),
            });
        }
        // Next combination.
        for (k, c) in conds.iter().enumerate().rev() {
            index[k] += 1;
            if index[k] < c.alts.len() {
                break;
            }
            index[k] = 0;
        }
    }
    Ok(out)
}

const L4_MODULES: &[&str] = &["tcp", "udp", "sctp", "dccp"];

/// The match words of one combination: `-p` first, then the rest in order.
fn match_words(parts: &[&Part], span: Span) -> R<Vec<Gw>> {
    let number = |name: &str| Protocol::parse(name).ok().and_then(|p| p.number);
    let mut positive: Option<(String, Span)> = None;
    let mut negatives: Vec<(String, Span)> = Vec::new();
    let want = |name: &str, s: Span, positive: &mut Option<(String, Span)>| -> R<()> {
        match positive {
            Some((p, _)) if number(p) != number(name) => Err(error(
                s,
                format!("protocol `{name}` in a rule that already tests `{p}`: no packet matches"),
            )),
            Some(_) => Ok(()),
            None => {
                *positive = Some((name.to_string(), s));
                Ok(())
            }
        }
    };
    for p in parts {
        match p {
            Part::Proto {
                name,
                negated: false,
                span,
            } => want(name, *span, &mut positive)?,
            Part::Proto { name, span, .. } => negatives.push((name.clone(), *span)),
            Part::L4 {
                implies: Some(i),
                span,
                ..
            } => want(i, *span, &mut positive)?,
            _ => {}
        }
    }
    let mut out = Vec::new();
    match (&positive, negatives.as_slice()) {
        (Some((p, s)), negs) => {
            for (n, ns) in negs {
                if number(n) == number(p) {
                    return Err(error(
                        *ns,
                        format!("`{p}` and not `{n}`: no packet matches"),
                    ));
                }
            }
            out.push(gw("-p", *s));
            out.push(gw(p.clone(), *s));
        }
        (None, [(n, s)]) => {
            out.extend([gw("!", *s), gw("-p", *s), gw(n.clone(), *s)]);
        }
        (None, []) => {}
        (None, [_, (_, s), ..]) => {
            return Err(error(*s, "two negated protocols have no iptables form"));
        }
    }
    let proto_name = positive.as_ref().map(|(p, _)| p.as_str());
    for p in parts {
        match p {
            Part::Proto { .. } => {}
            Part::Words(w) => out.extend(w.iter().cloned()),
            Part::L4 {
                module,
                words,
                span: s,
                ..
            } => {
                let l4 = proto_name.and_then(|p| {
                    let n = number(p)?;
                    L4_MODULES.iter().copied().find(|m| number(m) == Some(n))
                });
                let module = match module {
                    Some(m) => {
                        if *m == "multiport" && l4.is_none() {
                            return Err(error(
                                *s,
                                "a port set needs `meta l4proto tcp|udp|sctp|dccp`",
                            ));
                        }
                        *m
                    }
                    None => l4.ok_or_else(|| {
                        error(*s, "`th` needs `meta l4proto tcp|udp|sctp|dccp` before it")
                    })?,
                };
                out.push(gw("-m", *s));
                out.push(gw(module, *s));
                out.extend(words.iter().cloned());
            }
        }
    }
    let _ = span;
    Ok(out)
}
