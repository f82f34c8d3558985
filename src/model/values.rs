//! Typed values of options: addresses, ports, interfaces, marks, states, ...
//!
//! Each type parses the text iptables accepts for it and prints it back the way
//! iptables-save does. Parsing is strict where iptables is strict (a port above
//! 65535 is an error) so that iptlint rejects what the real tools reject.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Family;

/// An address with a mask: `10.0.0.0/8`, `10.0.0.0/255.0.0.0` (any mask,
/// contiguous or not), `2001:db8::/32`, or a bare address (all bits).
/// Host bits outside the mask are kept as written; the kernel ignores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    pub addr: IpAddr,
    /// The mask's bytes: as a `u128` it would align the struct, and with it
    /// every address list and option value, to 16 bytes. See [`Net::mask`].
    mask: [u8; 16],
}

impl Net {
    pub fn new(addr: IpAddr, mask: u128) -> Net {
        Net {
            addr,
            mask: mask.to_le_bytes(),
        }
    }

    /// The mask as an integer of the family's width.
    pub fn mask(&self) -> u128 {
        u128::from_le_bytes(self.mask)
    }

    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }

    pub fn bits(&self) -> u32 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    pub fn addr_u128(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        }
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u32> {
        let width = self.bits();
        let full = if width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        let ones = self.mask().count_ones();
        let contiguous = if ones == 0 {
            0
        } else {
            (full << (width - ones)) & full
        };
        (self.mask() == contiguous).then_some(ones)
    }

    /// True when bits outside the mask are set (`10.0.0.1/8`).
    pub fn has_host_bits(&self) -> bool {
        self.addr_u128() & !self.mask() != 0
    }

    pub fn parse(text: &str) -> Result<Net, String> {
        let (addr_text, mask_text) = match text.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .ok()
            .or_else(|| xtables_ipv4(addr_text).map(IpAddr::V4))
            .ok_or_else(|| format!("`{addr_text}` is not an IP address"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let full: u128 = if width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        let mask = match mask_text {
            None => full,
            Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
                let len: u32 = m
                    .parse()
                    .map_err(|_| format!("`{m}` is not a prefix length"))?;
                if len > width {
                    return Err(format!("prefix length {len} is longer than {width} bits"));
                }
                if len == 0 {
                    0
                } else {
                    (full << (width - len)) & full
                }
            }
            Some(m) => match (addr, m.parse::<IpAddr>()) {
                (IpAddr::V4(_), Ok(IpAddr::V4(mask))) => u32::from(mask) as u128,
                (IpAddr::V6(_), Ok(IpAddr::V6(mask))) => u128::from(mask),
                _ => return Err(format!("`{m}` is not a mask for `{addr_text}`")),
            },
        };
        Ok(Net::new(addr, mask))
    }
}

/// IPv4 as iptables reads it beyond the usual dotted quad: missing trailing
/// parts are zero (`10` is 10.0.0.0, `1.2.3` is 1.2.3.0) and each part may be
/// hexadecimal (`0x0a`) or octal (`010`), as `strtoul` with base 0 reads it.
fn xtables_ipv4(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        let value = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if part.len() > 1 && part.starts_with('0') {
            u32::from_str_radix(&part[1..], 8).ok()?
        } else if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()?
        } else {
            return None;
        };
        *octet = u8::try_from(value).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(len) => write!(f, "{}/{}", self.addr, len),
            None => match self.addr {
                IpAddr::V4(a) => write!(f, "{}/{}", a, Ipv4Addr::from(self.mask() as u32)),
                IpAddr::V6(a) => write!(f, "{}/{}", a, Ipv6Addr::from(self.mask())),
            },
        }
    }
}

/// What `-s`/`-d` name: an address with mask, or a host name iptables would
/// resolve through DNS when loading (iptlint never resolves it: unknown).
/// Read it through [`AddrSpec::kind`].
///
/// Kept in 16 bytes: an IPv4 address and its mask inline, which is nearly
/// every address of a dump, and anything else boxed. As a plain enum of a
/// [`Net`] and a name it took 40, and every `-s`/`-d` list held one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AddrSpec(AddrRepr);

// A net is stored as `V4` exactly when its address is IPv4, so that
// derived equality and hashing hold.
#[derive(Clone, PartialEq, Eq, Hash)]
enum AddrRepr {
    V4 { addr: [u8; 4], mask: [u8; 4] },
    Net(Box<Net>),
    Host(Box<super::Text>),
}

/// What an [`AddrSpec`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrKind<'a> {
    Net(Net),
    Host(&'a str),
}

impl AddrSpec {
    pub fn net(net: Net) -> AddrSpec {
        AddrSpec(match net.addr {
            IpAddr::V4(a) => AddrRepr::V4 {
                addr: a.octets(),
                mask: (net.mask() as u32).to_be_bytes(),
            },
            IpAddr::V6(_) => AddrRepr::Net(Box::new(net)),
        })
    }

    pub fn host(name: super::Text) -> AddrSpec {
        AddrSpec(AddrRepr::Host(Box::new(name)))
    }

    pub fn kind(&self) -> AddrKind<'_> {
        match &self.0 {
            AddrRepr::V4 { addr, mask } => AddrKind::Net(Net::new(
                IpAddr::V4(Ipv4Addr::from(*addr)),
                u128::from(u32::from_be_bytes(*mask)),
            )),
            AddrRepr::Net(n) => AddrKind::Net(**n),
            AddrRepr::Host(h) => AddrKind::Host(h),
        }
    }

    /// The address and mask, unless this is a host name.
    pub fn as_net(&self) -> Option<Net> {
        match self.kind() {
            AddrKind::Net(n) => Some(n),
            AddrKind::Host(_) => None,
        }
    }
}

impl fmt::Display for AddrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            AddrKind::Net(n) => n.fmt(f),
            AddrKind::Host(h) => f.write_str(h),
        }
    }
}

impl fmt::Debug for AddrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kind(), f)
    }
}

/// `-p`: a protocol name or number. `all`/`0` matches every protocol.
///
/// Three bytes: the number, and which name of the protocol table was
/// written. A word that is not exactly such a name (`6`, `TCP`) is kept by
/// the rule, with the rarely used parts (see [`super::Rule::protocol_written`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// IANA number; `None` only for a name iptlint does not know.
    pub number: Option<u8>,
    /// Index of the name as written in the protocol table, or
    /// [`NOT_A_NAME`] when the word was written otherwise.
    known: u8,
}

/// [`Protocol::known`] of a word that is not a name of the table.
const NOT_A_NAME: u8 = u8::MAX;

/// Protocol names `-p` knows: iptables' own (`all`, `icmpv6`, `mh`,
/// `ipv6-mh`) and the names of a standard `/etc/protocols` (Debian's
/// netbase), which iptables looks up with getprotobyname. The first name of
/// a number is its canonical one.
// `Protocol::known` indexes this table with a byte.
const _: () = assert!(PROTOCOLS.len() < NOT_A_NAME as usize);
const PROTOCOLS: &[(&str, u8)] = &[
    ("all", 0),
    ("icmpv6", 58),
    ("mh", 135),
    ("ipv6-mh", 135),
    ("ip", 0),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("skip", 57),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("sctp", 132),
    ("fc", 133),
    ("mobility-header", 135),
    ("udplite", 136),
    ("mpls-in-ip", 137),
    ("manet", 138),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
    ("ethernet", 143),
];

impl Protocol {
    pub fn parse(text: &str) -> Result<Protocol, String> {
        // iptables lowercases the word, then reads a number (decimal, 0x
        // hex or 0 octal) or looks the name up.
        let lower = text.to_ascii_lowercase();
        // The table entry of the name, if the word is one.
        let mut entry = None;
        let number = if lower.starts_with(|c: char| c.is_ascii_digit()) {
            let n = parse_u32(&lower).map_err(|_| format!("`{text}` is not a protocol number"))?;
            if n > 255 {
                return Err(format!("protocol number {n} is above 255"));
            }
            Some(n as u8)
        } else if let Some(i) = PROTOCOLS.iter().position(|(name, _)| *name == lower) {
            entry = Some(i);
            Some(PROTOCOLS[i].1)
        } else if lower == "mptcp" {
            // /etc/protocols gives it 262, which no IP header can carry.
            None
        } else {
            return Err(format!(
                "unknown protocol `{text}`: not a number from 0 to 255 nor a name in /etc/protocols"
            ));
        };
        // Written exactly as the table has it (not `TCP`): nothing to keep.
        let known = entry.filter(|&i| PROTOCOLS[i].0 == text);
        Ok(Protocol {
            number,
            known: known.map_or(NOT_A_NAME, |i| i as u8),
        })
    }

    /// The word as written, when it is exactly a name of the protocol
    /// table; `None` for any other word (the rule keeps that one).
    pub fn written_name(&self) -> Option<&'static str> {
        PROTOCOLS
            .get(usize::from(self.known))
            .map(|(name, _)| *name)
    }

    /// The canonical lower-case name, when it has one.
    pub fn name(&self) -> Option<&'static str> {
        let n = self.number?;
        PROTOCOLS
            .iter()
            .find(|(_, num)| *num == n)
            .map(|(name, _)| *name)
    }

    pub fn is_all(&self) -> bool {
        self.number == Some(0)
    }
}

/// `-i eth0`, `-o veth+` (a trailing `+` matches every name with that prefix).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Interface {
    pub name: IfName,
}

/// An interface name: at most 15 bytes (the kernel's `IFNAMSIZ` less its
/// NUL), kept inline with one-byte alignment, so that `-i` and `-o` with
/// their `!` take 17 bytes each in every rule instead of 24.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName {
    len: u8,
    // Bytes past `len` are zero, so derived equality and hashing hold.
    bytes: [u8; 15],
}

impl IfName {
    /// `None` when longer than 15 bytes.
    pub fn new(text: &str) -> Option<IfName> {
        let mut bytes = [0; 15];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(IfName {
            len: text.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Built from a `&str` in `new`: whole, valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for IfName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for IfName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IfName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Interface {
    pub fn parse(text: &str) -> Result<Interface, String> {
        match IfName::new(text) {
            Some(name) => Ok(Interface { name }),
            None => Err(format!(
                "interface name `{text}` is longer than 15 characters"
            )),
        }
    }

    pub fn is_wildcard(&self) -> bool {
        self.name.ends_with('+')
    }

    /// `+` alone matches every interface.
    pub fn matches_all(&self) -> bool {
        self.name == "+"
    }
}

/// A port or an inclusive range `a:b` (`:b` is `0:b`, `a:` is `a:65535`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

mod services;

/// The protocols whose service names iptables looks up, as
/// `getservbyname` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceProtocol {
    Tcp,
    Udp,
    Sctp,
    Dccp,
    UdpLite,
}

impl ServiceProtocol {
    pub fn name(self) -> &'static str {
        match self {
            ServiceProtocol::Tcp => "tcp",
            ServiceProtocol::Udp => "udp",
            ServiceProtocol::Sctp => "sctp",
            ServiceProtocol::Dccp => "dccp",
            ServiceProtocol::UdpLite => "udplite",
        }
    }

    /// The protocol of a protocol number, when it has ports.
    pub fn of_number(number: u8) -> Option<ServiceProtocol> {
        Some(match number {
            6 => ServiceProtocol::Tcp,
            17 => ServiceProtocol::Udp,
            132 => ServiceProtocol::Sctp,
            33 => ServiceProtocol::Dccp,
            136 => ServiceProtocol::UdpLite,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        match self {
            ServiceProtocol::Tcp => services::TCP,
            ServiceProtocol::Udp => services::UDP,
            ServiceProtocol::Sctp => services::SCTP,
            // The services file lists no name for these.
            ServiceProtocol::Dccp | ServiceProtocol::UdpLite => 0,
        }
    }
}

/// A service name's port and the protocols it is listed for.
fn service(name: &str) -> Option<(u16, u8)> {
    let table = services::SERVICES;
    let i = table.binary_search_by(|(n, _, _)| (*n).cmp(name)).ok()?;
    Some((table[i].1, table[i].2))
}

/// The port of a service name listed for `protocol` (`getservbyname(name,
/// protocol)`, which the tcp, sctp and multiport matches use); `None` when
/// the name is not listed for it.
pub fn service_port(name: &str, protocol: ServiceProtocol) -> Option<u16> {
    service(name)
        .filter(|(_, protocols)| protocols & protocol.bit() != 0)
        .map(|(port, _)| port)
}

/// The protocols a service name is listed for, by name (empty when it is
/// not listed at all).
pub fn service_protocols(name: &str) -> Vec<&'static str> {
    let Some((_, protocols)) = service(name) else {
        return Vec::new();
    };
    [
        ServiceProtocol::Tcp,
        ServiceProtocol::Udp,
        ServiceProtocol::Sctp,
    ]
    .into_iter()
    .filter(|p| protocols & p.bit() != 0)
    .map(ServiceProtocol::name)
    .collect()
}

/// A port number or a service name of any protocol, as iptables' generic
/// option reader resolves it (`getaddrinfo`, used by the udp and dccp
/// matches and the NAT and TPROXY targets): a name listed only for TCP is
/// still a UDP port there. The tcp, sctp and multiport matches ask for their
/// own protocol's names; see [`service_port`].
pub fn parse_port(text: &str) -> Result<u16, String> {
    if let Ok(n) = text.parse::<u32>() {
        return u16::try_from(n).map_err(|_| format!("port {n} is above 65535"));
    }
    service(text)
        .filter(|(_, protocols)| protocols & !services::DDP != 0)
        .map(|(port, _)| port)
        .ok_or_else(|| format!("`{text}` is not a port number or known service name"))
}

/// C's `strtoul` with base 0 on a port: an optional `+`, then `0x` hex, `0`
/// octal or decimal digits, at most 65535; the value and the text after the
/// digits, `None` when no digit starts the text.
fn port_number_prefix(text: &str) -> Option<(Result<u16, String>, &str)> {
    let sign = usize::from(text.starts_with('+'));
    let bytes = &text.as_bytes()[sign..];
    let (radix, prefix) = match bytes {
        [b'0', b'x' | b'X', h, ..] if h.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        [d, ..] if d.is_ascii_digit() => (10, 0),
        _ => return None,
    };
    let start = sign + prefix;
    let end = start
        + text[start..]
            .find(|c: char| !c.is_digit(radix))
            .unwrap_or(text.len() - start);
    let value = u32::from_str_radix(&text[start..end], radix)
        .ok()
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("port `{}` is above 65535", &text[..end]));
    Some((value, &text[end..]))
}

/// The port part of a NAT target (`--to-destination A:PORTS`,
/// `--to-ports PORTS`), as the NAT targets read it: numbers (decimal, hex or
/// octal) with an optional `-MAX`, or else the whole part is one service
/// name, of any protocol in the services file (`ftp-data` is port 20, and
/// `ftp-2000` is no name, so iptables refuses it). A range may name a base
/// port after a `/` (`1000-2000/3000`, a shifted port map, see
/// [`nat_port_shift`]); the range is what this returns.
pub fn parse_nat_ports(text: &str) -> Result<PortRange, String> {
    let Some((lo, rest)) = port_number_prefix(text) else {
        let port = service(text)
            .map(|(port, _)| port)
            .ok_or_else(|| format!("`{text}` is not a port number or known service name (iptables: Port `{text}' not valid)"))?;
        return Ok(PortRange { lo: port, hi: port });
    };
    let lo = lo?;
    let hi = match rest.strip_prefix('-') {
        None if rest.is_empty() => lo,
        Some(max) => match port_number_prefix(max) {
            Some((hi, "")) => hi?,
            Some((hi, shift)) if shift.starts_with('/') => {
                nat_port_base(&shift[1..])?;
                hi?
            }
            _ => {
                return Err(format!(
                    "`{max}` is not a port number (iptables: Port `{max}' not valid)"
                ));
            }
        },
        None => return Err(format!("`{text}` is not a port or port range")),
    };
    if lo > hi {
        return Err(format!(
            "port range `{text}` runs backwards (iptables: Port range funky)"
        ));
    }
    Ok(PortRange { lo, hi })
}

/// The base port of a shifted NAT port map (`1000-2000/3000`: the first
/// port of the range maps to 3000, the next to 3001, ...), as iptables reads
/// it: strtoul's number from 1 to 65535, whatever follows it (`/30x` is 30),
/// or else the whole text as a service name.
fn nat_port_base(text: &str) -> Result<u16, String> {
    match port_number_prefix(text) {
        Some((Ok(port), _)) if port > 0 => Ok(port),
        _ => service(text).map(|(port, _)| port).ok_or_else(|| {
            format!("base port `{text}` is not a port from 1 to 65535 or known service name (iptables: Port `{text}' not valid)")
        }),
    }
}

/// The `/BASE` of a NAT port range that [`parse_nat_ports`] accepted, when
/// it has one: DNAT (and SNAT and MASQUERADE, which load it and drop the
/// base) take it, REDIRECT refuses it.
pub fn nat_port_shift(text: &str) -> Option<&str> {
    let (_, rest) = port_number_prefix(text)?;
    let (_, shift) = port_number_prefix(rest.strip_prefix('-')?)?;
    shift.strip_prefix('/')
}

impl PortRange {
    pub const ALL: PortRange = PortRange { lo: 0, hi: 65535 };

    pub fn parse(text: &str) -> Result<PortRange, String> {
        let (lo, hi) = match text.split_once(':') {
            Some((a, b)) => {
                let lo = if a.is_empty() { 0 } else { parse_port(a)? };
                let hi = if b.is_empty() { 65535 } else { parse_port(b)? };
                (lo, hi)
            }
            None => {
                let p = parse_port(text)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!("port range `{text}` runs backwards (min > max)"));
        }
        Ok(PortRange { lo, hi })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// A connection tracking state, for `-m conntrack --ctstate` and `-m state --state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CtState {
    Invalid,
    New,
    Established,
    Related,
    Untracked,
    Snat,
    Dnat,
}

impl CtState {
    /// A state name, in any case (`--state new` loads).
    pub fn parse(text: &str) -> Result<CtState, String> {
        Ok(match text.to_ascii_uppercase().as_str() {
            "INVALID" => CtState::Invalid,
            "NEW" => CtState::New,
            "ESTABLISHED" => CtState::Established,
            "RELATED" => CtState::Related,
            "UNTRACKED" => CtState::Untracked,
            "SNAT" => CtState::Snat,
            "DNAT" => CtState::Dnat,
            _ => return Err(format!("`{text}` is not a conntrack state")),
        })
    }
}

/// `value[/mask]` for marks, connmarks, `--set-xmark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarkMask {
    pub value: u32,
    pub mask: u32,
}

pub fn parse_u32(text: &str) -> Result<u32, String> {
    let parsed = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8)
    } else {
        text.parse::<u32>()
    };
    parsed.map_err(|_| format!("`{text}` is not a number from 0 to 4294967295"))
}

impl MarkMask {
    pub fn parse(text: &str) -> Result<MarkMask, String> {
        match text.split_once('/') {
            Some((v, m)) => Ok(MarkMask {
                value: parse_u32(v)?,
                mask: parse_u32(m)?,
            }),
            None => Ok(MarkMask {
                value: parse_u32(text)?,
                mask: u32::MAX,
            }),
        }
    }
}

/// A numeric range `a[:b]` (`-m length`, `-m ttl` style values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumRange {
    pub lo: u32,
    pub hi: u32,
}

impl NumRange {
    pub fn parse(text: &str) -> Result<NumRange, String> {
        match text.split_once(':') {
            Some((a, b)) => {
                let lo = if a.is_empty() { 0 } else { parse_u32(a)? };
                let hi = if b.is_empty() {
                    u32::MAX
                } else {
                    parse_u32(b)?
                };
                Ok(NumRange { lo, hi })
            }
            None => {
                let n = parse_u32(text)?;
                Ok(NumRange { lo: n, hi: n })
            }
        }
    }
}

/// An address range `a-b` (`-m iprange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrRange {
    pub lo: IpAddr,
    pub hi: IpAddr,
}

impl AddrRange {
    pub fn parse(text: &str) -> Result<AddrRange, String> {
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let lo: IpAddr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IP address"))?;
        let hi: IpAddr = b
            .parse()
            .map_err(|_| format!("`{b}` is not an IP address"))?;
        if lo.is_ipv4() != hi.is_ipv4() {
            return Err(format!("`{text}` mixes IPv4 and IPv6"));
        }
        Ok(AddrRange { lo, hi })
    }
}

/// The NAT target's `[addr[-addr]][:port[-port]]`, IPv6 addresses in brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NatRange {
    pub addrs: Option<AddrRange>,
    pub ports: Option<PortRange>,
}

impl NatRange {
    pub fn parse(text: &str) -> Result<NatRange, String> {
        let (addr_part, port_part) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{text}` has no closing `]`"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("expected `:port` after `]` in `{text}`"))?,
                ),
            };
            (Some(inside), port)
        } else if let Some(ports) = text.strip_prefix(':') {
            (None, Some(ports))
        } else if text.matches(':').count() > 1 {
            // A bare IPv6 address without brackets and without ports.
            (Some(text), None)
        } else {
            match text.split_once(':') {
                Some((a, p)) => (Some(a), Some(p)),
                None => (Some(text), None),
            }
        };
        let addrs = match addr_part {
            Some(a) if !a.is_empty() => Some(AddrRange::parse(a)?),
            _ => None,
        };
        let ports = match port_part {
            Some(p) => Some(parse_nat_ports(p)?),
            None => None,
        };
        Ok(NatRange { addrs, ports })
    }
}

/// A NAT target's range as an option value, in 16 bytes: IPv4 addresses
/// (or none) and ports inline, IPv6 boxed. Every kube-proxy endpoint rule
/// has one (`-j DNAT --to-destination 10.244.1.5:53`), and a boxed
/// [`NatRange`] cost an allocation of 40 bytes each. Read it through
/// [`NatSpec::range`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NatSpec(NatRepr);

// `V4` exactly when there is no address or both ends are IPv4, so that
// derived equality and hashing hold.
#[derive(Clone, PartialEq, Eq, Hash)]
enum NatRepr {
    V4 {
        addrs: Option<[[u8; 4]; 2]>,
        ports: Option<[u16; 2]>,
    },
    Wide(Box<NatRange>),
}

impl NatSpec {
    pub fn new(range: NatRange) -> NatSpec {
        let ports = range.ports.map(|p| [p.lo, p.hi]);
        NatSpec(match range.addrs {
            None => NatRepr::V4 { addrs: None, ports },
            Some(AddrRange {
                lo: IpAddr::V4(lo),
                hi: IpAddr::V4(hi),
            }) => NatRepr::V4 {
                addrs: Some([lo.octets(), hi.octets()]),
                ports,
            },
            Some(_) => NatRepr::Wide(Box::new(range)),
        })
    }

    pub fn range(&self) -> NatRange {
        match &self.0 {
            NatRepr::V4 { addrs, ports } => NatRange {
                addrs: addrs.map(|[lo, hi]| AddrRange {
                    lo: IpAddr::V4(Ipv4Addr::from(lo)),
                    hi: IpAddr::V4(Ipv4Addr::from(hi)),
                }),
                ports: ports.map(|[lo, hi]| PortRange { lo, hi }),
            },
            NatRepr::Wide(range) => **range,
        }
    }
}

impl fmt::Debug for NatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.range(), f)
    }
}

/// A typed option value. `Raw` is what an unmodelled extension's option holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    None,
    // The address values are boxed: they are rare next to ports, marks and
    // words, and inline they made every option value 40 bytes instead of 24.
    Net(Box<Net>),
    Ports(super::List<PortRange>),
    States(super::List<CtState>),
    Mark(MarkMask),
    Number(u32),
    Range(NumRange),
    AddrRange(Box<AddrRange>),
    Nat(NatSpec),
    Interface(Interface),
    /// A list of upper-case words (`--dst-type LOCAL,UNICAST`, tcp flags).
    Words(super::List<super::Text>),
    /// One word of free or checked text (`--comment`, `--log-prefix`,
    /// `--icmp-type`, `--limit`): the option's word holds it, read it with
    /// [`super::MatchOption::text`]. A copy here held every kube-proxy
    /// comment twice.
    Text,
    Raw,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_ranges_read_back_as_written_in_16_bytes() {
        assert_eq!(std::mem::size_of::<NatSpec>(), 16);
        assert_eq!(std::mem::size_of::<Value>(), 24);
        for text in [
            "10.0.0.1",
            "10.0.0.1-10.0.0.9",
            "10.0.0.1:80",
            "10.0.0.1-10.0.0.9:1000-2000",
            ":53",
            "[2001:db8::1]:443",
            "2001:db8::1-2001:db8::9",
        ] {
            let range = NatRange::parse(text).expect(text);
            let spec = NatSpec::new(range);
            assert_eq!(spec.range(), range, "{text}");
            assert_eq!(spec, NatSpec::new(range), "{text}");
        }
        let a = NatSpec::new(NatRange::parse("10.0.0.1:80").unwrap());
        let b = NatSpec::new(NatRange::parse("10.0.0.1:81").unwrap());
        assert_ne!(a, b);
    }

    #[test]
    fn addresses_read_back_as_written_in_16_bytes() {
        assert_eq!(std::mem::size_of::<AddrSpec>(), 16);
        for text in [
            "10.0.0.1",
            "10.0.0.1/8",
            "10.0.0.0/255.0.255.0",
            "0.0.0.0/0",
            "255.255.255.255/32",
            "2001:db8::1/64",
            "::/0",
        ] {
            let net = Net::parse(text).expect(text);
            let spec = AddrSpec::net(net);
            assert_eq!(spec.kind(), AddrKind::Net(net), "{text}");
            assert_eq!(spec.as_net(), Some(net), "{text}");
            assert_eq!(spec.to_string(), net.to_string(), "{text}");
            assert_eq!(spec, AddrSpec::net(net), "{text}");
        }
        let a = Net::parse("10.0.0.1/8").unwrap();
        let b = Net::parse("10.0.0.2/8").unwrap();
        assert_ne!(AddrSpec::net(a), AddrSpec::net(b), "host bits are kept");
        let host = AddrSpec::host("example.org".into());
        assert_eq!(host.kind(), AddrKind::Host("example.org"));
        assert_eq!(host.as_net(), None);
        assert_eq!(host.to_string(), "example.org");
    }

    #[test]
    fn interface_names_up_to_15_bytes_read_back_whole() {
        for name in [
            "lo",
            "eth0",
            "veth+",
            "+",
            "abcdefghijklmno",
            "wlp0s20f3",
            "é-br",
        ] {
            let iface = Interface::parse(name).expect(name);
            assert_eq!(iface.name.as_str(), name);
            assert_eq!(iface.name, name);
            assert_eq!(iface.name.to_string(), name);
        }
        assert!(Interface::parse("abcdefghijklmnop").is_err(), "16 bytes");
        assert!(
            Interface::parse("ééééééééé").is_err(),
            "18 bytes in 9 characters"
        );
        assert_ne!(
            Interface::parse("eth0").unwrap(),
            Interface::parse("eth01").unwrap()
        );
        assert!(Interface::parse("veth+").unwrap().is_wildcard());
        assert!(Interface::parse("+").unwrap().matches_all());
    }
}
