//! The kernel judges the dead-rule analysis by counting packets.
//!
//! For several seeded, generated dumps of one table each (half filter, the
//! rest mangle or nat: every builtin chain of the table and up to four user
//! chains, with jumps, gotos, RETURN, ACCEPT, DROP, REJECT, MARK, DNAT,
//! SNAT, LOG, negations, addresses, address ranges, ports, port lists, TCP
//! flags, ICMP types, conntrack states, marks, interfaces and, in a third of
//! them, matches iptlint does not model (statistic, limit); with copies of
//! earlier rules planted so that some rules are shadowed, duplicated or
//! unmatchable), the test
//!
//! 1. runs iptlint on the dump and collects every rule a dead-rule lint
//!    calls dead (`unreachable-chain`, `unreachable-rule`,
//!    `interface-never-matches`, `unmatchable-rule`, `shadowed-rule`, and
//!    `duplicate-rule` when the first copy decides the packet);
//! 2. loads the dump into a router namespace of the packet lab
//!    (`support::packets`: a real `iptables-restore`, veth links, nothing
//!    outside namespaces the test made);
//! 3. asks the engine ([`iptlint::lints::witness`]) for a packet that surely
//!    reaches each live rule and matches it, among the packets the lab can
//!    send (to the later hooks of mangle and nat: among those the earlier
//!    hook surely accepts unchanged), sends it alone and checks with
//!    `iptables-save -c` that the kernel counted it on that rule;
//! 4. sends packets aimed at every rule called dead (packets of its `may`
//!    set, from each hook that can reach its chain: the rules before it must
//!    take them all) and random packets, a few at a time;
//! 5. checks after every witness and every batch that no rule called dead
//!    has a non-zero counter.
//!
//! Packets the kernel makes by itself (resets, ICMP errors, echo replies,
//! REJECT's answers) are dropped by the lab before any filter chain sees
//! them, so every count is a test packet.
//!
//! Witnesses rely on the conntrack state the lab promises (NEW or INVALID),
//! which holds for the first packet of a flow: the router's conntrack table
//! is emptied before each witness, which also takes a fresh source port
//! (20000 and up, else below 1024) when its rule allows and a fresh ICMP id.
//! Everything is seeded, so a run is the same every time; one seed is one
//! dump (`KERNEL_COUNTERS_SEED=S KERNEL_COUNTERS_DUMPS=1` replays it, and
//! `KERNEL_COUNTERS_VERBOSE=1` prints it and the live rules without a
//! witness).
//!
//! Skips with a message when not root, without network namespaces, or
//! without `ip`, `nsenter`, `iptables-restore`, `iptables-save` or `python3`.
//! `KERNEL_COUNTERS_DUMPS` sets the number of dumps (default 10),
//! `KERNEL_COUNTERS_SEED` the first seed, `KERNEL_COUNTERS_RANDOM` the random
//! packets per dump (default 100).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use iptlint::check::check_source;
use iptlint::lints::witness;
use iptlint::model::{Family, TableName};
use iptlint::space::{Dim, Packet, PacketDisplay, rule_match_space};

mod support;
use support::packets::{Counters, Hook, Lab, Probe};
use support::{Rng, env_or};

/// The router's interfaces.
const LINKS: [&str; 4] = ["eth0", "eth1", "eth7", "wlan0"];
/// Interface names rules use: links, a wildcard, names no packet has.
const IFACES: [&str; 6] = ["eth0", "eth1", "eth+", "wlan0", "lo", "ppp0"];
const PREFIXES: [&str; 7] = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.0/24",
    "10.1.2.3/32",
    "192.168.0.0/16",
    "192.168.5.0/24",
    "172.16.0.0/12",
];
const RANGES: [&str; 3] = [
    "10.1.2.1-10.1.2.100",
    "192.168.5.10-192.168.6.20",
    "10.1.255.0-10.2.0.255",
];
/// Addresses random packets use: inside, at the edges of and outside the
/// prefixes and ranges above.
const ADDRS: [[u8; 4]; 14] = [
    [10, 1, 2, 3],
    [10, 1, 2, 4],
    [10, 1, 2, 101],
    [10, 1, 3, 1],
    [10, 2, 0, 1],
    [10, 200, 0, 1],
    [11, 0, 0, 1],
    [192, 168, 5, 5],
    [192, 168, 5, 10],
    [192, 168, 6, 21],
    [192, 168, 9, 1],
    [172, 16, 0, 1],
    [172, 32, 0, 1],
    [8, 8, 8, 8],
];
const DPORTS: [&str; 6] = ["22", "53", "80", "443", "1000:2000", "1024:65535"];
const PORT_LISTS: [&str; 3] = ["22,80,443", "53,1000:1100", "8000:9000,25"];
const PORTS: [u16; 12] = [
    22, 53, 80, 443, 999, 1000, 1050, 2000, 2001, 1023, 8080, 60000,
];
/// Witness packets take source ports from here up when their rule allows,
/// so each is a flow of its own.
const WITNESS_PORTS: u16 = 20000;
const ICMP_TYPES: [&str; 3] = ["echo-request", "echo-reply", "destination-unreachable"];
const STATES: [&str; 5] = [
    "NEW",
    "ESTABLISHED,RELATED",
    "INVALID",
    "NEW,ESTABLISHED",
    "RELATED",
];

// ------------------------------------------------------------ generation --

/// The generic options iptables takes once per rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Generic {
    Src,
    Dst,
    Proto,
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cond {
    text: String,
    generic: Vec<u8>,
}

impl Cond {
    /// A match iptlint does not model, whose outcome depends on more than
    /// the packet.
    fn unmodelled(&self) -> bool {
        self.text.contains("-m statistic") || self.text.contains("-m limit")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tgt {
    Accept,
    Drop,
    Reject,
    Return,
    Jump(usize),
    Goto(usize),
    Mark(u32),
    Log,
    Nothing,
    Dnat,
    Snat,
}

impl Tgt {
    /// Every packet it matches leaves the chain for good.
    fn decides(self) -> bool {
        matches!(
            self,
            Tgt::Accept
                | Tgt::Drop
                | Tgt::Reject
                | Tgt::Return
                | Tgt::Goto(_)
                | Tgt::Dnat
                | Tgt::Snat
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct GRule {
    conds: Vec<Cond>,
    tgt: Tgt,
}

struct GChain {
    name: String,
    builtin: bool,
    policy: &'static str,
    rules: Vec<GRule>,
}

fn bang(rng: &mut Rng, percent: u64) -> &'static str {
    if rng.chance(percent) { "! " } else { "" }
}

fn cond(text: String, generic: &[Generic]) -> Cond {
    Cond {
        text,
        generic: generic.iter().map(|g| *g as u8).collect(),
    }
}

/// One random condition allowed in `chain` (no `-o` in PREROUTING and
/// INPUT, no `-i` in OUTPUT and POSTROUTING: iptables refuses them there).
fn gen_cond(rng: &mut Rng, kind: Kind, chain: &str) -> Cond {
    use Generic::*;
    loop {
        let c = match rng.below(15) {
            0 | 1 => cond(
                format!("{}-s {}", bang(rng, 25), rng.pick(&PREFIXES)),
                &[Src],
            ),
            2 | 3 => cond(
                format!("{}-d {}", bang(rng, 25), rng.pick(&PREFIXES)),
                &[Dst],
            ),
            4 => {
                let (opt, dir) = *rng.pick(&[("--src-range", Src), ("--dst-range", Dst)]);
                cond(
                    format!("-m iprange {}{opt} {}", bang(rng, 25), rng.pick(&RANGES)),
                    &[dir],
                )
            }
            5 => cond(
                format!("{}-p {}", bang(rng, 20), rng.pick(&["tcp", "udp", "icmp"])),
                &[Proto],
            ),
            6 | 7 => {
                let p = rng.pick(&["tcp", "udp"]);
                let text = if rng.chance(30) {
                    format!(
                        "-p {p} -m multiport {}--dports {}",
                        bang(rng, 20),
                        rng.pick(&PORT_LISTS)
                    )
                } else if rng.chance(20) {
                    format!("-p {p} -m {p} {}--sport 1024:65535", bang(rng, 20))
                } else {
                    format!(
                        "-p {p} -m {p} {}--dport {}",
                        bang(rng, 20),
                        rng.pick(&DPORTS)
                    )
                };
                cond(text, &[Proto])
            }
            8 => {
                let text = if rng.chance(20) {
                    format!("-p tcp -m tcp {}--syn", bang(rng, 30))
                } else if rng.chance(20) {
                    let (mask, comp) =
                        *rng.pick(&[("SYN,ACK", "SYN"), ("ALL", "ACK"), ("SYN,RST", "NONE")]);
                    format!("-p tcp -m tcp {}--tcp-flags {mask} {comp}", bang(rng, 30))
                } else {
                    format!(
                        "-p icmp -m icmp {}--icmp-type {}",
                        bang(rng, 20),
                        rng.pick(&ICMP_TYPES)
                    )
                };
                cond(text, &[Proto])
            }
            9 if !matches!(chain, "OUTPUT" | "POSTROUTING") => {
                cond(format!("{}-i {}", bang(rng, 25), rng.pick(&IFACES)), &[In])
            }
            10 if !matches!(chain, "PREROUTING" | "INPUT") => {
                cond(format!("{}-o {}", bang(rng, 25), rng.pick(&IFACES)), &[Out])
            }
            11 => {
                let (m, opt) = if rng.chance(30) {
                    ("state", "--state")
                } else {
                    ("conntrack", "--ctstate")
                };
                cond(
                    format!("-m {m} {}{opt} {}", bang(rng, 25), rng.pick(&STATES)),
                    &[],
                )
            }
            12 => {
                let m = rng.pick(&["0x1/0x1", "0x0", "0x2"]);
                cond(format!("-m mark {}--mark {m}", bang(rng, 30)), &[])
            }
            13 => cond("-m comment --comment \"iptlint test\"".into(), &[]),
            // Unmodelled: iptlint only knows it may match.
            14 if kind.unmodelled && rng.chance(60) => cond(
                rng.pick(&[
                    "-m statistic --mode random --probability 0.50000000000",
                    "-m statistic --mode nth --every 2 --packet 0",
                    "-m limit --limit 5/sec --limit-burst 3",
                ])
                .to_string(),
                &[],
            ),
            _ => continue,
        };
        return c;
    }
}

/// Adds `c` unless the rule already has one of its generic options.
fn push_cond(conds: &mut Vec<Cond>, c: Cond) -> bool {
    let taken = conds
        .iter()
        .any(|o| o.generic.iter().any(|g| c.generic.contains(g)));
    if !taken {
        conds.push(c);
    }
    !taken
}

/// What a generated dump may hold besides its rules.
#[derive(Clone, Copy)]
struct Kind {
    table: TableName,
    /// LOG targets (only where they log nothing).
    log: bool,
    /// Matches iptlint does not model (they leave many rules without a
    /// witness, so only some dumps have them).
    unmodelled: bool,
}

impl Kind {
    fn builtins(self) -> &'static [&'static str] {
        self.table.builtin_chains()
    }

    /// REJECT is a filter-table target.
    fn reject(self) -> bool {
        self.table == TableName::Filter
    }

    /// The nat table takes no DROP and no MARK (iptables refuses DROP there;
    /// MARK is left to the other tables).
    fn nat(self) -> bool {
        self.table == TableName::Nat
    }

    /// The builtin chains that see the lab's packets exactly as sent: no
    /// chain of this table comes before them on the packet's way. (The
    /// others start with what these surely accept unchanged.)
    fn starts(self) -> &'static [&'static str] {
        match self.table {
            TableName::Mangle | TableName::Nat => &["PREROUTING", "OUTPUT"],
            _ => self.builtins(),
        }
    }
}

fn gen_target(rng: &mut Rng, kind: Kind, chain: usize, nchains: usize) -> Tgt {
    // The builtin chains come first; a chain only jumps to later user chains.
    let first_user = kind.builtins().len().max(chain + 1);
    let can_jump = first_user < nchains;
    // NAT targets only where their hook is certain: in builtin chains.
    let hook = kind.builtins().get(chain).copied();
    loop {
        return match rng.below(16) {
            0..=2 => Tgt::Accept,
            3 | 4 if !kind.nat() => Tgt::Drop,
            5 if kind.reject() => Tgt::Reject,
            6 => Tgt::Return,
            7..=9 if can_jump => Tgt::Jump(first_user + rng.below(nchains - first_user)),
            10 if can_jump => Tgt::Goto(first_user + rng.below(nchains - first_user)),
            11 if !kind.nat() => Tgt::Mark(1 + rng.below(3) as u32),
            12 if kind.log => Tgt::Log,
            13 => Tgt::Nothing,
            14 | 15 if kind.nat() && matches!(hook, Some("PREROUTING" | "OUTPUT")) => Tgt::Dnat,
            14 | 15 if kind.nat() && matches!(hook, Some("POSTROUTING" | "INPUT")) => Tgt::Snat,
            _ => continue,
        };
    }
}

fn gen_dump(rng: &mut Rng, kind: Kind) -> Vec<GChain> {
    let builtins = kind.builtins();
    let users = 2 + rng.below(3);
    let nchains = builtins.len() + users;
    let mut chains: Vec<GChain> = Vec::new();
    for c in 0..nchains {
        let (name, builtin) = match builtins.get(c) {
            Some(b) => (b.to_string(), true),
            None => (format!("U{}", c - builtins.len()), false),
        };
        let n = if builtin {
            3 + rng.below(7)
        } else {
            2 + rng.below(5)
        };
        let mut rules: Vec<GRule> = Vec::new();
        for _ in 0..n {
            let earlier: Vec<&GRule> = rules.iter().filter(|r| r.tgt.decides()).collect();
            let rule = if !earlier.is_empty() && rng.chance(20) {
                // A narrower (or equal) copy of an earlier deciding rule:
                // shadowed, or a duplicate, unless a barrier comes between.
                let mut copy = (*rng.pick(&earlier)).clone();
                if rng.chance(60) {
                    push_cond(&mut copy.conds, gen_cond(rng, kind, &name));
                }
                if rng.chance(50) {
                    copy.tgt = gen_target(rng, kind, c, nchains);
                }
                copy
            } else {
                let mut conds = Vec::new();
                // Few unconditional rules: each one ends its chain.
                let k = if rng.chance(8) { 0 } else { 1 + rng.below(3) };
                for _ in 0..k {
                    push_cond(&mut conds, gen_cond(rng, kind, &name));
                }
                GRule {
                    conds,
                    tgt: gen_target(rng, kind, c, nchains),
                }
            };
            rules.push(rule);
        }
        if !builtin && rng.chance(25) {
            // A user chain that always decides: jumps to it decide too.
            let verdicts = [Tgt::Accept, Tgt::Drop, Tgt::Reject];
            let n = match kind.table {
                TableName::Filter => 3,
                TableName::Nat => 1,
                _ => 2,
            };
            let tgt = *rng.pick(&verdicts[..n]);
            rules.push(GRule {
                conds: Vec::new(),
                tgt,
            });
        }
        chains.push(GChain {
            name,
            builtin,
            policy: if rng.chance(50) { "ACCEPT" } else { "DROP" },
            rules,
        });
    }
    chains
}

fn print(table: TableName, chains: &[GChain]) -> String {
    let mut s = format!("*{table}\n");
    for c in chains {
        let policy = if c.builtin { c.policy } else { "-" };
        let _ = writeln!(s, ":{} {policy} [0:0]", c.name);
    }
    for c in chains {
        for r in &c.rules {
            s.push_str(&rule_text(chains, &c.name, r));
            s.push('\n');
        }
    }
    s.push_str("COMMIT\n");
    s
}

fn rule_text(chains: &[GChain], chain: &str, r: &GRule) -> String {
    let mut s = format!("-A {chain}");
    for c in &r.conds {
        s.push(' ');
        s.push_str(&c.text);
    }
    match r.tgt {
        Tgt::Accept => s.push_str(" -j ACCEPT"),
        Tgt::Drop => s.push_str(" -j DROP"),
        Tgt::Reject => s.push_str(" -j REJECT --reject-with icmp-port-unreachable"),
        Tgt::Return => s.push_str(" -j RETURN"),
        Tgt::Jump(u) => s.push_str(&format!(" -j {}", chains[u].name)),
        Tgt::Goto(u) => s.push_str(&format!(" -g {}", chains[u].name)),
        Tgt::Mark(v) => s.push_str(&format!(" -j MARK --set-xmark {v:#x}/0xffffffff")),
        Tgt::Log => s.push_str(" -j LOG --log-prefix \"iptlint \""),
        Tgt::Nothing => {}
        Tgt::Dnat => s.push_str(" -j DNAT --to-destination 10.9.9.9"),
        Tgt::Snat => s.push_str(" -j SNAT --to-source 10.9.9.8"),
    }
    s
}

// ------------------------------------------------------------ the check --

#[derive(Default)]
struct Stats {
    dumps: usize,
    tables: std::collections::BTreeMap<&'static str, usize>,
    rules: usize,
    dead: HashMap<&'static str, usize>,
    live: usize,
    witnesses: usize,
    confirmed: usize,
    no_witness: usize,
    random: usize,
    refused: usize,
    suppressed: u64,
    /// Live rules no packet of the run hit (the lab cannot make their
    /// packets, or they are dead without a finding).
    never_counted: usize,
    /// Rules called dead that the kernel counted packets on.
    dead_counted: usize,
    /// Packets aimed at rules called dead.
    aimed: usize,
    /// Witnesses given a fresh source port so far (over all dumps: the
    /// lab keeps its conntrack table from one dump to the next).
    fresh: u32,
}

/// Packets aimed at dead rules and random packets go out this many at a
/// time between two readings of the counters.
const BATCH: usize = 8;

/// Why iptlint calls a rule dead: the lint's name.
type DeadClaims = Vec<Vec<Option<&'static str>>>;

fn dead_claims(chains: &[GChain], text: &str) -> Result<DeadClaims, String> {
    let report = check_source("dump.rules".into(), Arc::from(text), Some(Family::Ipv4));
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.lint.code.starts_with("IPT0") || f.lint.code.starts_with("IPT1"))
        .map(|f| format!("{} {}: {}", f.lint.code, f.lint.name, f.message))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "the generated dump does not read cleanly: {errors:?}"
        ));
    }
    let mut dead: DeadClaims = chains.iter().map(|c| vec![None; c.rules.len()]).collect();
    for f in &report.findings {
        let Some(ci) = f
            .chain
            .as_deref()
            .and_then(|n| chains.iter().position(|c| c.name == n))
        else {
            continue;
        };
        let name = f.lint.name;
        match (name, f.rule) {
            ("unreachable-chain", _) => dead[ci].iter_mut().for_each(|d| *d = Some(name)),
            (
                "unreachable-rule"
                | "interface-never-matches"
                | "unmatchable-rule"
                | "shadowed-rule",
                Some(r),
            ) => dead[ci][r - 1] = Some(name),
            // A second copy is dead when the first decides every packet it
            // matches, and matches the same packets (not so with statistic
            // or limit: the copies count apart).
            ("duplicate-rule", Some(r))
                if chains[ci].rules[r - 1].tgt.decides()
                    && !chains[ci].rules[r - 1].conds.iter().any(|c| c.unmodelled()) =>
            {
                dead[ci][r - 1] = Some(name)
            }
            _ => {}
        }
    }
    Ok(dead)
}

fn describe_probe(p: &Probe, lab: &Lab) -> String {
    let link = |l: Option<usize>| l.map_or("-".to_string(), |l| lab.links()[l].clone());
    let proto = match p.protocol {
        1 => format!("icmp {}/{}", p.icmp_type, p.icmp_code),
        6 => format!("tcp {} -> {} flags {:#04x}", p.sport, p.dport, p.tcp_flags),
        _ => format!("udp {} -> {}", p.sport, p.dport),
    };
    format!(
        "{} {} -> {} {proto} in {} out {}",
        p.hook.name(),
        p.src,
        p.dst,
        link(p.in_link),
        link(p.out_link)
    )
}

fn random_probe(rng: &mut Rng, nlinks: usize) -> Probe {
    let hook = *rng.pick(&Hook::ALL);
    let addr = |rng: &mut Rng| {
        if rng.chance(85) {
            (*rng.pick(&ADDRS)).into()
        } else {
            // Never the lab's own 100.64/16.
            std::net::Ipv4Addr::new(
                1 + rng.below(99) as u8,
                rng.below(256) as u8,
                rng.below(256) as u8,
                1 + rng.below(254) as u8,
            )
        }
    };
    let port = |rng: &mut Rng| {
        if rng.chance(80) {
            *rng.pick(&PORTS)
        } else {
            1 + rng.below(65535) as u16
        }
    };
    let (icmp_type, icmp_code) = *rng.pick(&[(8, 0), (0, 0), (3, 3), (13, 0), (11, 0)]);
    Probe {
        hook,
        in_link: (hook != Hook::Output).then(|| rng.below(nlinks)),
        out_link: (hook != Hook::Input).then(|| rng.below(nlinks)),
        protocol: *rng.pick(&[1, 6, 6, 17, 17]),
        src: addr(rng),
        dst: addr(rng),
        // Below the witnesses' fresh ports.
        sport: 1024 + rng.below(WITNESS_PORTS as usize - 1024) as u16,
        dport: port(rng),
        icmp_type,
        icmp_code,
        tcp_flags: *rng.pick(&[0x02, 0x10, 0x12, 0x04, 0x11]),
    }
}

struct DumpRun<'a> {
    seed: u64,
    table: &'a str,
    chains: &'a [GChain],
    text: &'a str,
    dead: &'a DeadClaims,
    /// Dead rules already reported as counted.
    reported: Vec<Vec<bool>>,
    problems: Vec<String>,
}

impl DumpRun<'_> {
    /// Records every dead rule with packets on it (once per rule).
    fn check_dead(&mut self, counters: &Counters, after: &str) {
        for (ci, chain) in self.chains.iter().enumerate() {
            let Some(cc) = counters.chain(self.table, &chain.name) else {
                continue;
            };
            for (ri, lint) in self.dead[ci].iter().enumerate() {
                let Some(lint) = lint else { continue };
                let n = cc.rules.get(ri).map_or(0, |r| r.0.packets);
                if n > 0 && !self.reported[ci][ri] {
                    self.reported[ci][ri] = true;
                    self.problems.push(format!(
                        "seed {}: {lint} calls rule {} of {} dead, but the kernel counted {n} packet(s) on it \
                         (first seen after {after})\n  rule: {}\n--- dump ---\n{}",
                        self.seed,
                        ri + 1,
                        chain.name,
                        rule_text(self.chains, &chain.name, &chain.rules[ri]),
                        self.text
                    ));
                }
            }
        }
    }
}

fn run_dump(lab: &mut Lab, seed: u64, random: usize, kind: Kind, stats: &mut Stats) -> Vec<String> {
    let mut rng = Rng(seed);
    let chains = gen_dump(&mut rng, kind);
    let table = kind.table.as_str();
    let text = print(kind.table, &chains);
    let verbose = std::env::var_os("KERNEL_COUNTERS_VERBOSE").is_some();
    if verbose {
        eprintln!("--- seed {seed} ---\n{text}");
    }
    let dead = match dead_claims(&chains, &text) {
        Ok(d) => d,
        Err(e) => return vec![format!("seed {seed}: {e}\n{text}")],
    };
    if let Err(e) = lab.load(&text) {
        return vec![format!(
            "seed {seed}: the kernel refuses the generated dump: {e}\n{text}"
        )];
    }
    let mut run = DumpRun {
        seed,
        table,
        chains: &chains,
        text: &text,
        dead: &dead,
        reported: chains.iter().map(|c| vec![false; c.rules.len()]).collect(),
        problems: Vec::new(),
    };
    let mut counters = match lab.settle() {
        Ok(c) => c,
        Err(e) => return vec![format!("seed {seed}: {e}")],
    };
    // The kernel holds the rules in the dump's order, one per line.
    for c in &chains {
        let got = counters.chain(table, &c.name).map(|cc| cc.rules.len());
        if got != Some(c.rules.len()) {
            return vec![format!(
                "seed {seed}: chain {} has {} rules in the dump but {got:?} in the kernel\n{text}",
                c.name,
                c.rules.len()
            )];
        }
    }
    stats.dumps += 1;
    *stats.tables.entry(table).or_default() += 1;
    stats.rules += chains.iter().map(|c| c.rules.len()).sum::<usize>();
    for lint in dead.iter().flatten().flatten() {
        *stats.dead.entry(lint).or_default() += 1;
    }

    // Witnesses: one packet per live rule, sent alone.
    let ruleset = iptlint::syntax::parse(&text, Some(Family::Ipv4)).ruleset;
    let ti = ruleset
        .tables
        .iter()
        .position(|t| t.name == kind.table)
        .expect("the generated table");
    let ctx = lab.context(&ruleset);
    let sendable: HashMap<&str, _> = kind
        .builtins()
        .iter()
        .map(|&h| (h, lab.sendable_in(&ctx, table, h).expect("a hook")))
        .collect();
    let model_chain = |name: &str| {
        ruleset.tables[ti]
            .chains
            .iter()
            .position(|c| c.name == name)
            .expect("every generated chain is in the model")
    };
    // The first chains of the packet's way see it as sent; a later hook of
    // mangle or nat sees what the first one surely accepted unchanged (a
    // forwarded packet has no output device yet at PREROUTING).
    let first = |name: &str| {
        kind.starts()
            .contains(&name)
            .then(|| sendable[name].clone())
    };
    let early = witness::sure_reach(&ruleset, ti, &ctx, first).accepted;
    let took = |hook: &str| early[model_chain(hook)].clone();
    let sure = witness::sure_reach(&ruleset, ti, &ctx, |name| {
        if let Some(set) = first(name) {
            return Some(set);
        }
        let before = match name {
            "INPUT" => took("PREROUTING")?,
            "FORWARD" => took("PREROUTING")?.forget(Dim::OutInterface),
            "POSTROUTING" => took("OUTPUT")?,
            _ => return None,
        };
        Some(sendable[name].intersect(&before))
    })
    .rules;
    for (ci, chain) in chains.iter().enumerate() {
        let mi = model_chain(&chain.name);
        for ri in 0..chain.rules.len() {
            let reaches = &sure[mi][ri];
            let lint = dead[ci][ri];
            if lint.is_none() {
                stats.live += 1;
            }
            let preferred = Packet {
                src: u32::from_be_bytes(*rng.pick(&ADDRS)) as u128,
                dst: u32::from_be_bytes(*rng.pick(&ADDRS)) as u128,
                ..Packet::default()
            };
            let Some((hook, mut p)) = witness::witness(reaches, &ctx, &preferred) else {
                if lint.is_none() {
                    stats.no_witness += 1;
                    if verbose {
                        eprintln!(
                            "seed {seed}: no sendable witness for live rule {} of {}: {}",
                            ri + 1,
                            chain.name,
                            rule_text(&chains, &chain.name, &chain.rules[ri])
                        );
                    }
                }
                continue;
            };
            let set = &reaches
                .iter()
                .find(|r| r.hook == hook)
                .expect("found")
                .packets;
            // A flow of its own when the rule allows it: a fresh source port
            // high up, else a fresh one below 1024.
            stats.fresh += 1;
            let high = WITNESS_PORTS + (stats.fresh % (65535 - WITNESS_PORTS as u32)) as u16;
            let low = 1 + (stats.fresh % 1023) as u16;
            if let Some(q) = [high, low]
                .into_iter()
                .map(|sport| Packet { sport, ..p.clone() })
                .find(|q| set.contains(&ctx, q))
            {
                p = q;
            }
            let probe = match lab.probe_at(&ctx, hook, &p) {
                Ok(probe) => probe,
                Err(e) => {
                    run.problems.push(format!(
                        "seed {seed}: rule {} of {}: {e}",
                        ri + 1,
                        chain.name
                    ));
                    continue;
                }
            };
            let shown = PacketDisplay {
                packet: &p,
                family: Family::Ipv4,
            };
            if let Some(lint) = lint {
                run.problems.push(format!(
                    "seed {seed}: iptlint contradicts itself: {lint} calls rule {} of {} dead, \
                     but the witness walk says {shown} reaches and matches it",
                    ri + 1,
                    chain.name
                ));
            }
            let previous = counters.clone();
            let before = counters.rule(table, &chain.name, ri).unwrap_or_default();
            // The witness is promised a state (NEW or INVALID) that holds
            // for the first packet of its flow.
            if let Err(e) = lab.forget_connections().and_then(|()| lab.send(&probe)) {
                run.problems.push(format!("seed {seed}: {e}"));
                return run.problems;
            }
            counters = match lab.settle() {
                Ok(c) => c,
                Err(e) => {
                    run.problems.push(format!("seed {seed}: {e}"));
                    return run.problems;
                }
            };
            stats.witnesses += 1;
            let after = counters.rule(table, &chain.name, ri).unwrap_or_default();
            if after.packets > before.packets {
                if lint.is_none() {
                    stats.confirmed += 1;
                }
            } else {
                let path: Vec<String> = counters
                    .hits_since(&previous)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                run.problems.push(format!(
                    "seed {seed}: the engine says {shown} (sent as {}) surely reaches rule {} of {} and matches it, \
                     but the kernel did not count it there (it counted it on: {})\n  rule: {}\n--- dump ---\n{text}",
                    describe_probe(&probe, lab),
                    ri + 1,
                    chain.name,
                    if path.is_empty() { "nothing".to_string() } else { path.join(", ") },
                    rule_text(&chains, &chain.name, &chain.rules[ri])
                ));
            }
            run.check_dead(
                &counters,
                &format!("the witness of rule {} of {}", ri + 1, chain.name),
            );
        }
    }

    // Packets aimed at each rule called dead: packets it could match, as
    // they enter a hook that reaches its chain (the rules before it must
    // take them all); then random packets. Sent in small batches.
    let mut batch: Vec<(Probe, String)> = Vec::new();
    let mut aimed = std::collections::HashSet::new();
    for (ci, chain) in chains.iter().enumerate() {
        let mi = model_chain(&chain.name);
        let hooks: Vec<&str> = if chain.builtin {
            vec![chain.name.as_str()]
        } else {
            kind.builtins().to_vec()
        };
        for (ri, lint) in dead[ci].iter().enumerate() {
            let Some(lint) = lint else { continue };
            let may = rule_match_space(&ruleset.tables[ti].chains[mi].rules[ri], &ctx).may;
            for &hook in &hooks {
                let target = may.intersect(&sendable[hook]);
                for protocol in [6, 17, 1] {
                    let preferred = Packet {
                        protocol,
                        src: u32::from_be_bytes(*rng.pick(&ADDRS)) as u128,
                        dst: u32::from_be_bytes(*rng.pick(&ADDRS)) as u128,
                        ..Packet::default()
                    };
                    let Some(p) = target.witness_near(&ctx, &preferred) else {
                        break;
                    };
                    if !aimed.insert((hook, p.clone())) {
                        continue;
                    }
                    match lab.probe_at(&ctx, hook, &p) {
                        Ok(probe) => {
                            let what =
                                format!("aimed at rule {} of {} ({lint})", ri + 1, chain.name);
                            batch.push((probe, what));
                            stats.aimed += 1;
                        }
                        Err(e) => run.problems.push(format!("seed {seed}: {e}")),
                    }
                }
            }
        }
    }
    for _ in 0..random {
        batch.push((random_probe(&mut rng, lab.links().len()), "random".into()));
        stats.random += 1;
    }
    for chunk in batch.chunks(BATCH) {
        for (probe, _) in chunk {
            match lab.send(probe) {
                Ok(true) => {}
                Ok(false) => stats.refused += 1,
                Err(e) => {
                    run.problems.push(format!("seed {seed}: {e}"));
                    return run.problems;
                }
            }
        }
        counters = match lab.settle() {
            Ok(c) => c,
            Err(e) => {
                run.problems.push(format!("seed {seed}: {e}"));
                return run.problems;
            }
        };
        let sent: Vec<String> = chunk
            .iter()
            .map(|(probe, what)| format!("    {} ({what})", describe_probe(probe, lab)))
            .collect();
        run.check_dead(&counters, &format!("one of\n{}", sent.join("\n")));
    }
    stats.suppressed = Lab::suppressed(&counters);
    for (chain, claims) in chains.iter().zip(&dead) {
        for (ri, claim) in claims.iter().enumerate() {
            let n = counters.rule(table, &chain.name, ri).unwrap_or_default();
            if claim.is_none() && n.packets == 0 {
                stats.never_counted += 1;
            }
        }
    }
    stats.dead_counted += run.reported.iter().flatten().filter(|r| **r).count();
    run.problems
}

#[test]
fn kernel_counts_agree_with_dead_rule_claims() {
    let started = Instant::now();
    let mut lab = match Lab::start(&LINKS) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("skipping the kernel counter check: {e}");
            return;
        }
    };
    // LOG only where it stays quiet (a namespace other than the host's logs
    // nothing unless nf_log_all_netns is set).
    let log = std::fs::read_to_string("/proc/sys/net/netfilter/nf_log_all_netns")
        .is_ok_and(|v| v.trim() == "0");
    // Every match and target the generator uses, once: a kernel without one
    // of them is a machine this check cannot run on, not a finding.
    let features = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n:U - [0:0]\n\
         -A INPUT -m iprange --src-range 10.0.0.1-10.0.0.2 -p tcp -m tcp --dport 1 -j U\n\
         -A INPUT -p udp -m multiport --dports 1,2 -m conntrack --ctstate NEW -m state --state NEW -g U\n\
         -A INPUT -p icmp -m icmp --icmp-type 8 -m mark --mark 0x1 -m comment --comment x -j MARK --set-xmark 0x1/0xffffffff\n\
         -A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN -j REJECT --reject-with icmp-port-unreachable\n\
         {}-A U -j RETURN\nCOMMIT\n",
        if log {
            "-A U -j LOG --log-prefix x\n"
        } else {
            ""
        }
    );
    if let Err(e) = lab.load(&features) {
        eprintln!("skipping the kernel counter check: the kernel lacks a match or target: {e}");
        return;
    }
    if let Err(e) = lab.forget_connections() {
        eprintln!("skipping the kernel counter check: no ctnetlink: {e}");
        return;
    }
    let dumps = env_or("KERNEL_COUNTERS_DUMPS", 10);
    let seed = env_or("KERNEL_COUNTERS_SEED", 0xc0de_0001);
    let random = env_or("KERNEL_COUNTERS_RANDOM", 100) as usize;
    let mut stats = Stats::default();
    let mut problems = Vec::new();
    for i in 0..dumps {
        // Half the seeds give a filter table, the others mangle (five
        // hooks, no REJECT) or nat (four hooks, DNAT and SNAT).
        let seed = seed.wrapping_add(i);
        let table = match seed % 4 {
            1 => TableName::Mangle,
            3 => TableName::Nat,
            _ => TableName::Filter,
        };
        let kind = Kind {
            table,
            log,
            unmodelled: seed % 3 == 2,
        };
        problems.extend(run_dump(&mut lab, seed, random, kind, &mut stats));
    }
    let mut dead: Vec<_> = stats.dead.iter().collect();
    dead.sort();
    let dead_total: usize = stats.dead.values().sum();
    println!(
        "kernel counters: {} dumps {:?}, {} rules; called dead {dead_total} {dead:?}, of which the kernel counted {} ({} packets aimed at them); \
         live {}: witnesses confirmed {} of {} sent, {} without a sendable witness, {} never counted; \
         {} random packets ({} refused at once by OUTPUT); {} kernel replies suppressed; {:.1?}",
        stats.dumps,
        stats.tables,
        stats.rules,
        stats.dead_counted,
        stats.aimed,
        stats.live,
        stats.confirmed,
        stats.witnesses,
        stats.no_witness,
        stats.never_counted,
        stats.random,
        stats.refused,
        stats.suppressed,
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} disagreement(s) between iptlint and the kernel:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(
        stats.dumps as u64 == dumps && dead_total > 0 && stats.confirmed > 0,
        "the check did not exercise both sides: {} of {dumps} dumps, {dead_total} dead, {} confirmed",
        stats.dumps,
        stats.confirmed
    );
}

/// `Counters` reads what iptables-save prints (no kernel needed).
#[test]
fn counters_read_iptables_save_output() {
    let text = "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Dec  7 07:31:24 2026
*raw
:PREROUTING ACCEPT [5:190]
:OUTPUT ACCEPT [2:75]
[0:0] -A OUTPUT -m mark ! --mark 0x7e57 -j DROP
COMMIT
*filter
:INPUT ACCEPT [3:110]
:FORWARD DROP [0:0]
:U0 - [0:0]
[2:75] -A INPUT -i eth0 -j U0
[1:35] -A INPUT -m comment --comment \"a b\"
[7:420] -A U0 -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
";
    let c = Counters::parse(text).expect("reads");
    assert_eq!(
        c.chain("raw", "PREROUTING").unwrap().policy_count.packets,
        5
    );
    let input = c.chain("filter", "INPUT").unwrap();
    assert_eq!(input.policy, "ACCEPT");
    assert_eq!(input.policy_count.bytes, 110);
    assert_eq!(input.rules.len(), 2);
    assert_eq!(input.rules[1].1, "-A INPUT -m comment --comment \"a b\"");
    assert_eq!(c.rule("filter", "U0", 0).unwrap().packets, 7);
    assert_eq!(c.chain("filter", "U0").unwrap().policy, "-");
    assert!(c.rule("filter", "FORWARD", 0).is_none());
    assert!(
        Counters::parse("-A INPUT -j ACCEPT\n").is_err(),
        "a rule outside a table"
    );
    assert!(Counters::parse("*filter\n[1:2] -A NOPE -j ACCEPT\n").is_err());
    assert!(Counters::parse("*filter\n:INPUT ACCEPT [x:2]\n").is_err());
}

/// At POSTROUTING a forwarded packet still has its input device: the
/// kernel's `ip_output()` hands `skb->dev` (the device it came in on) to the
/// hook as `in`, so `-i` in a user chain reached from POSTROUTING matches it
/// (iptables refuses `-i` in POSTROUTING itself, not in a user chain).
/// iptlint's model once gave packets no input device at POSTROUTING, and so
/// called live rules dead: `-i eth0` "never matches" (`interface-never-matches`),
/// and a rule after `! -i eth0 -j ACCEPT` is "shadowed" (`shadowed-rule`).
/// Found by this test's generator on mangle dumps; the engine now leaves the
/// input side free at POSTROUTING.
#[test]
fn postrouting_user_chains_see_the_input_device_of_forwarded_packets() {
    let mut lab = match Lab::start(&LINKS[..2]) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("skipping: {e}");
            return;
        }
    };
    let head = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
                :OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:U - [0:0]\n-A POSTROUTING -j U\n";
    // Each case: the rules of U, and the one (0-based) a UDP packet
    // forwarded from eth0 to eth1 is counted on.
    let cases: [(&str, usize); 2] = [
        ("-A U -i eth0 -j ACCEPT\n", 0),
        ("-A U ! -i eth0 -j ACCEPT\n-A U -p udp -j DROP\n", 1),
    ];
    let mut problems = Vec::new();
    for (rules, hit) in cases {
        let dump = format!("{head}{rules}COMMIT\n");
        lab.load(&dump).expect("loads");
        let before = lab.settle().expect("settles");
        let probe = Probe {
            hook: Hook::Forward,
            in_link: Some(0),
            out_link: Some(1),
            protocol: 17,
            src: [10, 1, 2, 3].into(),
            dst: [192, 168, 5, 5].into(),
            sport: 4000,
            dport: 53,
            icmp_type: 0,
            icmp_code: 0,
            tcp_flags: 0,
        };
        lab.send(&probe).expect("sends");
        let hits = lab.settle().expect("settles").hits_since(&before);
        assert!(
            hits.iter().any(|h| h.chain == "U" && h.rule == Some(hit)),
            "the kernel did not count the forwarded packet on rule {} of U: {hits:?}\n{dump}",
            hit + 1
        );
        let report = check_source(
            "post.rules".into(),
            Arc::from(dump.as_str()),
            Some(Family::Ipv4),
        );
        problems.extend(
            report
                .findings
                .iter()
                .filter(|f| f.chain.as_deref() == Some("U") && f.rule == Some(hit + 1))
                .map(|f| {
                    format!(
                        "{}: {} (the kernel counts a packet forwarded from eth0 on it)\n{dump}",
                        f.lint.name, f.message
                    )
                }),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
