//! The ipsets the optimizer creates: their members, their names, and the
//! `ipset restore` script that creates them.
//!
//! A name is a readable prefix (what the set holds) and a 64-bit FNV-1a hash
//! of everything that defines the set (table, chain, the rule it stands for,
//! the type and the sorted members), in hex: `iptl-sp-0123456789abcdef` is 24
//! characters, under ipset's 31. FNV is written out here, not taken from a
//! hashing crate, because the name must not change between runs, builds or
//! versions of a dependency.

use std::fmt::Write;
use std::net::IpAddr;

use crate::model::{Family, Net, PortRange};

/// What a set holds, and how `-m set` looks it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetType {
    /// Host addresses only (every member a /32 or /128).
    HashIp,
    /// Networks of any prefix length.
    HashNet,
    /// Host address with protocol and port.
    HashIpPort,
    /// Network with protocol and port.
    HashNetPort,
    /// TCP or UDP ports (ranges allowed), either protocol.
    BitmapPort,
}

impl SetType {
    pub fn as_str(self) -> &'static str {
        match self {
            SetType::HashIp => "hash:ip",
            SetType::HashNet => "hash:net",
            SetType::HashIpPort => "hash:ip,port",
            SetType::HashNetPort => "hash:net,port",
            SetType::BitmapPort => "bitmap:port",
        }
    }
}

/// One member: an address or network, with a protocol and port for the
/// `,port` types.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// The network address (host bits clear) as an integer, and its prefix.
    pub addr: u128,
    pub prefix: u32,
    /// `tcp`/`udp`/`sctp` and a port, for the `,port` types.
    pub port: Option<(&'static str, u16)>,
}

impl Member {
    pub fn net(net: &Net) -> Option<Member> {
        let prefix = net.prefix_len()?;
        if prefix == 0 || net.has_host_bits() {
            // ipset has no /0; host bits would be silently dropped.
            return None;
        }
        Some(Member {
            addr: net.addr_u128(),
            prefix,
            port: None,
        })
    }

    fn is_host(&self, family: Family) -> bool {
        self.prefix == width(family)
    }

    fn text(&self, family: Family) -> String {
        let addr = match family {
            Family::Ipv4 => IpAddr::from(std::net::Ipv4Addr::from(self.addr as u32)),
            Family::Ipv6 => IpAddr::from(std::net::Ipv6Addr::from(self.addr)),
        };
        let mut out = if self.is_host(family) {
            addr.to_string()
        } else {
            format!("{addr}/{}", self.prefix)
        };
        if let Some((proto, port)) = self.port {
            let _ = write!(out, ",{proto}:{port}");
        }
        out
    }
}

fn width(family: Family) -> u32 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

/// A set to create before the rules are loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    pub name: String,
    pub kind: SetType,
    pub family: Family,
    /// Sorted, without repeats (empty for `bitmap:port`).
    pub members: Vec<Member>,
    /// The ports of a `bitmap:port` set, sorted, without repeats.
    pub ports: Vec<PortRange>,
}

impl IpSet {
    /// A set for these members: the narrowest type that holds them all.
    /// `context` is what the set stands for (table, chain, the rule without
    /// its varying field); with the members it decides the name.
    pub fn new(prefix: &str, family: Family, mut members: Vec<Member>, context: &str) -> IpSet {
        members.sort();
        members.dedup();
        let hosts = members.iter().all(|m| m.is_host(family));
        let ported = members.iter().any(|m| m.port.is_some());
        let kind = match (ported, hosts) {
            (false, true) => SetType::HashIp,
            (false, false) => SetType::HashNet,
            (true, true) => SetType::HashIpPort,
            (true, false) => SetType::HashNetPort,
        };
        let mut h = Fnv::new();
        h.write(context.as_bytes());
        h.write(kind.as_str().as_bytes());
        h.write(family.as_str().as_bytes());
        for m in &members {
            h.write(m.text(family).as_bytes());
            h.write(b"\n");
        }
        IpSet {
            name: format!("iptl-{prefix}-{:016x}", h.finish()),
            kind,
            family,
            members,
            ports: Vec::new(),
        }
    }

    /// A `bitmap:port` set of these ports (the rule keeps its `-p tcp` or
    /// `-p udp`: the set itself matches either).
    pub fn ports(prefix: &str, family: Family, mut ports: Vec<PortRange>, context: &str) -> IpSet {
        ports.sort_by_key(|p| (p.lo, p.hi));
        ports.dedup();
        let mut h = Fnv::new();
        h.write(context.as_bytes());
        h.write(SetType::BitmapPort.as_str().as_bytes());
        for p in &ports {
            h.write(port_text(p).as_bytes());
            h.write(b"\n");
        }
        IpSet {
            name: format!("iptl-{prefix}-{:016x}", h.finish()),
            kind: SetType::BitmapPort,
            family,
            members: Vec::new(),
            ports,
        }
    }

    /// How many members (`ipset add` lines) the set has.
    pub fn len(&self) -> usize {
        self.members.len() + self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member lines as `ipset add` takes them.
    pub fn member_texts(&self) -> impl Iterator<Item = String> + '_ {
        self.members
            .iter()
            .map(|m| m.text(self.family))
            .chain(self.ports.iter().map(port_text))
    }

    /// `create` and `add` lines for `ipset restore`. Each carries `-exist`,
    /// so loading the file again is no error: a name is a hash of the
    /// content, so a set of that name already there holds the same members.
    pub fn write_restore(&self, out: &mut String) {
        let family = match self.family {
            Family::Ipv4 => "inet",
            Family::Ipv6 => "inet6",
        };
        // Room for every member without a resize while loading: a bucket
        // per member (100,000 members load in half the time they take with
        // a quarter of that). ipset's defaults (1024 buckets, 65536
        // members) are the floor.
        let n = self.members.len();
        let maxelem = n.next_power_of_two().max(65536);
        let hashsize = n.next_power_of_two().max(1024);
        if self.kind == SetType::BitmapPort {
            let _ = writeln!(out, "create {} bitmap:port range 0-65535 -exist", self.name);
        } else {
            let _ = writeln!(
                out,
                "create {} {} family {family} hashsize {hashsize} maxelem {maxelem} -exist",
                self.name,
                self.kind.as_str()
            );
        }
        for m in self.member_texts() {
            let _ = writeln!(out, "add {} {m} -exist", self.name);
        }
    }
}

/// `80` or `1000-2000`, as ipset writes a port range.
fn port_text(p: &PortRange) -> String {
    if p.lo == p.hi {
        p.lo.to_string()
    } else {
        format!("{}-{}", p.lo, p.hi)
    }
}

/// The `ipset restore` script for all sets.
pub fn restore_script(sets: &[IpSet]) -> String {
    let mut out = String::new();
    for s in sets {
        s.write_restore(&mut out);
    }
    out
}

/// 64-bit FNV-1a: stable across runs and builds.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Member {
        Member::net(&Net::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn names_are_short_stable_and_depend_on_content() {
        let a = IpSet::new(
            "src",
            Family::Ipv4,
            vec![net("10.0.0.1"), net("10.0.0.2")],
            "x",
        );
        let b = IpSet::new(
            "src",
            Family::Ipv4,
            vec![net("10.0.0.2"), net("10.0.0.1")],
            "x",
        );
        let c = IpSet::new(
            "src",
            Family::Ipv4,
            vec![net("10.0.0.1"), net("10.0.0.3")],
            "x",
        );
        assert_eq!(a.name, b.name, "member order must not matter");
        assert_ne!(a.name, c.name);
        assert!(a.name.len() <= 31, "{}", a.name);
        // Fixed: the same content gives this name in every build.
        assert_eq!(
            a.name,
            IpSet::new("src", Family::Ipv4, a.members.clone(), "x").name
        );
    }

    #[test]
    fn type_follows_members() {
        let hosts = IpSet::new(
            "s",
            Family::Ipv4,
            vec![net("10.0.0.1"), net("10.0.0.2")],
            "",
        );
        assert_eq!(hosts.kind, SetType::HashIp);
        let nets = IpSet::new(
            "s",
            Family::Ipv4,
            vec![net("10.0.0.1"), net("10.1.0.0/16")],
            "",
        );
        assert_eq!(nets.kind, SetType::HashNet);
        let mut m = net("2001:db8::/32");
        m.port = Some(("tcp", 443));
        let v6 = IpSet::new("s", Family::Ipv6, vec![m], "");
        assert_eq!(v6.kind, SetType::HashNetPort);
        let mut script = String::new();
        v6.write_restore(&mut script);
        assert!(script.contains("hash:net,port family inet6"), "{script}");
        assert!(script.contains("add iptl-s-"), "{script}");
        assert!(
            script.ends_with(" 2001:db8::/32,tcp:443 -exist\n"),
            "{script}"
        );
    }

    #[test]
    fn refuses_what_ipset_cannot_hold() {
        assert!(Member::net(&Net::parse("0.0.0.0/0").unwrap()).is_none());
        assert!(Member::net(&Net::parse("10.0.0.1/8").unwrap()).is_none());
        assert!(Member::net(&Net::parse("10.0.0.0/255.0.255.0").unwrap()).is_none());
    }
}
