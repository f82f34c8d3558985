//! Sets of packets in words: `tcp from 10.0.0.0/24 dport 22 in eth0`.
//!
//! A set is a union of disjoint pieces; each piece is described by the
//! fields it restricts, in iptables terms (prefixes, port ranges, states).
//! Fields a piece leaves free are not mentioned: "any".

use crate::model::Family;
use crate::space::{CtBase, Dim, PacketSet, SpaceContext, ip};

/// Up to `limit` pieces of `set`, one description each; a piece that
/// restricts nothing is `any packet`.
pub fn describe_set(ctx: &SpaceContext, set: &PacketSet, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for part in set.describe_parts().into_iter().take(limit) {
        let words: Vec<String> = part
            .iter()
            .filter_map(|(d, bits, items)| field(ctx, *d, *bits, items))
            .collect();
        out.push(if words.is_empty() {
            "any packet".to_string()
        } else {
            words.join(" ")
        });
    }
    out
}

/// The labels of interface atoms `lo..=hi` (see [`SpaceContext::interface_label`]).
pub fn interface_names(ctx: &SpaceContext, lo: u128, hi: u128) -> Vec<String> {
    (lo..=hi).map(|a| ctx.interface_label(a)).collect()
}

fn max_of(ctx: &SpaceContext, d: Dim) -> u128 {
    ctx.domain().max_of(d as usize)
}

/// Intervals of a field as the complement within its domain.
fn complement(items: &[(u128, u128)], max: u128) -> Vec<(u128, u128)> {
    let mut out = Vec::new();
    let mut next = 0u128;
    let mut done = false;
    for &(lo, hi) in items {
        if lo > next {
            out.push((next, lo - 1));
        }
        if hi == max {
            done = true;
            break;
        }
        next = hi + 1;
    }
    if !done {
        out.push((next, max));
    }
    out
}

/// A field's condition in words; `None` for what the path implies anyway
/// (no device, or any device, on an interface).
fn field(ctx: &SpaceContext, d: Dim, bits: bool, items: &[(u128, u128)]) -> Option<String> {
    let family = ctx.family();
    let max = max_of(ctx, d);
    let name = match d {
        Dim::Src => "src",
        Dim::Dst => "dst",
        Dim::Protocol => "proto",
        Dim::SrcPort => "sport",
        Dim::DstPort => "dport",
        Dim::Icmp => "icmp",
        Dim::InInterface => "in",
        Dim::OutInterface => "out",
        Dim::Conntrack => "ctstate",
        Dim::Mark => "mark",
        Dim::Connmark => "connmark",
        Dim::TcpFlags => "tcp-flags",
        Dim::Fragment => "fragment",
        Dim::SrcType => "src-type",
        Dim::DstType => "dst-type",
    };
    if d == Dim::Fragment {
        let later = items == [(1, 1)];
        return Some(if later { "fragment" } else { "not-fragment" }.to_string());
    }
    if bits {
        let pats: Vec<String> = items
            .iter()
            .map(|&(v, m)| match d {
                Dim::Src | Dim::Dst => format!("{}/{}", ip(family, v), ip(family, m)),
                _ => format!("{v:#x}/{m:#x}"),
            })
            .collect();
        return Some(format!("{name} {}", pats.join(",")));
    }
    // Print the shorter of the set and its complement (interfaces: the
    // names, unless there are many).
    let comp = complement(items, max);
    let count = |v: &[(u128, u128)]| v.iter().map(|r| r.1 - r.0 + 1).sum::<u128>();
    let iface = matches!(d, Dim::InInterface | Dim::OutInterface);
    let (neg, show) = if iface {
        // Prefer the side that names real interfaces, not "(other)" classes;
        // "no device" is left out of a negation (the path implies it).
        let has_class = |v: &[(u128, u128)]| {
            v.iter()
                .flat_map(|&(lo, hi)| lo..=hi)
                .any(|a| ctx.interface_label(a).contains("(other)"))
        };
        let comp: Vec<(u128, u128)> = comp
            .into_iter()
            .filter_map(|(lo, hi)| (lo.max(1) <= hi).then_some((lo.max(1), hi)))
            .collect();
        if items == [(0, 0)] || comp.is_empty() {
            return None;
        }
        let positive = !has_class(items) || (has_class(&comp) && count(items) <= count(&comp));
        if positive || comp.is_empty() {
            (false, items.to_vec())
        } else {
            (true, comp)
        }
    } else if comp.len() < items.len()
        || (comp.len() == items.len() && items.first().is_some_and(|r| r.0 == 0))
    {
        (true, comp)
    } else {
        (false, items.to_vec())
    };
    let values: Vec<String> = match d {
        Dim::Src | Dim::Dst => show
            .iter()
            .flat_map(|&(lo, hi)| prefixes(family, lo, hi))
            .collect(),
        Dim::Protocol => show
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    proto_name(lo as u8)
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect(),
        Dim::SrcPort | Dim::DstPort | Dim::Mark | Dim::Connmark if show.len() <= 8 => show
            .iter()
            .map(|&(lo, hi)| {
                let f = |x: u128| {
                    if matches!(d, Dim::Mark | Dim::Connmark) {
                        format!("{x:#x}")
                    } else {
                        x.to_string()
                    }
                };
                if lo == hi {
                    f(lo)
                } else {
                    format!("{}:{}", f(lo), f(hi))
                }
            })
            .collect(),
        Dim::Icmp => show
            .iter()
            .map(|&(lo, hi)| {
                let (t1, c1, t2, c2) = (lo >> 8, lo & 255, hi >> 8, hi & 255);
                if t1 == t2 && c1 == 0 && c2 == 255 {
                    format!("type {t1}")
                } else if lo == hi {
                    format!("{t1}/{c1}")
                } else {
                    format!("{t1}/{c1}-{t2}/{c2}")
                }
            })
            .collect(),
        Dim::InInterface | Dim::OutInterface => show
            .iter()
            .flat_map(|&(lo, hi)| interface_names(ctx, lo, hi))
            .collect(),
        Dim::Conntrack => {
            let mut names: Vec<String> = Vec::new();
            for &(lo, hi) in &show {
                for a in lo..=hi {
                    let c = crate::space::Conntrack::from_atom(a);
                    let mut n = match c.state {
                        CtBase::Invalid => "INVALID",
                        CtBase::Untracked => "UNTRACKED",
                        CtBase::New => "NEW",
                        CtBase::Established => "ESTABLISHED",
                        CtBase::Related => "RELATED",
                    }
                    .to_string();
                    if c.snat {
                        n.push_str("+SNAT");
                    }
                    if c.dnat {
                        n.push_str("+DNAT");
                    }
                    names.push(n);
                }
            }
            compress_ct(names)
        }
        Dim::SrcType | Dim::DstType => show
            .iter()
            .flat_map(|&(lo, hi)| lo..=hi)
            .map(|i| crate::space::AddrType::ALL[i as usize].as_str().to_string())
            .collect(),
        _ => show.iter().map(|&(lo, hi)| format!("{lo}-{hi}")).collect(),
    };
    let bang = if neg { "! " } else { "" };
    Some(format!("{bang}{name} {}", values.join(",")))
}

/// `NEW,NEW+SNAT,NEW+DNAT,NEW+SNAT+DNAT` is just `NEW`.
fn compress_ct(names: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for base in ["NEW", "ESTABLISHED", "RELATED"] {
        let all = ["", "+DNAT", "+SNAT", "+SNAT+DNAT"]
            .iter()
            .all(|s| names.contains(&format!("{base}{s}")));
        if all {
            out.push(base.to_string());
        }
    }
    for n in names {
        let base = n.split('+').next().unwrap_or_default();
        if !out.iter().any(|o| o == base) {
            out.push(n);
        }
    }
    out
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        33 => "dccp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        _ => p.to_string(),
    }
}

/// `lo..=hi` as CIDR prefixes (or `lo-hi` when that takes more than four).
fn prefixes(family: Family, lo: u128, hi: u128) -> Vec<String> {
    let width: u32 = if family == Family::Ipv4 { 32 } else { 128 };
    let mut out = Vec::new();
    let mut cur = lo;
    loop {
        let align = if cur == 0 {
            width
        } else {
            cur.trailing_zeros().min(width)
        };
        let mut k = align;
        while k > 0 {
            let span = if k >= 128 {
                u128::MAX
            } else {
                (1u128 << k) - 1
            };
            if cur.checked_add(span).is_some_and(|e| e <= hi) {
                break;
            }
            k -= 1;
        }
        let span = if k >= 128 {
            u128::MAX
        } else {
            (1u128 << k) - 1
        };
        out.push(if k == 0 {
            ip(family, cur).to_string()
        } else {
            format!("{}/{}", ip(family, cur), width - k)
        });
        if out.len() > 4 {
            return vec![format!("{}-{}", ip(family, lo), ip(family, hi))];
        }
        match cur.checked_add(span) {
            Some(e) if e < hi => cur = e + 1,
            _ => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_ranges() {
        let v4 = |s: &str| u32::from(s.parse::<std::net::Ipv4Addr>().unwrap()) as u128;
        assert_eq!(
            prefixes(Family::Ipv4, v4("10.0.0.0"), v4("10.0.0.255")),
            ["10.0.0.0/24"]
        );
        assert_eq!(
            prefixes(Family::Ipv4, v4("10.0.0.7"), v4("10.0.0.7")),
            ["10.0.0.7"]
        );
        assert_eq!(
            prefixes(Family::Ipv4, v4("10.0.0.0"), v4("10.0.1.127")),
            ["10.0.0.0/24", "10.0.1.0/25"]
        );
        assert_eq!(prefixes(Family::Ipv4, 0, u32::MAX as u128), ["0.0.0.0/0"]);
    }

    #[test]
    fn a_rule_space_reads_back() {
        let ctx = SpaceContext::new(Family::Ipv4, ["eth0"]);
        let set = ctx
            .universe()
            .restrict_range(Dim::Protocol, 6, 6)
            .restrict_range(Dim::DstPort, 22, 22)
            .restrict_pattern(Dim::Src, 0x0A00_0000, 0xFFFF_FF00);
        let d = describe_set(&ctx, &set, 3);
        assert_eq!(d, ["src 10.0.0.0/24 proto tcp dport 22"]);
        let not22 = ctx
            .universe()
            .difference(&ctx.universe().restrict_range(Dim::DstPort, 22, 22));
        assert_eq!(describe_set(&ctx, &not22, 3), ["! dport 22"]);
    }
}
