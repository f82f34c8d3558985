//! One concrete packet, as the modelled matches see it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::Family;

/// What connection tracking says about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtBase {
    /// No conntrack entry (`INVALID`).
    Invalid,
    /// `-j CT --notrack` / `NOTRACK` was applied.
    Untracked,
    New,
    Established,
    Related,
}

impl CtBase {
    pub const ALL: [CtBase; 5] = [
        CtBase::Invalid,
        CtBase::Untracked,
        CtBase::New,
        CtBase::Established,
        CtBase::Related,
    ];

    /// `true` when there is a conntrack entry (what `-m connmark` needs).
    pub fn is_tracked(self) -> bool {
        matches!(self, CtBase::New | CtBase::Established | CtBase::Related)
    }
}

/// Conntrack state of a packet. `snat`/`dnat` are the `SNAT`/`DNAT` virtual
/// states of `--ctstate` (the entry's NAT status bits); they only exist on a
/// tracked packet and are ignored otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conntrack {
    pub state: CtBase,
    pub snat: bool,
    pub dnat: bool,
}

impl Conntrack {
    pub const fn new(state: CtBase) -> Conntrack {
        Conntrack {
            state,
            snat: false,
            dnat: false,
        }
    }

    /// The 14 distinct conntrack situations, numbered 0..14.
    pub(crate) fn atom(self) -> u128 {
        match self.state {
            CtBase::Invalid => 0,
            CtBase::Untracked => 1,
            s => {
                let base = match s {
                    CtBase::New => 0,
                    CtBase::Established => 1,
                    _ => 2,
                };
                2 + base * 4 + (self.snat as u128) * 2 + self.dnat as u128
            }
        }
    }

    pub(crate) fn from_atom(a: u128) -> Conntrack {
        match a {
            0 => Conntrack::new(CtBase::Invalid),
            1 => Conntrack::new(CtBase::Untracked),
            _ => {
                let a = a - 2;
                let state = [CtBase::New, CtBase::Established, CtBase::Related][(a / 4) as usize];
                Conntrack {
                    state,
                    snat: a & 2 != 0,
                    dnat: a & 1 != 0,
                }
            }
        }
    }
}

/// The route type of an address, as `-m addrtype` sees it (kernel `RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrType {
    Unspec,
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

impl AddrType {
    pub const ALL: [AddrType; 12] = [
        AddrType::Unspec,
        AddrType::Unicast,
        AddrType::Local,
        AddrType::Broadcast,
        AddrType::Anycast,
        AddrType::Multicast,
        AddrType::Blackhole,
        AddrType::Unreachable,
        AddrType::Prohibit,
        AddrType::Throw,
        AddrType::Nat,
        AddrType::Xresolve,
    ];

    /// The name `--src-type`/`--dst-type` takes (upper case).
    pub fn parse(name: &str) -> Option<AddrType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Unspec => "UNSPEC",
            AddrType::Unicast => "UNICAST",
            AddrType::Local => "LOCAL",
            AddrType::Broadcast => "BROADCAST",
            AddrType::Anycast => "ANYCAST",
            AddrType::Multicast => "MULTICAST",
            AddrType::Blackhole => "BLACKHOLE",
            AddrType::Unreachable => "UNREACHABLE",
            AddrType::Prohibit => "PROHIBIT",
            AddrType::Throw => "THROW",
            AddrType::Nat => "NAT",
            AddrType::Xresolve => "XRESOLVE",
        }
    }

    pub(crate) fn index(self) -> u128 {
        self as u128
    }
}

/// A concrete packet: every field a modelled match can test.
///
/// Addresses are integers of the rule set's family (an IPv4 address in the
/// low 32 bits). `later_fragment` is a non-first fragment (what `-f` matches;
/// such a packet has no transport header, so ports, ICMP type and TCP flags
/// mean nothing for it). Ports and ICMP fields are only meaningful for the
/// protocols that have them; the algebra still gives them values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    pub src: u128,
    pub dst: u128,
    pub protocol: u8,
    pub sport: u16,
    pub dport: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// `None`: no input device (OUTPUT; POSTROUTING for locally sent packets).
    pub in_interface: Option<String>,
    /// `None`: no output device (PREROUTING, INPUT).
    pub out_interface: Option<String>,
    pub conntrack: Conntrack,
    pub mark: u32,
    pub connmark: u32,
    /// TCP header byte 13: CWR ECE URG ACK PSH RST SYN FIN.
    pub tcp_flags: u8,
    pub later_fragment: bool,
    pub src_type: AddrType,
    pub dst_type: AddrType,
}

impl Default for Packet {
    /// A plain TCP SYN to port 80 opening a new connection.
    fn default() -> Packet {
        Packet {
            src: 0,
            dst: 0,
            protocol: 6,
            sport: 1024,
            dport: 80,
            icmp_type: 8,
            icmp_code: 0,
            in_interface: None,
            out_interface: None,
            conntrack: Conntrack::new(CtBase::New),
            mark: 0,
            connmark: 0,
            tcp_flags: 0x02,
            later_fragment: false,
            src_type: AddrType::Unicast,
            dst_type: AddrType::Unicast,
        }
    }
}

/// An address integer as an [`IpAddr`] of the family.
pub fn ip(family: Family, value: u128) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// Prints a packet the way a person reads one.
pub struct Display<'a> {
    pub packet: &'a Packet,
    pub family: Family,
}

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.packet;
        write!(
            f,
            "{} -> {} proto {}",
            ip(self.family, p.src),
            ip(self.family, p.dst),
            p.protocol
        )?;
        match p.protocol {
            6 | 17 | 33 | 132 | 136 => write!(f, " sport {} dport {}", p.sport, p.dport)?,
            1 | 58 => write!(f, " icmp {}/{}", p.icmp_type, p.icmp_code)?,
            _ => {}
        }
        if p.protocol == 6 {
            write!(f, " flags {:#04x}", p.tcp_flags)?;
        }
        write!(
            f,
            " in {} out {}",
            p.in_interface.as_deref().unwrap_or("-"),
            p.out_interface.as_deref().unwrap_or("-")
        )?;
        write!(f, " ct {:?}", p.conntrack.state)?;
        if p.conntrack.state.is_tracked() && (p.conntrack.snat || p.conntrack.dnat) {
            write!(
                f,
                "{}{}",
                if p.conntrack.snat { "+SNAT" } else { "" },
                if p.conntrack.dnat { "+DNAT" } else { "" }
            )?;
        }
        write!(f, " mark {:#x} connmark {:#x}", p.mark, p.connmark)?;
        if p.later_fragment {
            f.write_str(" fragment")?;
        }
        write!(f, " types {}/{}", p.src_type.as_str(), p.dst_type.as_str())
    }
}
