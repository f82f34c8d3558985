//! A partly specified packet (`trace`'s flags) as a region: every field left
//! out is "any".

use crate::model::{MarkMask, Net, PortRange, Protocol};
use crate::space::{Conntrack, CtBase, Dim, Packet, PacketSet, SpaceContext};

/// The fields a user gave, as text, each checked when the region is built.
#[derive(Clone, Debug, Default)]
pub struct PacketQuery {
    pub proto: Option<String>,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub sport: Option<String>,
    pub dport: Option<String>,
    pub icmp_type: Option<String>,
    pub in_interface: Option<String>,
    pub out_interface: Option<String>,
    /// Comma-separated conntrack states.
    pub state: Option<String>,
    pub mark: Option<String>,
}

impl PacketQuery {
    /// The interface names the query mentions (the context must know them).
    pub fn interfaces(&self) -> Vec<&str> {
        [&self.in_interface, &self.out_interface]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect()
    }

    /// The packets the query describes, or what is wrong with a flag.
    pub fn region(&self, ctx: &SpaceContext) -> Result<PacketSet, String> {
        let mut set = ctx.universe();
        if let Some(p) = &self.proto {
            let proto = Protocol::parse(p)?;
            let n = proto
                .number
                .ok_or_else(|| format!("--proto: `{p}` is not a protocol iptlint knows"))?;
            if n != 0 {
                set = set.restrict_range(Dim::Protocol, n as u128, n as u128);
            }
        }
        for (flag, text, dim) in [
            ("--src", &self.src, Dim::Src),
            ("--dst", &self.dst, Dim::Dst),
        ] {
            let Some(text) = text else { continue };
            let net = Net::parse(text).map_err(|e| format!("{flag}: {e}"))?;
            if net.family() != ctx.family() {
                return Err(format!(
                    "{flag}: `{text}` is not an {} address",
                    ctx.family().as_str()
                ));
            }
            set = set.restrict_pattern(dim, net.addr_u128(), net.mask());
        }
        for (flag, text, dim) in [
            ("--sport", &self.sport, Dim::SrcPort),
            ("--dport", &self.dport, Dim::DstPort),
        ] {
            let Some(text) = text else { continue };
            let r = PortRange::parse(text).map_err(|e| format!("{flag}: {e}"))?;
            set = set.restrict_range(dim, r.lo as u128, r.hi as u128);
        }
        if self.sport.is_some() || self.dport.is_some() || self.icmp_type.is_some() {
            // Only a first fragment has a transport header to carry these.
            set = set.restrict_range(Dim::Fragment, 0, 0);
        }
        if let Some(t) = &self.icmp_type {
            let (lo, hi) = icmp(t).ok_or_else(|| {
                format!("--icmp-type: `{t}` is not TYPE, TYPE/CODE or a known name")
            })?;
            set = set.restrict_range(Dim::Icmp, lo, hi);
        }
        for (text, dim) in [
            (&self.in_interface, Dim::InInterface),
            (&self.out_interface, Dim::OutInterface),
        ] {
            let Some(name) = text else { continue };
            let mut p = Packet::default();
            if dim == Dim::InInterface {
                p.in_interface = Some(name.clone());
            } else {
                p.out_interface = Some(name.clone());
            }
            let atom = ctx.point(&p)[dim as usize];
            set = set.restrict_range(dim, atom, atom);
        }
        if let Some(states) = &self.state {
            let mut allowed = ctx.empty();
            for s in states.split(',') {
                let base = match s.trim().to_ascii_uppercase().as_str() {
                    "NEW" => CtBase::New,
                    "ESTABLISHED" => CtBase::Established,
                    "RELATED" => CtBase::Related,
                    "INVALID" => CtBase::Invalid,
                    "UNTRACKED" => CtBase::Untracked,
                    other => {
                        return Err(format!(
                            "--state: `{other}` is not NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED"
                        ));
                    }
                };
                // Any NAT status bits: an established connection may have been NATed.
                let lo = ctx.point(&Packet {
                    conntrack: Conntrack::new(base),
                    ..Packet::default()
                })[Dim::Conntrack as usize];
                let hi = if base.is_tracked() { lo + 3 } else { lo };
                allowed = allowed.union(&set.restrict_range(Dim::Conntrack, lo, hi));
            }
            set = allowed;
        }
        if let Some(m) = &self.mark {
            let mm = MarkMask::parse(m).map_err(|e| format!("--mark: {e}"))?;
            set = set.restrict_pattern(Dim::Mark, mm.value as u128, mm.mask as u128);
        }
        Ok(set)
    }
}

/// `TYPE`, `TYPE/CODE` or a common name, as a range of type·256+code.
fn icmp(text: &str) -> Option<(u128, u128)> {
    let named = [
        ("echo-reply", 0),
        ("destination-unreachable", 3),
        ("redirect", 5),
        ("echo-request", 8),
        ("time-exceeded", 11),
        ("parameter-problem", 12),
    ];
    if let Some(&(_, t)) = named.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Some((t << 8, (t << 8) | 255));
    }
    let (t, c) = match text.split_once('/') {
        Some((t, c)) => (t, Some(c)),
        None => (text, None),
    };
    let t: u8 = t.parse().ok()?;
    let t = (t as u128) << 8;
    match c {
        Some(c) => {
            let c: u8 = c.parse().ok()?;
            Some((t | c as u128, t | c as u128))
        }
        None => Some((t, t | 255)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn flags_make_the_region() {
        let ctx = SpaceContext::new(Family::Ipv4, ["eth0"]);
        let q = PacketQuery {
            proto: Some("tcp".into()),
            dst: Some("10.0.0.0/24".into()),
            dport: Some("22".into()),
            in_interface: Some("eth0".into()),
            state: Some("NEW".into()),
            ..PacketQuery::default()
        };
        let r = q.region(&ctx).unwrap();
        let p = Packet {
            dst: 0x0A00_0007,
            dport: 22,
            in_interface: Some("eth0".into()),
            ..Packet::default()
        };
        assert!(r.contains(&ctx, &p));
        assert!(!r.contains(
            &ctx,
            &Packet {
                dport: 23,
                ..p.clone()
            }
        ));
        assert!(!r.contains(
            &ctx,
            &Packet {
                in_interface: Some("eth1".into()),
                ..p.clone()
            }
        ));
        let est = Packet {
            conntrack: Conntrack::new(CtBase::Established),
            ..p
        };
        assert!(!r.contains(&ctx, &est));
        let bad = PacketQuery {
            src: Some("2001:db8::1".into()),
            ..PacketQuery::default()
        };
        assert!(bad.region(&ctx).is_err());
    }
}
