//! `iptlint optimize` keeps every packet's fate: random small dumps (seeded),
//! optimized with every combination of options, and every representative
//! packet run through input and output by an evaluator written here, apart
//! from the optimizer's own packet space. The evaluator knows what the sets
//! hold (it reads the `ipset restore` script) and follows the kernel: first
//! match wins, `-m tcp`/`udp`/`multiport` and port sets never match a later
//! fragment, MARK changes the mark later rules test, a user chain returns at
//! its end, a builtin chain ends in its policy. A packet's fate is its
//! verdict and the LOG lines it produced, in order.

mod support;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use iptlint::model::{AddrSpec, Chain, Family, JumpKind, Rule, Ruleset, TargetKind, Value};
use iptlint::optimize::{Options, optimize, sets::restore_script};
use support::Rng;

/// A packet, as far as the generated rules can tell packets apart.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    src: u32,
    dst: u32,
    proto: u8,
    sport: u16,
    dport: u16,
    later_fragment: bool,
    mark: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Drop,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Fate {
    verdict: Verdict,
    logs: Vec<String>,
}

/// One set member: network and prefix, optional protocol and port.
#[derive(Debug)]
struct SetMember {
    net: u32,
    prefix: u32,
    port: Option<(u8, u16)>,
    /// A `bitmap:port` member: a port range, TCP or UDP.
    ports: Option<(u16, u16)>,
}

type Sets = HashMap<String, Vec<SetMember>>;

fn parse_sets(script: &str) -> Sets {
    let mut sets = Sets::new();
    for line in script.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["create", name, "bitmap:port", "range", "0-65535", "-exist"] => {
                sets.insert(name.to_string(), Vec::new());
            }
            ["add", name, member, "-exist"]
                if member.bytes().all(|b| b.is_ascii_digit() || b == b'-') =>
            {
                let (lo, hi) = member.split_once('-').unwrap_or((member, member));
                sets.get_mut(*name).expect("created first").push(SetMember {
                    net: 0,
                    prefix: 0,
                    port: None,
                    ports: Some((lo.parse().unwrap(), hi.parse().unwrap())),
                });
            }
            ["create", name, ty, "family", "inet", ..] => {
                assert!(
                    ["hash:ip", "hash:net", "hash:ip,port", "hash:net,port"].contains(ty),
                    "{line}"
                );
                assert!(name.len() <= 31);
                sets.insert(name.to_string(), Vec::new());
            }
            ["add", name, member, "-exist"] => {
                let (addr, port) = match member.split_once(',') {
                    Some((a, p)) => {
                        let (proto, port) = p.split_once(':').expect("proto:port");
                        let proto = match proto {
                            "tcp" => 6,
                            "udp" => 17,
                            "sctp" => 132,
                            other => panic!("protocol {other}"),
                        };
                        (a, Some((proto, port.parse().unwrap())))
                    }
                    None => (*member, None),
                };
                let (ip, prefix) = match addr.split_once('/') {
                    Some((ip, len)) => (ip, len.parse().unwrap()),
                    None => (addr, 32),
                };
                let net = u32::from(ip.parse::<Ipv4Addr>().unwrap());
                sets.get_mut(*name).expect("created first").push(SetMember {
                    net,
                    prefix,
                    port,
                    ports: None,
                });
            }
            _ => panic!("unexpected sets line: {line}"),
        }
    }
    sets
}

fn in_prefix(addr: u32, net: u32, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    addr & mask == net & mask
}

fn addr_matches(spec: &AddrSpec, addr: u32) -> bool {
    let Some(n) = spec.as_net() else {
        panic!("host names are not generated")
    };
    let mask = n.mask() as u32;
    addr & mask == (n.addr_u128() as u32) & mask
}

fn ports_match(value: &Value, port: u16) -> bool {
    let Value::Ports(ranges) = value else {
        panic!("ports expected, got {value:?}")
    };
    ranges.iter().any(|r| r.lo <= port && port <= r.hi)
}

/// Whether kernel rule (`si`, `di`) of `rule` matches: iptables makes a
/// rule per source address (outer) and destination address (inner), each
/// with the rule's `!`.
fn rule_matches(rule: &Rule, (si, di): (usize, usize), p: &Pkt, sets: &Sets) -> bool {
    if let Some(s) = &rule.source
        && addr_matches(&s.value[si], p.src) == s.negated
    {
        return false;
    }
    if let Some(d) = &rule.destination
        && addr_matches(&d.value[di], p.dst) == d.negated
    {
        return false;
    }
    if let Some(proto) = &rule.protocol {
        let n = proto.value.number.expect("known protocol");
        if n != 0 && (p.proto == n) == proto.negated {
            return false;
        }
    }
    assert!(rule.in_interface().is_none() && rule.out_interface().is_none());
    for m in &rule.matches {
        let ok = match m.module.as_str() {
            "comment" => true,
            "tcp" | "udp" | "multiport" => {
                !p.later_fragment
                    && m.options.iter().all(|o| {
                        let hit = match o.name.as_str() {
                            "--dport" | "--dports" => ports_match(&o.value, p.dport),
                            "--sport" | "--sports" => ports_match(&o.value, p.sport),
                            other => panic!("option {other}"),
                        };
                        hit != o.negated
                    })
            }
            "mark" => m.options.iter().all(|o| {
                let Value::Mark(mm) = &o.value else { panic!() };
                ((p.mark & mm.mask) == mm.value) != o.negated
            }),
            "set" => m.options.iter().all(|o| {
                let [name, dirs] = &o.words[..] else { panic!() };
                let members = &sets[name.text.as_str()];
                let dirs: Vec<&str> = dirs.text.split(',').collect();
                let addr = if dirs[0] == "src" { p.src } else { p.dst };
                let hit = members.iter().any(|mem| {
                    if let Some((lo, hi)) = mem.ports {
                        let port = if dirs[0] == "src" { p.sport } else { p.dport };
                        return !p.later_fragment
                            && matches!(p.proto, 6 | 17)
                            && lo <= port
                            && port <= hi;
                    }
                    in_prefix(addr, mem.net, mem.prefix)
                        && match mem.port {
                            None => true,
                            Some((proto, port)) => {
                                let want = if dirs[1] == "src" { p.sport } else { p.dport };
                                // No port in a later fragment of tcp/udp/sctp.
                                !p.later_fragment && p.proto == proto && want == port
                            }
                        }
                });
                hit != o.negated
            }),
            other => panic!("module {other} is not generated"),
        };
        if !ok {
            return false;
        }
    }
    true
}

enum Walk {
    Verdict(Verdict),
    Return,
}

fn walk(rs: &Ruleset, chain: &Chain, p: &mut Pkt, sets: &Sets, logs: &mut Vec<String>) -> Walk {
    let table = &rs.tables[0];
    let kernel_rules = chain.rules.iter().flat_map(|rule| {
        let ns = rule.source.as_ref().map_or(1, |s| s.value.len());
        let nd = rule.destination.as_ref().map_or(1, |d| d.value.len());
        (0..ns).flat_map(move |si| (0..nd).map(move |di| (rule, (si, di))))
    });
    for (rule, at) in kernel_rules {
        if !rule_matches(rule, at, p, sets) {
            continue;
        }
        let Some(t) = &rule.target else { continue };
        match &t.kind {
            TargetKind::Accept => return Walk::Verdict(Verdict::Accept),
            TargetKind::Drop => return Walk::Verdict(Verdict::Drop),
            TargetKind::Return => return Walk::Return,
            TargetKind::Chain => {
                let name = &t.name;
                assert_eq!(t.jump, JumpKind::Jump);
                let to = table.chain(name).expect("declared");
                if let Walk::Verdict(v) = walk(rs, to, p, sets, logs) {
                    return Walk::Verdict(v);
                }
            }
            _ if t.name == "LOG" => {
                let prefix = t.option("--log-prefix").expect("prefix");
                logs.push(prefix.words[0].text.to_string());
            }
            _ if t.name == "MARK" => {
                let o = t.option("--set-xmark").expect("xmark");
                let Value::Mark(mm) = &o.value else { panic!() };
                p.mark = (p.mark & !mm.mask) ^ mm.value;
            }
            _ => panic!("target {} is not generated", t.name),
        }
    }
    Walk::Return
}

fn fate(rs: &Ruleset, sets: &Sets, packet: &Pkt) -> Fate {
    let input = rs.tables[0].chain("INPUT").expect("INPUT");
    let mut p = *packet;
    let mut logs = Vec::new();
    let verdict = match walk(rs, input, &mut p, sets, &mut logs) {
        Walk::Verdict(v) => v,
        Walk::Return => match input.policy.expect("policy").as_str() {
            "ACCEPT" => Verdict::Accept,
            _ => Verdict::Drop,
        },
    };
    Fate { verdict, logs }
}

const NETS: &[&str] = &[
    "10.0.0.1/32",
    "10.0.0.2/32",
    "10.0.0.3/32",
    "10.0.0.4/32",
    "10.0.0.0/30",
    "10.0.0.0/24",
    "10.1.0.0/16",
    "192.168.1.1/32",
    "192.168.1.2/32",
];
const DSTS: &[&str] = &["10.9.0.1/32", "10.9.0.2/32", "10.9.0.0/24"];
const PORTS: &[&str] = &["22", "80", "443", "53", "1000:2000"];

/// One random rule for `chain`; `jumps` are the chains it may jump to.
fn random_rule(rng: &mut Rng, user_chain: bool, jumps: &[&str], log_id: &mut usize) -> String {
    let mut r = String::new();
    if rng.chance(75) {
        let neg = if rng.chance(10) { "! " } else { "" };
        let mut list = rng.pick(NETS).to_string();
        while rng.chance(15) {
            list = format!("{list},{}", rng.pick(NETS));
        }
        r += &format!("{neg}-s {list} ");
    }
    if rng.chance(25) {
        let neg = if rng.chance(10) { "! " } else { "" };
        r += &format!("{neg}-d {} ", rng.pick(DSTS));
    }
    match rng.below(10) {
        0..=5 => {
            r += "-p tcp ";
            if rng.chance(80) {
                let neg = if rng.chance(5) { "! " } else { "" };
                r += &format!("-m tcp {neg}--dport {} ", rng.pick(PORTS));
            }
        }
        6..=7 => {
            r += "-p udp ";
            if rng.chance(70) {
                r += &format!("-m udp --dport {} ", rng.pick(PORTS));
            }
            if rng.chance(15) {
                r += &format!("-m udp --sport {} ", rng.pick(PORTS));
            }
        }
        8 => r += "-p icmp ",
        _ => {}
    }
    if rng.chance(8) {
        r += "-m mark --mark 0x1/0x1 ";
    }
    let target = match rng.below(20) {
        0..=7 => "ACCEPT".to_string(),
        8..=13 => "DROP".to_string(),
        14 if user_chain => "RETURN".to_string(),
        15 | 16 if !jumps.is_empty() => rng.pick(jumps).to_string(),
        17 => {
            *log_id += 1;
            format!("LOG --log-prefix L{log_id}")
        }
        18 => "MARK --set-xmark 0x1/0x1".to_string(),
        _ => "ACCEPT".to_string(),
    };
    r += &format!("-j {target}");
    r
}

fn random_dump(rng: &mut Rng) -> String {
    let mut log_id = 0;
    let policy = if rng.chance(50) { "ACCEPT" } else { "DROP" };
    let mut out = format!(
        "*filter\n:INPUT {policy} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n"
    );
    // Runs of similar rules make merges likely: repeat a template with
    // one field changed now and then.
    let n = 4 + rng.below(22);
    let mut last = String::new();
    for _ in 0..n {
        let rule = if !last.is_empty() && rng.chance(40) {
            vary(rng, &last)
        } else {
            random_rule(rng, false, &["U1", "U2"], &mut log_id)
        };
        out += &format!("-A INPUT {rule}\n");
        last = rule;
    }
    for _ in 0..rng.below(6) {
        out += &format!("-A U1 {}\n", random_rule(rng, true, &["U2"], &mut log_id));
    }
    for _ in 0..rng.below(4) {
        out += &format!("-A U2 {}\n", random_rule(rng, true, &[], &mut log_id));
    }
    out += "COMMIT\n";
    out
}

/// The rule with its source, destination or port swapped for another.
fn vary(rng: &mut Rng, rule: &str) -> String {
    let words: Vec<String> = rule.split(' ').map(str::to_string).collect();
    let mut out = words.clone();
    for (i, w) in words.iter().enumerate() {
        let next = i + 1;
        if next >= words.len() {
            break;
        }
        match w.as_str() {
            "-s" if rng.chance(70) => out[next] = rng.pick(NETS).to_string(),
            "-d" if rng.chance(50) => out[next] = rng.pick(DSTS).to_string(),
            "--dport" if rng.chance(60) => out[next] = rng.pick(PORTS).to_string(),
            _ => {}
        }
    }
    out.join(" ")
}

fn packets() -> Vec<Pkt> {
    let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
    let srcs = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.0",
        "10.0.0.77",
        "10.1.2.3",
        "192.168.1.1",
        "192.168.1.2",
        "8.8.8.8",
    ];
    let dsts = ["10.9.0.1", "10.9.0.2", "10.9.0.99", "1.1.1.1"];
    let mut out = Vec::new();
    for s in srcs {
        for d in dsts {
            for proto in [6u8, 17, 1] {
                for dport in [22u16, 80, 443, 53, 1500, 9999] {
                    for (sport, later_fragment, mark) in
                        [(5000, false, 0), (22, false, 1), (80, true, 0)]
                    {
                        out.push(Pkt {
                            src: ip(s),
                            dst: ip(d),
                            proto,
                            sport,
                            dport,
                            later_fragment,
                            mark,
                        });
                    }
                }
            }
        }
    }
    out
}

#[test]
fn optimized_dumps_give_every_packet_the_same_fate() {
    let packets = packets();
    let mut rng = Rng(0x0b71_2026);
    let (mut merged, mut removed, mut rules_before, mut rules_after) = (0, 0, 0, 0);
    // OPTIMIZE_CASES=5000 for a longer search.
    let cases: usize = std::env::var("OPTIMIZE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for case in 0..cases {
        let text = random_dump(&mut rng);
        let parsed = iptlint::syntax::parse(&text, Some(Family::Ipv4));
        assert!(
            parsed.findings.iter().all(|f| !f.is_input_error()),
            "case {case}: the generator wrote a bad dump:\n{text}"
        );
        let input = parsed.ruleset;
        let no_sets = Sets::new();
        let want: Vec<Fate> = packets.iter().map(|p| fate(&input, &no_sets, p)).collect();
        for (ipsets, remove_dead) in [(true, false), (true, true), (false, true), (false, false)] {
            let result = optimize(
                &input,
                &Options {
                    ipsets,
                    remove_dead,
                },
            );
            // Judge the printed text, as iptables-restore would read it.
            let printed = result.ruleset.to_string();
            let reparsed = iptlint::syntax::parse(&printed, Some(Family::Ipv4));
            assert!(
                reparsed.findings.iter().all(|f| !f.is_input_error()),
                "case {case}: output does not parse:\n{printed}"
            );
            let sets = parse_sets(&restore_script(&result.sets));
            if !ipsets {
                assert!(sets.is_empty());
            }
            for (p, w) in packets.iter().zip(&want) {
                let got = fate(&reparsed.ruleset, &sets, p);
                assert_eq!(
                    &got,
                    w,
                    "case {case} (ipsets {ipsets}, remove-dead {remove_dead}): packet {p:?}\n\
                     input:\n{text}\noutput:\n{printed}\nsets:\n{}",
                    restore_script(&result.sets)
                );
            }
            for c in &result.changes {
                match c {
                    iptlint::optimize::Change::Merged { .. } => merged += 1,
                    _ => removed += 1,
                }
            }
            rules_before += result.before.rules;
            rules_after += result.after.rules;
        }
    }
    println!(
        "{cases} dumps × 4 option sets: {merged} merges, {removed} removals, rules {rules_before} → {rules_after}"
    );
    // The generator must give the optimizer work, or the test proves little.
    assert!(merged > cases / 2, "only {merged} merges");
    assert!(removed > cases / 2, "only {removed} removals");
}

/// Runs `text` through the optimizer with `opts` and asserts every packet's
/// fate is kept; returns the output.
fn assert_same_fates(text: &str, opts: Options) -> String {
    let input = iptlint::syntax::parse(text, Some(Family::Ipv4)).ruleset;
    let result = optimize(&input, &opts);
    let printed = result.ruleset.to_string();
    let output = iptlint::syntax::parse(&printed, Some(Family::Ipv4)).ruleset;
    let sets = parse_sets(&restore_script(&result.sets));
    for p in packets() {
        assert_eq!(
            fate(&output, &sets, &p),
            fate(&input, &Sets::new(), &p),
            "packet {p:?}\noutput:\n{printed}"
        );
    }
    printed
}

#[test]
fn a_shadowed_rule_and_the_rule_that_shadows_it_go_together_or_not_at_all() {
    // X (10.0.0.1 ACCEPT) is shadowed by Y (10.0.0.0/24 DROP); Y drops what
    // the policy would drop. Removing Y but keeping X would accept 10.0.0.1.
    let text = "*filter\n:INPUT DROP [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n\
                -A INPUT -s 10.0.0.0/24 -j DROP\n\
                -A INPUT -s 10.0.0.1/32 -j ACCEPT\n\
                -A INPUT -s 10.0.0.2/32 -p tcp -j DROP\n\
                -A INPUT -s 10.0.0.2/32 -p tcp -j DROP\n\
                COMMIT\n";
    let out = assert_same_fates(
        text,
        Options {
            ipsets: true,
            remove_dead: true,
        },
    );
    assert!(!out.contains("-s 10.0.0.1/32 -j ACCEPT"), "{out}");
}

#[test]
fn overlapping_log_rules_are_not_fused() {
    // Both LOG rules match 10.0.0.1: it is logged twice, and must still be.
    let text = "*filter\n:INPUT ACCEPT [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n\
                -A INPUT -s 10.0.0.1/32 -j LOG --log-prefix L\n\
                -A INPUT -s 10.0.0.0/30 -j LOG --log-prefix L\n\
                -A INPUT -s 10.0.0.2/32 -j LOG --log-prefix L\n\
                -A INPUT -s 10.1.0.0/16 -j LOG --log-prefix L\n\
                -A INPUT -p tcp -m tcp --dport 22 -j LOG --log-prefix L\n\
                -A INPUT -p tcp -m tcp --dport 22 -j LOG --log-prefix L\n\
                COMMIT\n";
    assert_same_fates(
        text,
        Options {
            ipsets: true,
            remove_dead: true,
        },
    );
}

#[test]
fn a_bitmap_port_set_matches_what_the_port_rules_did() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optimize/ports.rules");
    let text = std::fs::read_to_string(fixture).unwrap();
    let out = assert_same_fates(
        &text,
        Options {
            ipsets: true,
            remove_dead: false,
        },
    );
    assert!(out.contains("-m set --match-set iptl-port-"), "{out}");
    assert_same_fates(&text, Options::default());
}
