//! The extensions iptlint models: which options each match and target module
//! takes, how many arguments each option has, and how its value is typed.
//!
//! This table plays the part of iptables' loadable extensions: the rule parser
//! asks it who owns `--dport` and how to read `--tcp-flags`. An extension not
//! listed here still parses; its options are kept raw and the match is marked
//! unmodelled so analyses treat it as unknown.

/// How an option's arguments are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// No argument.
    Flag,
    /// `addr[/mask]`.
    Net,
    /// `port[:port]`.
    PortRange,
    /// `port[,port[:port]...]`, at most 15 entries.
    PortList,
    /// `eth0`, `eth+`.
    Interface,
    /// `NEW,ESTABLISHED`, also the status bits `SNAT`, `DNAT` (conntrack).
    States,
    /// `NEW,ESTABLISHED` of `-m state`, which has no `SNAT`/`DNAT`.
    PlainStates,
    /// `--tcp-flags MASK COMP`: two comma lists of TCP flag names.
    TcpFlags,
    /// `--limit 5/min`: a rate the kernel can count.
    Rate,
    /// A number from 0 to the bound (`--limit-burst`), decimal, hex or octal.
    NumberUpTo(u32),
    /// `port[-port]` of `--to-ports` (a dash, not a colon).
    NatPorts,
    /// One port as `xtables_parse_port` reads it (TPROXY `--on-port`): a
    /// service name, or decimal digits taken modulo 65536 (`70000` is
    /// 4464); no range, no sign but `+`.
    ServicePort,
    /// `value[/mask]`.
    Mark,
    /// A number (decimal, hex or octal).
    Number,
    /// `n[:m]`.
    Range,
    /// `a-b` addresses.
    AddrRange,
    /// NAT `[addr[-addr]][:port[-port]]`.
    Nat,
    /// Free text (`--comment`, `--log-prefix`).
    Text,
    /// One word out of a fixed list.
    Choice(&'static [&'static str]),
    /// A comma list of words out of a fixed list.
    WordList(&'static [&'static str]),
    /// Two words (`--tcp-flags MASK COMP`, `--match-set NAME DIRS`).
    Pair,
    /// One word, not checked further.
    Word,
}

impl ValueKind {
    pub fn arity(self) -> usize {
        match self {
            ValueKind::Flag => 0,
            ValueKind::Pair | ValueKind::TcpFlags => 2,
            _ => 1,
        }
    }
}

#[derive(Debug)]
pub struct OptionSpec {
    /// The canonical name first, then aliases.
    pub names: &'static [&'static str],
    pub kind: ValueKind,
}

impl OptionSpec {
    pub fn canonical(&self) -> &'static str {
        self.names[0]
    }
}

#[derive(Debug)]
pub struct ExtensionSpec {
    pub name: &'static str,
    pub options: &'static [OptionSpec],
}

impl ExtensionSpec {
    pub fn option(&self, name: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|o| o.names.contains(&name))
    }
}

const fn opt(names: &'static [&'static str], kind: ValueKind) -> OptionSpec {
    OptionSpec { names, kind }
}

use ValueKind::*;

const ADDR_TYPES: &[&str] = &[
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];
const CT_STATUS: &[&str] = &["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];

pub static MATCHES: &[ExtensionSpec] = &[
    ExtensionSpec {
        name: "tcp",
        options: &[
            opt(&["--sport", "--source-port"], PortRange),
            opt(&["--dport", "--destination-port"], PortRange),
            opt(&["--tcp-flags"], TcpFlags),
            opt(&["--syn"], Flag),
            opt(&["--tcp-option"], NumberUpTo(255)),
        ],
    },
    ExtensionSpec {
        name: "udp",
        options: &[
            opt(&["--sport", "--source-port"], PortRange),
            opt(&["--dport", "--destination-port"], PortRange),
        ],
    },
    ExtensionSpec {
        name: "sctp",
        options: &[
            opt(&["--sport", "--source-port"], PortRange),
            opt(&["--dport", "--destination-port"], PortRange),
            opt(&["--chunk-types"], Pair),
        ],
    },
    ExtensionSpec {
        name: "dccp",
        options: &[
            opt(&["--sport", "--source-port"], PortRange),
            opt(&["--dport", "--destination-port"], PortRange),
            opt(&["--dccp-types"], Word),
            opt(&["--dccp-option"], NumberUpTo(255)),
        ],
    },
    ExtensionSpec {
        name: "icmp",
        options: &[opt(&["--icmp-type"], Word)],
    },
    ExtensionSpec {
        name: "icmp6",
        options: &[opt(&["--icmpv6-type"], Word)],
    },
    ExtensionSpec {
        name: "multiport",
        options: &[
            opt(&["--sports", "--source-ports"], PortList),
            opt(&["--dports", "--destination-ports"], PortList),
            opt(&["--ports"], PortList),
        ],
    },
    ExtensionSpec {
        name: "conntrack",
        options: &[
            opt(&["--ctstate"], States),
            opt(&["--ctproto"], Word),
            opt(&["--ctorigsrc"], Net),
            opt(&["--ctorigdst"], Net),
            opt(&["--ctreplsrc"], Net),
            opt(&["--ctrepldst"], Net),
            opt(&["--ctorigsrcport"], PortRange),
            opt(&["--ctorigdstport"], PortRange),
            opt(&["--ctreplsrcport"], PortRange),
            opt(&["--ctrepldstport"], PortRange),
            opt(&["--ctstatus"], WordList(CT_STATUS)),
            opt(&["--ctexpire"], Range),
            opt(&["--ctdir"], Choice(&["ORIGINAL", "REPLY"])),
        ],
    },
    ExtensionSpec {
        name: "state",
        options: &[opt(&["--state"], PlainStates)],
    },
    ExtensionSpec {
        name: "mark",
        options: &[opt(&["--mark"], Mark)],
    },
    ExtensionSpec {
        name: "connmark",
        options: &[opt(&["--mark"], Mark)],
    },
    ExtensionSpec {
        name: "comment",
        options: &[opt(&["--comment"], Text)],
    },
    ExtensionSpec {
        name: "addrtype",
        options: &[
            opt(&["--src-type"], WordList(ADDR_TYPES)),
            opt(&["--dst-type"], WordList(ADDR_TYPES)),
            opt(&["--limit-iface-in"], Flag),
            opt(&["--limit-iface-out"], Flag),
        ],
    },
    ExtensionSpec {
        name: "statistic",
        options: &[
            opt(&["--mode"], Choice(&["random", "nth"])),
            opt(&["--probability"], Word),
            opt(&["--every"], Number),
            opt(&["--packet"], Number),
        ],
    },
    ExtensionSpec {
        name: "set",
        options: &[
            // `--set` is the old name iptables still takes (with a warning).
            opt(&["--match-set", "--set"], Pair),
            opt(&["--return-nomatch"], Flag),
            opt(&["--update-counters"], Flag),
            opt(&["--update-subcounters"], Flag),
            opt(&["--packets-eq"], Number),
            opt(&["--packets-lt"], Number),
            opt(&["--packets-gt"], Number),
            opt(&["--bytes-eq"], Number),
            opt(&["--bytes-lt"], Number),
            opt(&["--bytes-gt"], Number),
        ],
    },
    ExtensionSpec {
        name: "limit",
        options: &[
            opt(&["--limit"], Rate),
            opt(&["--limit-burst"], NumberUpTo(10_000)),
        ],
    },
    ExtensionSpec {
        name: "recent",
        options: &[
            opt(&["--name"], Word),
            opt(&["--set"], Flag),
            opt(&["--rsource"], Flag),
            opt(&["--rdest"], Flag),
            opt(&["--mask"], Word),
            opt(&["--rcheck"], Flag),
            opt(&["--update"], Flag),
            opt(&["--remove"], Flag),
            opt(&["--seconds"], Number),
            opt(&["--reap"], Flag),
            opt(&["--hitcount"], Number),
            opt(&["--rttl"], Flag),
        ],
    },
    ExtensionSpec {
        name: "iprange",
        options: &[
            opt(&["--src-range"], AddrRange),
            opt(&["--dst-range"], AddrRange),
        ],
    },
    ExtensionSpec {
        name: "physdev",
        options: &[
            opt(&["--physdev-in"], Interface),
            opt(&["--physdev-out"], Interface),
            opt(&["--physdev-is-in"], Flag),
            opt(&["--physdev-is-out"], Flag),
            opt(&["--physdev-is-bridged"], Flag),
        ],
    },
    ExtensionSpec {
        name: "owner",
        options: &[
            opt(&["--uid-owner"], Word),
            opt(&["--gid-owner"], Word),
            opt(&["--suppl-groups"], Flag),
            opt(&["--socket-exists"], Flag),
        ],
    },
    ExtensionSpec {
        name: "length",
        options: &[opt(&["--length"], Range)],
    },
    ExtensionSpec {
        name: "ttl",
        options: &[
            opt(&["--ttl-eq"], Number),
            opt(&["--ttl-gt"], Number),
            opt(&["--ttl-lt"], Number),
        ],
    },
    ExtensionSpec {
        name: "hl",
        options: &[
            opt(&["--hl-eq"], Number),
            opt(&["--hl-gt"], Number),
            opt(&["--hl-lt"], Number),
        ],
    },
    ExtensionSpec {
        name: "dscp",
        options: &[opt(&["--dscp"], Number), opt(&["--dscp-class"], Word)],
    },
    ExtensionSpec {
        name: "tos",
        options: &[opt(&["--tos"], Word)],
    },
    ExtensionSpec {
        name: "mac",
        options: &[opt(&["--mac-source"], Word)],
    },
    ExtensionSpec {
        name: "pkttype",
        options: &[opt(
            &["--pkt-type"],
            Choice(&["unicast", "broadcast", "multicast", "host", "otherhost"]),
        )],
    },
];

const MARK_OPS: &[OptionSpec] = &[
    opt(&["--set-xmark"], Mark),
    opt(&["--set-mark"], Mark),
    opt(&["--and-mark"], Mark),
    opt(&["--or-mark"], Mark),
    opt(&["--xor-mark"], Mark),
];

pub static TARGETS: &[ExtensionSpec] = &[
    ExtensionSpec {
        name: "ACCEPT",
        options: &[],
    },
    ExtensionSpec {
        name: "DROP",
        options: &[],
    },
    ExtensionSpec {
        name: "RETURN",
        options: &[],
    },
    ExtensionSpec {
        name: "QUEUE",
        options: &[],
    },
    ExtensionSpec {
        name: "REJECT",
        options: &[opt(&["--reject-with"], Word)],
    },
    ExtensionSpec {
        name: "NFQUEUE",
        options: &[
            opt(&["--queue-num"], Number),
            opt(&["--queue-balance"], Range),
            opt(&["--queue-bypass"], Flag),
            opt(&["--fail-open"], Flag),
            opt(&["--queue-cpu-fanout"], Flag),
        ],
    },
    ExtensionSpec {
        name: "LOG",
        options: &[
            opt(&["--log-level"], Word),
            opt(&["--log-prefix"], Text),
            opt(&["--log-tcp-sequence"], Flag),
            opt(&["--log-tcp-options"], Flag),
            opt(&["--log-ip-options"], Flag),
            opt(&["--log-uid"], Flag),
            opt(&["--log-macdecode"], Flag),
        ],
    },
    ExtensionSpec {
        name: "NFLOG",
        options: &[
            opt(&["--nflog-group"], Number),
            opt(&["--nflog-prefix"], Text),
            opt(&["--nflog-range"], Number),
            opt(&["--nflog-size"], Number),
            opt(&["--nflog-threshold"], Number),
        ],
    },
    ExtensionSpec {
        name: "MARK",
        options: MARK_OPS,
    },
    ExtensionSpec {
        name: "CONNMARK",
        options: &[
            opt(&["--set-xmark"], Mark),
            opt(&["--set-mark"], Mark),
            opt(&["--and-mark"], Mark),
            opt(&["--or-mark"], Mark),
            opt(&["--xor-mark"], Mark),
            opt(&["--save-mark"], Flag),
            opt(&["--restore-mark"], Flag),
            opt(&["--mask"], Number),
            opt(&["--nfmask"], Number),
            opt(&["--ctmask"], Number),
            // Revision 2. iptables takes 0 to 32; the kernel refuses 32.
            opt(&["--left-shift-mark"], NumberUpTo(31)),
            opt(&["--right-shift-mark"], NumberUpTo(31)),
        ],
    },
    ExtensionSpec {
        name: "DNAT",
        options: &[
            opt(&["--to-destination"], Nat),
            opt(&["--random"], Flag),
            opt(&["--persistent"], Flag),
        ],
    },
    ExtensionSpec {
        name: "SNAT",
        options: &[
            opt(&["--to-source"], Nat),
            opt(&["--random"], Flag),
            opt(&["--random-fully"], Flag),
            opt(&["--persistent"], Flag),
        ],
    },
    ExtensionSpec {
        name: "MASQUERADE",
        options: &[
            opt(&["--to-ports"], NatPorts),
            opt(&["--random"], Flag),
            opt(&["--random-fully"], Flag),
        ],
    },
    ExtensionSpec {
        name: "REDIRECT",
        options: &[opt(&["--to-ports"], NatPorts), opt(&["--random"], Flag)],
    },
    ExtensionSpec {
        name: "NETMAP",
        options: &[opt(&["--to"], Net)],
    },
    ExtensionSpec {
        name: "CT",
        options: &[
            opt(&["--notrack"], Flag),
            opt(&["--helper"], Word),
            opt(&["--ctevents"], Word),
            opt(&["--expevents"], Word),
            opt(&["--zone"], Word),
            opt(&["--zone-orig"], Word),
            opt(&["--zone-reply"], Word),
            opt(&["--timeout"], Word),
        ],
    },
    ExtensionSpec {
        name: "NOTRACK",
        options: &[],
    },
    ExtensionSpec {
        name: "TPROXY",
        options: &[
            opt(&["--on-port"], ServicePort),
            opt(&["--on-ip"], Word),
            opt(&["--tproxy-mark"], Mark),
        ],
    },
    ExtensionSpec {
        name: "TCPMSS",
        options: &[
            opt(&["--set-mss"], Number),
            opt(&["--clamp-mss-to-pmtu"], Flag),
        ],
    },
    ExtensionSpec {
        name: "CLASSIFY",
        options: &[opt(&["--set-class"], Word)],
    },
    ExtensionSpec {
        name: "SET",
        options: &[
            opt(&["--add-set"], Pair),
            opt(&["--del-set"], Pair),
            opt(&["--map-set"], Pair),
            opt(&["--timeout"], Number),
            opt(&["--exist"], Flag),
            opt(&["--map-mark"], Flag),
            opt(&["--map-prio"], Flag),
            opt(&["--map-queue"], Flag),
        ],
    },
    ExtensionSpec {
        name: "AUDIT",
        options: &[opt(&["--type"], Choice(&["accept", "drop", "reject"]))],
    },
    ExtensionSpec {
        name: "TRACE",
        options: &[],
    },
];

pub fn match_spec(name: &str) -> Option<&'static ExtensionSpec> {
    MATCHES.iter().find(|e| e.name == name)
}

/// What a modelled extension cannot do without, as iptables 1.8.9 checks it
/// ("comment: option \"--comment\" must be specified"): one of the listed
/// options must be given; an empty list means any option of the extension.
pub fn required_options(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "comment" => &["--comment"],
        "mark" | "connmark" => &["--mark"],
        "state" => &["--state"],
        "set" => &["--match-set"],
        "icmp" => &["--icmp-type"],
        "icmp6" => &["--icmpv6-type"],
        "recent" => &["--set", "--rcheck", "--update", "--remove"],
        "iprange" => &["--src-range", "--dst-range"],
        "owner" => &["--uid-owner", "--gid-owner", "--socket-exists"],
        "addrtype" => &["--src-type", "--dst-type"],
        "length" => &["--length"],
        "ttl" => &["--ttl-eq", "--ttl-gt", "--ttl-lt"],
        "hl" => &["--hl-eq", "--hl-gt", "--hl-lt"],
        "pkttype" => &["--pkt-type"],
        "mac" => &["--mac-source"],
        "dscp" => &["--dscp", "--dscp-class"],
        "tos" => &["--tos"],
        "conntrack" | "physdev" | "multiport" | "CONNMARK" => &[],
        "DNAT" => &["--to-destination"],
        "SNAT" => &["--to-source"],
        "NETMAP" => &["--to"],
        "TPROXY" => &["--on-port"],
        "CLASSIFY" => &["--set-class"],
        "AUDIT" => &["--type"],
        "SET" => &["--add-set", "--del-set", "--map-set"],
        "MARK" => &[
            "--set-xmark",
            "--set-mark",
            "--and-mark",
            "--or-mark",
            "--xor-mark",
        ],
        "TCPMSS" => &["--set-mss", "--clamp-mss-to-pmtu"],
        "DSCP" => &["--set-dscp", "--set-dscp-class"],
        "string" => &["--string", "--hex-string"],
        _ => return None,
    })
}

/// Options an extension needs each of, besides one of its
/// [`required_options`]: iptables refuses `-m string --string x` without
/// `--algo`.
pub fn also_required_options(name: &str) -> &'static [&'static str] {
    match name {
        "string" => &["--algo"],
        _ => &[],
    }
}

pub fn target_spec(name: &str) -> Option<&'static ExtensionSpec> {
    TARGETS.iter().find(|e| e.name == name)
}

/// The match module `-p NAME` loads implicitly, by protocol number.
pub fn protocol_match(number: u8) -> Option<&'static str> {
    match number {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        33 => Some("dccp"),
        1 => Some("icmp"),
        58 => Some("icmp6"),
        _ => None,
    }
}
