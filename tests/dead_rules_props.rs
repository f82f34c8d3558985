//! The dead-rule lints against a brute-force walk of the chains.
//!
//! Each case generates a small filter table as structured rules (INPUT,
//! FORWARD, OUTPUT and up to three user chains with `-j`, `-g`, RETURN,
//! MARK, LOG, negations, interfaces, marks, conntrack states and unmodelled
//! matches), prints it as iptables-save text, runs the real linter on the
//! text, and walks every representative packet through the chains the way
//! netfilter does, from each hook:
//!
//! - `-j` pushes a return point, `-g` does not; RETURN or falling off a user
//!   chain goes back to the innermost return point; with none (a builtin
//!   chain, or after a goto from it) the policy decides;
//! - LOG and no target continue; MARK changes the mark later rules test;
//! - an unmodelled match (`statistic`, `limit`) takes both outcomes.
//!
//! A rule is *live* when some branch for some packet reaches it and its
//! matches hold (or may hold). The packets are every combination of the
//! values the case's rules mention, a value on each side of every boundary,
//! and one "other" value, over the fields the case uses; each hook gets the
//! interfaces it can see (no output device in INPUT, no input device in
//! OUTPUT).
//!
//! Checked: no rule that `unmatchable-rule`, `shadowed-rule` or
//! `unreachable-rule` reports is live (no false claims), and every generated
//! dump reads cleanly; for every rule `redundant-rule` reports, the rule set
//! without it gives every packet the same set of possible verdicts. Printed:
//! how many dead rules the reference finds that no dead-code lint reports.
//!
//! `DEAD_PROP_CASES` sets the number of cases (default 3000);
//! `DEAD_PROP_SEED` the first seed.

use std::collections::HashSet;
use std::sync::Arc;

use iptlint::check::check_source;

mod support;
use support::Rng;

// ---------------------------------------------------------------- PRNG ----

// ------------------------------------------------------------ the model ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    No,
    Maybe,
    Yes,
}

/// One condition, as generated (not as parsed).
#[derive(Clone, Debug)]
enum Cond {
    Src(bool, u32, u8),
    Dst(bool, u32, u8),
    Proto(bool, u8),
    /// `-p tcp|udp -m tcp|udp [!] --dport lo[:hi]`
    Port(u8, bool, u16, u16),
    In(bool, &'static str),
    Out(bool, &'static str),
    /// `[!] --mark value/mask`
    Mark(bool, u32, u32),
    /// `[!] --ctstate` list (indexes into STATES).
    State(bool, Vec<usize>),
    /// An unmodelled match.
    Unknown(&'static str),
}

#[derive(Clone, Copy, Debug)]
enum Tgt {
    Accept,
    Drop,
    Reject,
    Return,
    Jump(usize),
    Goto(usize),
    SetMark(u32),
    Log,
    Nothing,
}

#[derive(Clone, Debug)]
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

const STATES: [&str; 5] = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];
const IFACES: [&str; 4] = ["eth0", "eth1", "eth+", "lo"];
/// Interface names packets carry: each named, one more `eth+`, one other.
const IFACE_POOL: [&str; 5] = ["eth0", "eth1", "eth7", "lo", "wlan0"];
const UNKNOWN: [&str; 2] = [
    "-m statistic --mode random --probability 0.50000000000",
    "-m limit --limit 5/min",
];

fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// Prefixes the rules use; ADDR_POOL has one address in each region they
/// tell apart.
fn prefixes() -> [(u32, u8); 5] {
    [
        (v4(10, 0, 0, 1), 32),
        (v4(10, 0, 0, 0), 24),
        (v4(10, 0, 0, 0), 16),
        (v4(10, 0, 0, 0), 8),
        (v4(192, 168, 1, 0), 24),
    ]
}

fn addr_pool() -> Vec<u32> {
    vec![
        v4(10, 0, 0, 1),
        v4(10, 0, 0, 2),
        v4(10, 0, 1, 1),
        v4(10, 1, 0, 1),
        v4(192, 168, 1, 1),
        v4(8, 8, 8, 8),
    ]
}

fn in_prefix(a: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == net & mask
}

fn iface_match(pattern: &str, name: Option<&str>) -> bool {
    let name = name.unwrap_or("");
    match pattern.strip_suffix('+') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Pkt {
    src: u32,
    dst: u32,
    proto: u8,
    dport: u16,
    iif: Option<&'static str>,
    oif: Option<&'static str>,
    mark: u32,
    state: usize,
}

fn eval_cond(c: &Cond, p: &Pkt) -> Tri {
    let b = |x: bool| if x { Tri::Yes } else { Tri::No };
    match c {
        Cond::Src(neg, net, len) => b(in_prefix(p.src, *net, *len) != *neg),
        Cond::Dst(neg, net, len) => b(in_prefix(p.dst, *net, *len) != *neg),
        Cond::Proto(neg, pr) => b((p.proto == *pr) != *neg),
        Cond::Port(pr, neg, lo, hi) => {
            b(p.proto == *pr && ((*lo..=*hi).contains(&p.dport) != *neg))
        }
        Cond::In(neg, n) => b(iface_match(n, p.iif) != *neg),
        Cond::Out(neg, n) => b(iface_match(n, p.oif) != *neg),
        Cond::Mark(neg, v, m) => b((p.mark & m == *v) != *neg),
        Cond::State(neg, list) => b(list.contains(&p.state) != *neg),
        Cond::Unknown(_) => Tri::Maybe,
    }
}

fn eval_rule(r: &GRule, p: &Pkt) -> Tri {
    let mut out = Tri::Yes;
    for c in &r.conds {
        match eval_cond(c, p) {
            Tri::No => return Tri::No,
            Tri::Maybe => out = Tri::Maybe,
            Tri::Yes => {}
        }
    }
    out
}

// ------------------------------------------------------------ generation --

#[derive(Clone, Copy, PartialEq, Eq)]
enum Feature {
    Src,
    Dst,
    Proto,
    In,
    Out,
    Mark,
    State,
    Unknown,
}

const FEATURES: [Feature; 8] = [
    Feature::Src,
    Feature::Dst,
    Feature::Proto,
    Feature::In,
    Feature::Out,
    Feature::Mark,
    Feature::State,
    Feature::Unknown,
];

const PORT_RANGES: [(u16, u16); 6] = [
    (22, 22),
    (80, 80),
    (443, 443),
    (20, 25),
    (80, 443),
    (1024, 65535),
];

fn gen_cond(rng: &mut Rng, f: Feature) -> Cond {
    let neg = rng.chance(25);
    match f {
        Feature::Src | Feature::Dst => {
            let (net, len) = *rng.pick(&prefixes());
            if f == Feature::Src {
                Cond::Src(neg, net, len)
            } else {
                Cond::Dst(neg, net, len)
            }
        }
        Feature::Proto => {
            if rng.chance(60) {
                let (lo, hi) = *rng.pick(&PORT_RANGES);
                Cond::Port(*rng.pick(&[6, 17]), neg, lo, hi)
            } else {
                Cond::Proto(neg, *rng.pick(&[6, 17, 1]))
            }
        }
        Feature::In => Cond::In(neg, rng.pick::<&str>(&IFACES)),
        Feature::Out => Cond::Out(neg, rng.pick::<&str>(&IFACES)),
        Feature::Mark => {
            let (v, m) = *rng.pick(&[(1, u32::MAX), (2, 2), (0, u32::MAX), (3, 3)]);
            Cond::Mark(neg, v, m)
        }
        Feature::State => {
            let lists: [&[usize]; 4] = [&[0], &[1, 2], &[3], &[0, 1]];
            Cond::State(neg, rng.pick(&lists).to_vec())
        }
        Feature::Unknown => Cond::Unknown(rng.pick::<&str>(&UNKNOWN)),
    }
}

fn feature_of(c: &Cond) -> Feature {
    match c {
        Cond::Src(..) => Feature::Src,
        Cond::Dst(..) => Feature::Dst,
        Cond::Proto(..) | Cond::Port(..) => Feature::Proto,
        Cond::In(..) => Feature::In,
        Cond::Out(..) => Feature::Out,
        Cond::Mark(..) => Feature::Mark,
        Cond::State(..) => Feature::State,
        Cond::Unknown(..) => Feature::Unknown,
    }
}

fn gen_target(rng: &mut Rng, chain: usize, nchains: usize) -> Tgt {
    // Chains 0..3 are builtin; a chain only jumps to later user chains.
    let first_user = 3.max(chain + 1);
    let can_jump = first_user < nchains;
    loop {
        let t = match rng.below(11) {
            0 | 1 => Tgt::Accept,
            2 | 3 => Tgt::Drop,
            4 => Tgt::Reject,
            5 => Tgt::Return,
            6 | 7 if can_jump => Tgt::Jump(first_user + rng.below(nchains - first_user)),
            8 if can_jump => Tgt::Goto(first_user + rng.below(nchains - first_user)),
            9 => Tgt::SetMark(*rng.pick(&[0, 1, 2, 3])),
            10 => {
                if rng.chance(50) {
                    Tgt::Log
                } else {
                    Tgt::Nothing
                }
            }
            _ => continue,
        };
        return t;
    }
}

fn gen_case(rng: &mut Rng) -> (Vec<GChain>, Vec<Feature>) {
    let mut feats: Vec<Feature> = Vec::new();
    let want = 1 + rng.below(3);
    while feats.len() < want {
        let f = *rng.pick(&FEATURES);
        if !feats.contains(&f) {
            feats.push(f);
        }
    }
    let users = rng.below(4);
    let nchains = 3 + users;
    let mut chains = Vec::new();
    for c in 0..nchains {
        let (name, builtin) = match c {
            0 => ("INPUT".to_string(), true),
            1 => ("FORWARD".to_string(), true),
            2 => ("OUTPUT".to_string(), true),
            _ => (format!("U{}", c - 3), false),
        };
        let n = if builtin {
            rng.below(8)
        } else {
            1 + rng.below(5)
        };
        let rules = (0..n)
            .map(|_| {
                let k = rng.below(3);
                let mut conds: Vec<Cond> = Vec::new();
                for _ in 0..k {
                    let f = *rng.pick(&feats);
                    // iptables takes each generic option once.
                    let generic = !matches!(f, Feature::Mark | Feature::State | Feature::Unknown);
                    if generic && conds.iter().any(|c| feature_of(c) == f) {
                        continue;
                    }
                    conds.push(gen_cond(rng, f));
                }
                GRule {
                    conds,
                    tgt: gen_target(rng, c, nchains),
                }
            })
            .collect();
        chains.push(GChain {
            name,
            builtin,
            policy: if rng.chance(50) { "ACCEPT" } else { "DROP" },
            rules,
        });
    }
    (chains, feats)
}

fn addr_text(net: u32, len: u8) -> String {
    let [a, b, c, d] = net.to_be_bytes();
    format!("{a}.{b}.{c}.{d}/{len}")
}

fn bang(neg: bool) -> &'static str {
    if neg { "! " } else { "" }
}

fn print(chains: &[GChain]) -> String {
    let mut s = String::from("*filter\n");
    for c in chains {
        let policy = if c.builtin { c.policy } else { "-" };
        s.push_str(&format!(":{} {policy} [0:0]\n", c.name));
    }
    for c in chains {
        for r in &c.rules {
            s.push_str(&format!("-A {}", c.name));
            for cond in &r.conds {
                s.push(' ');
                s.push_str(&match cond {
                    Cond::Src(n, a, l) => format!("{}-s {}", bang(*n), addr_text(*a, *l)),
                    Cond::Dst(n, a, l) => format!("{}-d {}", bang(*n), addr_text(*a, *l)),
                    Cond::Proto(n, p) => format!("{}-p {}", bang(*n), proto_name(*p)),
                    Cond::Port(p, n, lo, hi) => {
                        let name = proto_name(*p);
                        let range = if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}:{hi}")
                        };
                        format!("-p {name} -m {name} {}--dport {range}", bang(*n))
                    }
                    Cond::In(n, i) => format!("{}-i {i}", bang(*n)),
                    Cond::Out(n, i) => format!("{}-o {i}", bang(*n)),
                    Cond::Mark(n, v, m) => {
                        if *m == u32::MAX {
                            format!("-m mark {}--mark {v:#x}", bang(*n))
                        } else {
                            format!("-m mark {}--mark {v:#x}/{m:#x}", bang(*n))
                        }
                    }
                    Cond::State(n, list) => {
                        let names: Vec<&str> = list.iter().map(|i| STATES[*i]).collect();
                        format!("-m conntrack {}--ctstate {}", bang(*n), names.join(","))
                    }
                    Cond::Unknown(text) => text.to_string(),
                });
            }
            match r.tgt {
                Tgt::Accept => s.push_str(" -j ACCEPT"),
                Tgt::Drop => s.push_str(" -j DROP"),
                Tgt::Reject => s.push_str(" -j REJECT --reject-with icmp-port-unreachable"),
                Tgt::Return => s.push_str(" -j RETURN"),
                Tgt::Jump(u) => s.push_str(&format!(" -j {}", chains[u].name)),
                Tgt::Goto(u) => s.push_str(&format!(" -g {}", chains[u].name)),
                Tgt::SetMark(v) => s.push_str(&format!(" -j MARK --set-xmark {v:#x}/0xffffffff")),
                Tgt::Log => s.push_str(" -j LOG --log-prefix \"x \""),
                Tgt::Nothing => {}
            }
            s.push('\n');
        }
    }
    s.push_str("COMMIT\n");
    s
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        _ => unreachable!(),
    }
}

// --------------------------------------------------------- the reference --

/// Every representative packet of the case for a hook (0 INPUT, 1 FORWARD,
/// 2 OUTPUT), over the fields the case uses.
fn packets(chains: &[GChain], feats: &[Feature], hook: usize) -> Vec<Pkt> {
    let has = |f: Feature| feats.contains(&f);
    let addrs = |on: bool| {
        if on {
            addr_pool()
        } else {
            vec![v4(8, 8, 8, 8)]
        }
    };
    let srcs = addrs(has(Feature::Src));
    let dsts = addrs(has(Feature::Dst));
    let mut protos: Vec<(u8, u16)> = vec![(47, 0)];
    if has(Feature::Proto) {
        let mut ports: Vec<u16> = vec![1];
        for c in chains.iter().flat_map(|c| &c.rules).flat_map(|r| &r.conds) {
            if let Cond::Port(_, _, lo, hi) = c {
                for v in [lo.saturating_sub(1), *lo, *hi, hi.saturating_add(1)] {
                    ports.push(v);
                }
            }
        }
        ports.sort_unstable();
        ports.dedup();
        for pr in [6u8, 17] {
            for &p in &ports {
                protos.push((pr, p));
            }
        }
        protos.push((1, 0));
    }
    let names = |on: bool| -> Vec<Option<&'static str>> {
        if on {
            IFACE_POOL.iter().map(|n| Some(*n)).collect()
        } else {
            vec![Some("eth0")]
        }
    };
    let iifs = if hook == 2 {
        vec![None]
    } else {
        names(has(Feature::In))
    };
    let oifs = if hook == 0 {
        vec![None]
    } else {
        names(has(Feature::Out))
    };
    let marks: Vec<u32> = if has(Feature::Mark)
        || chains
            .iter()
            .flat_map(|c| &c.rules)
            .any(|r| matches!(r.tgt, Tgt::SetMark(_)))
    {
        vec![0, 1, 2, 3]
    } else {
        vec![0]
    };
    let states: Vec<usize> = if has(Feature::State) {
        (0..STATES.len()).collect()
    } else {
        vec![0]
    };
    let mut out = Vec::new();
    for &src in &srcs {
        for &dst in &dsts {
            for &(proto, dport) in &protos {
                for &iif in &iifs {
                    for &oif in &oifs {
                        for &mark in &marks {
                            for &state in &states {
                                out.push(Pkt {
                                    src,
                                    dst,
                                    proto,
                                    dport,
                                    iif,
                                    oif,
                                    mark,
                                    state,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Walks `p` from builtin chain `hook` through every branch; marks each rule
/// reached with matches that hold or may hold.
/// Returns the verdicts the packet can end with: bit 0 ACCEPT, 1 DROP,
/// 2 REJECT (a policy counts as its verdict).
fn walk(chains: &[GChain], hook: usize, p: &Pkt, live: &mut [Vec<bool>]) -> u8 {
    let policy = if chains[hook].policy == "ACCEPT" {
        1
    } else {
        2
    };
    let mut fates = 0u8;
    type State = (usize, usize, Vec<(usize, usize)>, u32);
    let mut seen: HashSet<State> = HashSet::new();
    let mut todo: Vec<State> = vec![(hook, 0, Vec::new(), p.mark)];
    while let Some(st) = todo.pop() {
        if !seen.insert(st.clone()) {
            continue;
        }
        let (c, i, stack, mark) = st;
        let back = |stack: &Vec<(usize, usize)>, mark: u32| -> Option<State> {
            let mut stack = stack.clone();
            let (rc, ri) = stack.pop()?;
            Some((rc, ri, stack, mark))
        };
        if i >= chains[c].rules.len() {
            // Fall off: back to the return point, or the policy.
            match back(&stack, mark) {
                Some(s) => todo.push(s),
                None => fates |= policy,
            }
            continue;
        }
        let rule = &chains[c].rules[i];
        let pkt = Pkt { mark, ..p.clone() };
        let m = eval_rule(rule, &pkt);
        if m != Tri::Yes {
            todo.push((c, i + 1, stack.clone(), mark));
        }
        if m == Tri::No {
            continue;
        }
        live[c][i] = true;
        match rule.tgt {
            Tgt::Accept => fates |= 1,
            Tgt::Drop => fates |= 2,
            Tgt::Reject => fates |= 4,
            Tgt::Return => match back(&stack, mark) {
                Some(s) => todo.push(s),
                None => fates |= policy,
            },
            Tgt::Jump(u) => {
                let mut st = stack.clone();
                st.push((c, i + 1));
                todo.push((u, 0, st, mark));
            }
            Tgt::Goto(u) => todo.push((u, 0, stack.clone(), mark)),
            Tgt::SetMark(v) => todo.push((c, i + 1, stack.clone(), v)),
            Tgt::Log | Tgt::Nothing => todo.push((c, i + 1, stack.clone(), mark)),
        }
    }
    fates
}

// ------------------------------------------------------------------ runs --

#[derive(Default)]
struct Stats {
    cases: usize,
    rules: usize,
    packets: usize,
    ref_dead: usize,
    claimed: [usize; 3],
    missed: usize,
    redundant: usize,
}

const CHECKED: [&str; 3] = ["IPT205", "IPT206", "IPT202"];

fn run_case(seed: u64, stats: &mut Stats) {
    let mut rng = Rng(seed);
    let (chains, feats) = gen_case(&mut rng);
    let text = print(&chains);
    let mut live: Vec<Vec<bool>> = chains.iter().map(|c| vec![false; c.rules.len()]).collect();
    let mut fates = Vec::new();
    for hook in 0..3 {
        for p in packets(&chains, &feats, hook) {
            stats.packets += 1;
            let f = walk(&chains, hook, &p, &mut live);
            fates.push((hook, p, f));
        }
    }
    let report = check_source("case.rules".into(), Arc::from(text.as_str()), None);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.lint.code.starts_with("IPT0") || f.lint.code == "IPT101"),
        "seed {seed}: the generated dump does not read cleanly: {:?}\n{text}",
        report
            .findings
            .iter()
            .map(|f| (f.lint.code, &f.message))
            .collect::<Vec<_>>()
    );
    let mut reported: Vec<Vec<bool>> = chains.iter().map(|c| vec![false; c.rules.len()]).collect();
    for f in &report.findings {
        let code = f.lint.code;
        let chain = f.chain.as_deref();
        let ci = chain.and_then(|n| chains.iter().position(|c| c.name == n));
        if code == "IPT201" {
            // unreachable-chain: every rule of the chain.
            if let Some(ci) = ci {
                reported[ci].iter_mut().for_each(|r| *r = true);
            }
            continue;
        }
        if !code.starts_with("IPT2") || code == "IPT203" {
            continue;
        }
        let (Some(ci), Some(rule)) = (ci, f.rule) else {
            continue;
        };
        let ri = rule - 1;
        reported[ci][ri] = true;
        if let Some(k) = CHECKED.iter().position(|c| *c == code) {
            stats.claimed[k] += 1;
            assert!(
                !live[ci][ri],
                "seed {seed}: {code} ({}) claims rule {rule} of {} is dead, but a packet reaches and matches it\n\
                 message: {}\n--- dump ---\n{text}",
                f.lint.name, chains[ci].name, f.message
            );
        }
    }
    // redundant-rule: deleting the rule changes no packet's set of verdicts.
    for f in report.findings.iter().filter(|f| f.lint.code == "IPT207") {
        let ci = f
            .chain
            .as_deref()
            .and_then(|n| chains.iter().position(|c| c.name == n))
            .expect("a chain");
        let ri = f.rule.expect("a rule") - 1;
        stats.redundant += 1;
        let without: Vec<GChain> = chains
            .iter()
            .enumerate()
            .map(|(i, c)| GChain {
                name: c.name.clone(),
                builtin: c.builtin,
                policy: c.policy,
                rules: c
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| !(i == ci && j == ri))
                    .map(|(_, r)| r.clone())
                    .collect(),
            })
            .collect();
        let mut scratch: Vec<Vec<bool>> =
            without.iter().map(|c| vec![false; c.rules.len()]).collect();
        for (hook, p, before) in &fates {
            let after = walk(&without, *hook, p, &mut scratch);
            assert_eq!(
                *before,
                after,
                "seed {seed}: redundant-rule claims deleting rule {} of {} changes nothing, \
                 but packet {p:?} from hook {hook} ends with verdicts {before:#b} before and {after:#b} after\n\
                 message: {}\n--- dump ---\n{text}",
                ri + 1,
                chains[ci].name,
                f.message
            );
        }
    }
    // Duplicates of a deciding rule are dead too; count them as reported.
    for f in report.findings.iter().filter(|f| f.lint.code == "IPT203") {
        if let (Some(ci), Some(rule)) = (
            f.chain
                .as_deref()
                .and_then(|n| chains.iter().position(|c| c.name == n)),
            f.rule,
        ) {
            reported[ci][rule - 1] = true;
        }
    }
    stats.cases += 1;
    for (ci, c) in chains.iter().enumerate() {
        for ri in 0..c.rules.len() {
            stats.rules += 1;
            if !live[ci][ri] {
                stats.ref_dead += 1;
                if !reported[ci][ri] {
                    stats.missed += 1;
                }
            }
        }
    }
}

#[test]
fn dead_rule_claims_agree_with_brute_force() {
    let cases: u64 = std::env::var("DEAD_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("DEAD_PROP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xdead_0001);
    let mut stats = Stats::default();
    for i in 0..cases {
        run_case(seed.wrapping_add(i), &mut stats);
    }
    println!(
        "dead rules: {} cases, {} rules, {} packets walked; reference dead {}, \
         claims unmatchable {} shadowed {} unreachable {}; \
         dead rules no lint reports: {}; redundant claims checked {}",
        stats.cases,
        stats.rules,
        stats.packets,
        stats.ref_dead,
        stats.claimed[0],
        stats.claimed[1],
        stats.claimed[2],
        stats.missed,
        stats.redundant
    );
    assert!(
        stats.claimed[0] > 0 && stats.claimed[1] > 0,
        "the lints never fired"
    );
}
