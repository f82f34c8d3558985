//! A packet lab for tests that let the kernel count: a router network
//! namespace joined by veth pairs to peer namespaces, a real `iptables-restore`
//! in the router, packets sent so that its INPUT, FORWARD or OUTPUT chain sees
//! exactly the fields a test asks for, and its `iptables-save -c` counters
//! read back per rule.
//!
//! # Layout
//!
//! Every namespace is made by `unshare -n` around one long-running Python
//! process, the packet sender of that namespace. The namespaces have no names
//! and vanish with their process; a sender exits when its stdin closes, so
//! nothing is left behind even when the test process is killed. Packets never
//! leave these namespaces.
//!
//! Link `i` joins the router's interface `links[i]` (100.64.i.1/24) to peer
//! `i`'s `p0` (100.64.i.2/24); a peer routes everything to the router. The
//! router picks routes by the packet's TOS, which the rules under test do not
//! look at: TOS `4 * (i + 1)` selects table `101 + i` (`default via
//! 100.64.i.2 dev links[i]`), TOS `0x1c` selects table 200 (`local
//! 0.0.0.0/0`: every address is the router's own). Hence:
//!
//! - INPUT: peer `i` sends with TOS `0x1c`; the router gets it on `links[i]`
//!   and delivers it locally, whatever its addresses.
//! - FORWARD: peer `i` sends with the TOS of link `j`; the router forwards it
//!   out of `links[j]` to peer `j` (which drops it).
//! - OUTPUT: the router's sender sends with the socket TOS of link `j`.
//!
//! Reverse-path filtering is off and local sources are accepted, so any
//! source address can be used; redirects are off.
//!
//! # Keeping the counts clean
//!
//! Only the test's packets reach the router's chains. Each sender marks its
//! packets (`SO_MARK` [`TEST_MARK`]) and the `raw` OUTPUT chain of every
//! namespace drops any packet without that mark: what the kernel sends by
//! itself (TCP resets, ICMP errors and echo replies, REJECT's answers,
//! redirects) never gets to a filter chain and never leaves its namespace.
//! Crossing into another namespace clears the mark, so the router sees mark 0
//! in INPUT and FORWARD and [`TEST_MARK`] in OUTPUT. Peers drop what they
//! receive. The router's `raw` table belongs to the lab: dumps loaded into it
//! must not have one.
//!
//! Every packet a peer sends enters the router once, and the policy counter
//! of the router's raw PREROUTING counts it; [`Lab::settle`] waits until it has
//! seen every packet sent, and reports any packet nobody sent.
//!
//! # The packets
//!
//! IPv4 only: TCP with any flags (no options, 20-byte header), UDP with 7
//! bytes of data, ICMP of any type and code (then id, sequence and 7 bytes of
//! data); TTL 64, no fragments, no IP options, correct checksums, a fresh IP
//! id (and ICMP id) each time. No reply is ever seen. [`Lab::sendable`] is
//! the part of that whose conntrack state is known, as a [`PacketSet`] per
//! hook.
//!
//! # Use
//!
//! ```text
//! let mut lab = match Lab::start(&["eth0", "eth1"]) {
//!     Ok(lab) => lab,
//!     Err(why) => { eprintln!("skipping: {why}"); return; }
//! };
//! lab.load(dump)?;                                  // iptables-restore in the router
//! let ctx = lab.context(&ruleset);                  // knows the link names
//! let p = lab.sendable(&ctx, Hook::Forward)         // what the lab can send ...
//!     .intersect(&some_set).witness(&ctx)?;         // ... that a test wants
//! let before = lab.settle()?;
//! lab.send(&lab.probe(&ctx, Hook::Forward, &p)?)?;
//! let hits = lab.settle()?.hits_since(&before);     // rules and policies that counted it
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use iptlint::model::{Family, Ruleset};
use iptlint::space::{AddrType, Conntrack, CtBase, Dim, Packet, PacketSet, SpaceContext};

use super::kernel;

/// The mark on every packet the lab sends (cleared when it crosses to
/// another namespace).
pub const TEST_MARK: u32 = 0x7e57;
/// TOS that makes the router take a packet as its own.
const TOS_LOCAL: u8 = 0x1c;
/// At most this many links (TOS values 4..0x18).
pub const MAX_LINKS: usize = 6;

/// The Python sender, one per namespace. Commands on stdin, one per line:
/// `proto src dst sport dport icmp_type icmp_code tcp_flags tos ident`;
/// answers `ok` or `err ERRNO` (OUTPUT rules may drop the packet: EPERM).
/// `ident` is the IP id, the ICMP id and the TCP sequence number. `flush`
/// empties the namespace's conntrack table (ctnetlink `IPCTNL_MSG_CT_DELETE`
/// without attributes) and answers `ok` or `err ERRNO`.
const SENDER: &str = r#"
import socket, struct, sys
mark = int(sys.argv[1], 0)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, 36, mark)  # SO_MARK

def csum(b):
    if len(b) % 2:
        b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

def flush():
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    try:
        # nlmsghdr (CTNETLINK << 8 | CT_DELETE, REQUEST | ACK), nfgenmsg (AF_INET)
        nl.send(struct.pack('=IHHII', 20, (1 << 8) | 2, 1 | 4, 1, 0)
                + struct.pack('=BBH', socket.AF_INET, 0, 0))
        answer = nl.recv(4096)
        return -struct.unpack('=i', answer[16:20])[0]
    finally:
        nl.close()

print('ready', flush=True)
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    if w[0] == 'flush':
        try:
            e = flush()
        except OSError as x:
            e = x.errno or 1
        print('ok' if e == 0 else 'err %d' % e, flush=True)
        continue
    proto, src, dst = int(w[0]), w[1], w[2]
    sport, dport, itype, icode, flags, tos, n = map(int, w[3:10])
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    if proto == 6:
        ack = 0x1000 if flags & 0x10 else 0
        l4 = struct.pack('!HHIIBBHHH', sport, dport, n << 8, ack, 5 << 4, flags, 64240, 0, 0)
        c = csum(sa + da + struct.pack('!BBH', 0, 6, len(l4)) + l4)
        l4 = l4[:16] + struct.pack('!H', c) + l4[18:]
    elif proto == 17:
        l4 = struct.pack('!HHHH', sport, dport, 15, 0) + b'iptlint'
        c = csum(sa + da + struct.pack('!BBH', 0, 17, len(l4)) + l4) or 0xffff
        l4 = l4[:6] + struct.pack('!H', c) + l4[8:]
    else:
        l4 = struct.pack('!BBHHH', itype, icode, 0, n, 1) + b'iptlint'
        l4 = l4[:2] + struct.pack('!H', csum(l4)) + l4[4:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, tos, 20 + len(l4), n, 0, 64, proto, 0, sa, da)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    try:
        s.sendto(hdr + l4, (dst, 0))
        print('ok', flush=True)
    except OSError as e:
        print('err', e.errno, flush=True)
"#;

/// The way a probe goes through the router: delivered to it (INPUT),
/// forwarded by it (FORWARD) or sent by it (OUTPUT). An INPUT or FORWARD
/// packet also passes PREROUTING, a FORWARD or OUTPUT packet POSTROUTING.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    Input,
    Forward,
    Output,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Input, Hook::Forward, Hook::Output];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
        }
    }

    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The way the lab sends packets that a builtin chain of hook `name`
    /// sees: PREROUTING as INPUT packets, POSTROUTING as OUTPUT packets.
    pub fn path_to(name: &str) -> Option<Hook> {
        match name {
            "PREROUTING" => Some(Hook::Input),
            "POSTROUTING" => Some(Hook::Output),
            _ => Hook::from_name(name),
        }
    }
}

/// One packet to send, in the lab's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub hook: Hook,
    /// The link it arrives on (INPUT, FORWARD).
    pub in_link: Option<usize>,
    /// The link it leaves by (FORWARD, OUTPUT).
    pub out_link: Option<usize>,
    /// 1 (ICMP), 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// TCP and UDP.
    pub sport: u16,
    pub dport: u16,
    /// ICMP.
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// TCP: byte 13 of the header (0x02 SYN, 0x10 ACK, ...).
    pub tcp_flags: u8,
}

/// `[packets:bytes]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

/// One chain as `iptables-save -c` printed it.
#[derive(Clone, Debug, Default)]
pub struct ChainCounters {
    pub name: String,
    /// `ACCEPT`/`DROP` for builtin chains, `-` for user chains.
    pub policy: String,
    pub policy_count: Count,
    /// The `-A` lines of the chain in order: counters and the rule text
    /// (from `-A` on).
    pub rules: Vec<(Count, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct TableCounters {
    pub name: String,
    pub chains: Vec<ChainCounters>,
}

/// What `iptables-save -c` printed, by table and chain.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub tables: Vec<TableCounters>,
}

impl Counters {
    /// Reads `iptables-save -c` output.
    pub fn parse(text: &str) -> Result<Counters, String> {
        let mut out = Counters::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("iptables-save line {}: cannot read {line:?}", n + 1);
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') || line == "COMMIT" {
                continue;
            }
            if let Some(name) = line.strip_prefix('*') {
                out.tables.push(TableCounters {
                    name: name.to_string(),
                    chains: Vec::new(),
                });
                continue;
            }
            let table = out.tables.last_mut().ok_or_else(bad)?;
            if let Some(decl) = line.strip_prefix(':') {
                let mut words = decl.split_whitespace();
                let (Some(name), Some(policy)) = (words.next(), words.next()) else {
                    return Err(bad());
                };
                let count = words.next().map(parse_count).transpose()?;
                table.chains.push(ChainCounters {
                    name: name.to_string(),
                    policy: policy.to_string(),
                    policy_count: count.unwrap_or_default(),
                    rules: Vec::new(),
                });
                continue;
            }
            let (count, rule) = match line.split_once(' ') {
                Some((c, rest)) if c.starts_with('[') => (parse_count(c)?, rest),
                _ => (Count::default(), line),
            };
            let chain_name = rule
                .strip_prefix("-A ")
                .and_then(|r| r.split_whitespace().next())
                .ok_or_else(bad)?;
            let chain = table
                .chains
                .iter_mut()
                .find(|c| c.name == chain_name)
                .ok_or_else(bad)?;
            chain.rules.push((count, rule.to_string()));
        }
        Ok(out)
    }

    pub fn chain(&self, table: &str, chain: &str) -> Option<&ChainCounters> {
        self.tables
            .iter()
            .find(|t| t.name == table)?
            .chains
            .iter()
            .find(|c| c.name == chain)
    }

    /// Counters of rule `index` (0-based) of a chain.
    pub fn rule(&self, table: &str, chain: &str, index: usize) -> Option<Count> {
        Some(self.chain(table, chain)?.rules.get(index)?.0)
    }

    /// Every rule and policy whose packet count grew since `before`, in
    /// `iptables-save` order: for one packet sent alone, the rules it
    /// matched and the policy that decided it, if one did (the lab's own
    /// raw table left out). What `trace` can be compared with.
    pub fn hits_since(&self, before: &Counters) -> Vec<Hit> {
        let mut hits = Vec::new();
        for table in self.tables.iter().filter(|t| t.name != "raw") {
            for chain in &table.chains {
                let old = before.chain(&table.name, &chain.name);
                let grew = |now: Count, then: Option<Count>| {
                    now.packets.saturating_sub(then.map_or(0, |c| c.packets))
                };
                let n = grew(chain.policy_count, old.map(|c| c.policy_count));
                let mut hit = |rule: Option<usize>, packets: u64| {
                    if packets > 0 {
                        hits.push(Hit {
                            table: table.name.clone(),
                            chain: chain.name.clone(),
                            rule,
                            packets,
                        });
                    }
                };
                for (i, (count, _)) in chain.rules.iter().enumerate() {
                    let then = old.and_then(|c| c.rules.get(i)).map(|r| r.0);
                    hit(Some(i), grew(*count, then));
                }
                hit(None, n);
            }
        }
        hits
    }
}

/// A rule (or a chain's policy) that counted packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub table: String,
    pub chain: String,
    /// 0-based; `None`: the chain's policy.
    pub rule: Option<usize>,
    pub packets: u64,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rule {
            Some(i) => write!(f, "{} rule {}", self.chain, i + 1)?,
            None => write!(f, "{} policy", self.chain)?,
        }
        if self.packets > 1 {
            write!(f, " ({} packets)", self.packets)?;
        }
        Ok(())
    }
}

fn parse_count(word: &str) -> Result<Count, String> {
    let inner = word
        .strip_prefix('[')
        .and_then(|w| w.strip_suffix(']'))
        .ok_or_else(|| format!("not a counter: {word:?}"))?;
    let (p, b) = inner
        .split_once(':')
        .ok_or_else(|| format!("not a counter: {word:?}"))?;
    let num = |s: &str| s.parse::<u64>().map_err(|e| format!("{word:?}: {e}"));
    Ok(Count {
        packets: num(p)?,
        bytes: num(b)?,
    })
}

/// One sender process, and so one namespace.
struct Sender {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Sender {
    fn start(unshare: &PathBuf, python: &PathBuf) -> Result<Sender, String> {
        let mut child = Command::new(unshare)
            .arg("-n")
            .arg(python)
            .args(["-u", "-c", SENDER, &format!("{TEST_MARK:#x}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the packet sender: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut sender = Sender {
            child,
            stdin,
            stdout,
        };
        match sender.answer()?.as_str() {
            "ready" => Ok(sender),
            other => Err(format!("the packet sender said {other:?}")),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn answer(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err("the packet sender exited".into()),
            Ok(_) => Ok(line.trim().to_string()),
            Err(e) => Err(format!("reading the packet sender: {e}")),
        }
    }

    /// Sends one packet; `Ok(false)` when the kernel refused it at once
    /// (an OUTPUT rule dropped or rejected it).
    fn send(&mut self, line: &str) -> Result<bool, String> {
        let stdin = self.stdin.as_mut().expect("open until drop");
        writeln!(stdin, "{line}").map_err(|e| format!("writing to the packet sender: {e}"))?;
        let answer = self.answer()?;
        if answer == "ok" {
            Ok(true)
        } else if answer.starts_with("err ") {
            Ok(false)
        } else {
            Err(format!("the packet sender said {answer:?}"))
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stdin.take(); // EOF: the sender leaves its loop
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lab: a router namespace and one peer namespace per link.
pub struct Lab {
    links: Vec<String>,
    router: Sender,
    peers: Vec<Sender>,
    nsenter: PathBuf,
    /// Packets the peers sent (each enters the router once).
    sent_in: u64,
    /// IP id, ICMP id and TCP sequence of the next packet: no two packets
    /// of a lab share one, so ICMP never looks like an answer to another.
    ident: u16,
}

/// Why the lab cannot run here (for the skip message), or the tools it uses.
pub fn available() -> Result<(PathBuf, PathBuf, PathBuf), String> {
    kernel::tools(&["ip", "nsenter", "iptables-restore", "iptables-save"])?;
    let unshare = kernel::namespaces()?;
    let nsenter = kernel::find_tool("nsenter").ok_or("no `nsenter` in PATH")?;
    let python = kernel::find_tool("python3").ok_or("no `python3` in PATH")?;
    // The interpreter itself, not a launcher script in front of it.
    let out = Command::new(&python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || exe.is_empty() {
        return Err("python3 does not run".into());
    }
    Ok((unshare, nsenter, PathBuf::from(exe)))
}

impl Lab {
    /// Builds the namespaces; `links` are the router's interface names (at
    /// most [`MAX_LINKS`], each at most 15 bytes). `Err` when the machine
    /// cannot (see [`available`]) or a step failed.
    pub fn start(links: &[&str]) -> Result<Lab, String> {
        assert!(!links.is_empty() && links.len() <= MAX_LINKS);
        let (unshare, nsenter, python) = available()?;
        let router = Sender::start(&unshare, &python)?;
        let mut peers = Vec::new();
        for _ in links {
            peers.push(Sender::start(&unshare, &python)?);
        }
        let lab = Lab {
            links: links.iter().map(|s| s.to_string()).collect(),
            router,
            peers,
            nsenter,
            sent_in: 0,
            ident: 1,
        };
        lab.configure()?;
        Ok(lab)
    }

    fn configure(&self) -> Result<(), String> {
        let guard = format!(
            "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A OUTPUT -m mark ! --mark {TEST_MARK:#x} -j DROP\nCOMMIT\n"
        );
        let mut router = String::from(
            "set -e\nip link set lo up\n\
             for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done\n\
             echo 0 > /proc/sys/net/ipv4/fwmark_reflect\n\
             echo 1 > /proc/sys/net/ipv4/ip_forward\n",
        );
        for (i, (name, peer)) in self.links.iter().zip(&self.peers).enumerate() {
            router.push_str(&format!(
                "ip link add {name} type veth peer name p0 netns {pid}\n\
                 ip addr add 100.64.{i}.1/24 dev {name}\n\
                 ip link set {name} up\n\
                 ip rule add tos {tos:#x} lookup {table} pref 100\n\
                 ip route add default via 100.64.{i}.2 dev {name} onlink table {table}\n",
                pid = peer.pid(),
                tos = link_tos(i),
                table = 101 + i,
            ));
        }
        router.push_str(&format!(
            "ip rule add tos {TOS_LOCAL:#x} lookup 200 pref 100\n\
             ip route add local 0.0.0.0/0 dev lo table 200\n\
             for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done\n\
             for f in /proc/sys/net/ipv4/conf/*/accept_local; do echo 1 > $f; done\n\
             for f in /proc/sys/net/ipv4/conf/*/send_redirects; do echo 0 > $f; done\n\
             loose=/proc/sys/net/netfilter/nf_conntrack_tcp_loose\n\
             if [ -e $loose ]; then echo 1 > $loose; fi\n"
        ));
        self.script(&self.router, &router, None)?;
        self.restore_in(&self.router, &guard)?;
        let peer_tables = format!(
            "{guard}*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        );
        for (i, peer) in self.peers.iter().enumerate() {
            let script = format!(
                "set -e\nip link set lo up\n\
                 ip addr add 100.64.{i}.2/24 dev p0\n\
                 ip link set p0 up\n\
                 ip route add default via 100.64.{i}.1 dev p0\n\
                 echo 0 > /proc/sys/net/ipv4/ip_forward\n"
            );
            self.script(peer, &script, None)?;
            self.restore_in(peer, &peer_tables)?;
        }
        Ok(())
    }

    fn nsenter(&self, ns: &Sender) -> Command {
        let mut cmd = Command::new(&self.nsenter);
        cmd.args(["-t", &ns.pid(), "-n"]);
        cmd
    }

    /// Runs `sh -c script` in a namespace; `Err` with its stderr on failure.
    fn script(&self, ns: &Sender, script: &str, input: Option<&str>) -> Result<String, String> {
        let mut cmd = self.nsenter(ns);
        cmd.args(["sh", "-c", script]);
        run(cmd, input)
    }

    fn restore_in(&self, ns: &Sender, dump: &str) -> Result<(), String> {
        let mut cmd = self.nsenter(ns);
        cmd.arg("iptables-restore");
        run(cmd, Some(dump)).map(|_| ())
    }

    /// The router's interface names, by link.
    pub fn links(&self) -> &[String] {
        &self.links
    }

    /// Loads a dump into the router with `iptables-restore`: afterwards the
    /// router's tables are the dump's (counters from zero), and a table the
    /// router has but the dump lacks is left empty with ACCEPT policies.
    pub fn load(&self, dump: &str) -> Result<(), String> {
        let has = |name: &str| dump.lines().any(|l| l.trim_end() == format!("*{name}"));
        if has("raw") {
            return Err("the raw table is the lab's own; load dumps without it".into());
        }
        let mut text = dump.to_string();
        for table in self.counters()?.tables {
            if table.name == "raw" || has(&table.name) {
                continue;
            }
            text.push_str(&format!("*{}\n", table.name));
            for chain in table.chains.iter().filter(|c| c.policy != "-") {
                text.push_str(&format!(":{} ACCEPT [0:0]\n", chain.name));
            }
            text.push_str("COMMIT\n");
        }
        self.restore_in(&self.router, &text)
    }

    /// The router's `iptables-save -c`, as printed.
    pub fn save(&self) -> Result<String, String> {
        let mut cmd = self.nsenter(&self.router);
        cmd.args(["iptables-save", "-c"]);
        run(cmd, None)
    }

    /// The router's counters now.
    pub fn counters(&self) -> Result<Counters, String> {
        Counters::parse(&self.save()?)
    }

    /// Sends one probe. `Ok(false)`: the router refused it at once (an
    /// OUTPUT rule dropped or rejected it); still counted by its rules.
    pub fn send(&mut self, probe: &Probe) -> Result<bool, String> {
        let check = |link: Option<usize>, what: &str| {
            link.filter(|&l| l < self.links.len())
                .ok_or_else(|| format!("{what} link missing or unknown in {probe:?}"))
        };
        let (sender, tos) = match probe.hook {
            Hook::Input => (Some(check(probe.in_link, "input")?), TOS_LOCAL),
            Hook::Forward => (
                Some(check(probe.in_link, "input")?),
                link_tos(check(probe.out_link, "output")?),
            ),
            Hook::Output => (None, link_tos(check(probe.out_link, "output")?)),
        };
        if !matches!(probe.protocol, 1 | 6 | 17) {
            return Err(format!("the lab sends TCP, UDP and ICMP only: {probe:?}"));
        }
        let line = format!(
            "{} {} {} {} {} {} {} {} {tos} {}",
            probe.protocol,
            probe.src,
            probe.dst,
            probe.sport,
            probe.dport,
            probe.icmp_type,
            probe.icmp_code,
            probe.tcp_flags,
            self.ident
        );
        self.ident = self.ident.wrapping_add(1);
        match sender {
            Some(i) => {
                let sent = self.peers[i].send(&line)?;
                if sent {
                    self.sent_in += 1;
                }
                Ok(sent)
            }
            None => self.router.send(&line),
        }
    }

    /// Empties the router's conntrack table: the next packet of any flow is
    /// the first one the router sees (NEW, or INVALID for what cannot start
    /// a connection), whatever was sent before.
    pub fn forget_connections(&mut self) -> Result<(), String> {
        match self.router.send("flush")? {
            true => Ok(()),
            false => Err("the router could not empty its conntrack table".into()),
        }
    }

    /// Waits until every packet the peers sent has entered the router, then
    /// returns the counters. `Err` when packets went missing after two
    /// seconds, or when packets nobody sent entered the router.
    pub fn settle(&self) -> Result<Counters, String> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let now = self.counters()?;
            let seen = now
                .chain("raw", "PREROUTING")
                .ok_or("no raw PREROUTING in the router")?
                .policy_count
                .packets;
            if seen > self.sent_in {
                return Err(format!(
                    "{seen} packets entered the router, but the peers sent {}",
                    self.sent_in
                ));
            }
            if seen == self.sent_in {
                // The packet is counted on entry; the rest of its walk takes
                // microseconds, a second read comes milliseconds later.
                return self.counters();
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "only {seen} of the {} packets the peers sent entered the router",
                    self.sent_in
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Packets the kernel made by itself (replies, errors) that the raw
    /// guard dropped in the router so far.
    pub fn suppressed(counters: &Counters) -> u64 {
        counters.rule("raw", "OUTPUT", 0).map_or(0, |c| c.packets)
    }

    /// A space context for `ruleset` whose interface alphabet also names the
    /// lab's links, so witnesses can use them.
    pub fn context(&self, ruleset: &Ruleset) -> SpaceContext {
        let mut names: Vec<&str> = ruleset
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules)
            .flat_map(|r| [r.in_interface(), r.out_interface()])
            .flatten()
            .map(|i| i.value.name.as_str())
            .collect();
        names.extend(self.links.iter().map(String::as_str));
        SpaceContext::new(Family::Ipv4, names)
    }

    /// Every packet the lab can make the router's `hook` chain see, in the
    /// packet space of `ctx` (from [`Lab::context`]), with the conntrack
    /// state the kernel gives it when it is the first packet of its flow the
    /// router sees (see [`Lab::forget_connections`]; no reply is ever seen):
    ///
    /// - TCP with flags SYN or ACK (conntrack picks a lone ACK up: NEW; the
    ///   lab turns `nf_conntrack_tcp_loose` on), UDP, ICMP echo or timestamp
    ///   request: NEW;
    /// - ICMP echo reply, or port unreachable with no packet inside: INVALID;
    ///
    /// unicast addresses outside 0/8, 100.64/16, 127/8 and 224/3, ports
    /// 1-65535, mark 0 (TEST_MARK in OUTPUT), connmark 0, not a fragment, the
    /// lab's links as interfaces, address types UNICAST (the lab does not
    /// model `addrtype`: a rule set that uses it needs its own care).
    ///
    /// [`Lab::send`] gives every ICMP packet an id of its own; for TCP and
    /// UDP the caller picks fresh ports or empties the conntrack table first.
    pub fn sendable(&self, ctx: &SpaceContext, hook: Hook) -> PacketSet {
        let any = ctx.universe();
        let one = |d: Dim, v: u128| any.restrict_range(d, v, v);
        let ct = |state: CtBase| {
            let atom = conntrack_atom(ctx, Conntrack::new(state));
            one(Dim::Conntrack, atom)
        };
        let icmp = |t: u128, c: u128| one(Dim::Icmp, t << 8 | c);
        let syn = one(Dim::TcpFlags, 0x02);
        let tcp = one(Dim::Protocol, 6)
            .intersect(&syn.union(&one(Dim::TcpFlags, 0x10)))
            .intersect(&icmp(8, 0))
            .intersect(&ct(CtBase::New));
        let udp = one(Dim::Protocol, 17)
            .intersect(&syn)
            .intersect(&icmp(8, 0))
            .intersect(&ct(CtBase::New));
        let icmp_new = one(Dim::Protocol, 1)
            .intersect(&syn)
            .intersect(&icmp(8, 0).union(&icmp(13, 0)))
            .intersect(&ct(CtBase::New));
        let icmp_invalid = one(Dim::Protocol, 1)
            .intersect(&syn)
            .intersect(&icmp(0, 0).union(&icmp(3, 3)))
            .intersect(&ct(CtBase::Invalid));
        let mut set = ctx
            .hook_universe(hook.name())
            .intersect(&tcp.union(&udp).union(&icmp_new).union(&icmp_invalid));
        let v4 = |a: [u8; 4]| u32::from_be_bytes(a) as u128;
        for d in [Dim::Src, Dim::Dst] {
            let unicast = any
                .restrict_range(d, v4([1, 0, 0, 0]), v4([126, 255, 255, 255]))
                .union(&any.restrict_range(d, v4([128, 0, 0, 0]), v4([223, 255, 255, 255])));
            let links = any.restrict_range(d, v4([100, 64, 0, 0]), v4([100, 64, 255, 255]));
            set = set.intersect(&unicast.difference(&links));
        }
        set = set
            .restrict_range(Dim::SrcPort, 1, 65535)
            .restrict_range(Dim::DstPort, 1, 65535)
            .restrict_range(Dim::Fragment, 0, 0)
            .restrict_range(Dim::Connmark, 0, 0);
        let mark = if hook == Hook::Output { TEST_MARK } else { 0 } as u128;
        set = set.restrict_range(Dim::Mark, mark, mark);
        let unicast = AddrType::ALL
            .iter()
            .position(|t| *t == AddrType::Unicast)
            .expect("listed") as u128;
        set = set
            .restrict_range(Dim::SrcType, unicast, unicast)
            .restrict_range(Dim::DstType, unicast, unicast);
        let links = |d: Dim| {
            self.links.iter().fold(ctx.empty(), |acc, name| {
                let one = ctx
                    .interface_set(d, name)
                    .expect("the context names the links: use Lab::context");
                acc.union(&one)
            })
        };
        if hook != Hook::Output {
            set = set.intersect(&links(Dim::InInterface));
        }
        if hook != Hook::Input {
            set = set.intersect(&links(Dim::OutInterface));
        }
        set
    }

    /// What the lab can make a builtin chain of any table see, by hook:
    /// PREROUTING gets the INPUT packets (none has an output device yet),
    /// POSTROUTING the OUTPUT packets (no input device; forwarded packets
    /// pass POSTROUTING too, with their input device, but are not offered
    /// here); `None` for a name that is not a hook.
    pub fn sendable_at(&self, ctx: &SpaceContext, hook: &str) -> Option<PacketSet> {
        Some(self.sendable(ctx, Hook::path_to(hook)?))
    }

    /// What the lab can make builtin chain `hook` of `table` see: as
    /// [`Lab::sendable_at`], but the nat table only sees the first packet of
    /// a connection, and never one conntrack calls INVALID, so there only
    /// the NEW ones (first in their flow: see [`Lab::forget_connections`]).
    pub fn sendable_in(&self, ctx: &SpaceContext, table: &str, hook: &str) -> Option<PacketSet> {
        let set = self.sendable_at(ctx, hook)?;
        if table != "nat" {
            return Some(set);
        }
        let new = conntrack_atom(ctx, Conntrack::new(CtBase::New));
        Some(set.restrict_range(Dim::Conntrack, new, new))
    }

    /// The probe that makes the builtin chain `hook` (of any table) see `p`
    /// (see [`Lab::sendable_at`]).
    pub fn probe_at(&self, ctx: &SpaceContext, hook: &str, p: &Packet) -> Result<Probe, String> {
        let path = Hook::path_to(hook).ok_or_else(|| format!("{hook} is not a hook"))?;
        self.probe(ctx, path, p)
    }

    /// The probe that sends `p` to `hook`; `Err` when `p` is not in
    /// [`Lab::sendable`].
    pub fn probe(&self, ctx: &SpaceContext, hook: Hook, p: &Packet) -> Result<Probe, String> {
        if !self.sendable(ctx, hook).contains(ctx, p) {
            return Err(format!(
                "the lab cannot send this to {}: {p:?}",
                hook.name()
            ));
        }
        let link = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| self.links.iter().position(|l| l == n))
        };
        Ok(Probe {
            hook,
            in_link: link(&p.in_interface),
            out_link: link(&p.out_interface),
            protocol: p.protocol,
            src: Ipv4Addr::from(p.src as u32),
            dst: Ipv4Addr::from(p.dst as u32),
            sport: p.sport,
            dport: p.dport,
            icmp_type: p.icmp_type,
            icmp_code: p.icmp_code,
            tcp_flags: p.tcp_flags,
        })
    }
}

/// The TOS that routes a packet out of link `i`.
fn link_tos(i: usize) -> u8 {
    4 * (i as u8 + 1)
}

/// The coordinate the packet space gives a conntrack situation (found
/// through the public API: the set of one value, and its witness).
fn conntrack_atom(ctx: &SpaceContext, want: Conntrack) -> u128 {
    (0..14u128)
        .find(|&a| {
            ctx.universe()
                .restrict_range(Dim::Conntrack, a, a)
                .witness(ctx)
                .is_some_and(|p| p.conntrack == want)
        })
        .expect("every conntrack situation has a coordinate")
}

fn run(mut cmd: Command, input: Option<&str>) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped");
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to {what}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", kernel::stderr_summary(&out)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
