//! `diff` against brute force: random small rule-set pairs (seeded), each
//! compared by the fate walk and by a separate, concrete evaluator written
//! here from the netfilter rules (tables per hook in priority order, nat
//! only for NEW packets, ACCEPT ends one table, `-j`/`-g`/RETURN, MARK,
//! DNAT/SNAT). Whenever diff says "equivalent", no enumerated packet may
//! differ under any valuation of the unknown conditions; whenever it shows a
//! certain difference, the witness packet must differ.

mod support;

use iptlint::fate::{Conditions, Path, Walker, compare};
use iptlint::model::Family;
use iptlint::space::{Conntrack, CtBase, Packet, SpaceContext};
use support::Rng;

// ---- the generated rule language -------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Accept,
    Drop,
    Reject,
    Return,
    Log,
    Jump(usize),
    Goto(usize),
    /// `MARK --set-xmark value/mask`
    Mark(u32, u32),
    /// `DNAT --to-destination addr[:port]`
    Dnat(u32, Option<u16>),
    Snat(u32),
}

#[derive(Clone, Debug, PartialEq, Default)]
struct Cond {
    src: Option<(bool, u32, u8)>,
    dst: Option<(bool, u32, u8)>,
    /// 6 or 17, with an optional port range (`-m tcp --dport`).
    proto: Option<(u8, Option<(u16, u16)>)>,
    icmp: bool,
    iface_in: Option<(bool, &'static str)>,
    iface_out: Option<(bool, &'static str)>,
    /// Negated, states.
    ct: Option<(bool, Vec<&'static str>)>,
    mark: Option<(bool, u32, u32)>,
    /// `-m recent --name N --rcheck`: an unknown condition.
    unknown: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
struct GRule {
    cond: Cond,
    target: Target,
}

#[derive(Clone, Debug, PartialEq)]
struct GChain {
    name: String,
    builtin: bool,
    drop_policy: bool,
    rules: Vec<GRule>,
}

#[derive(Clone, Debug, PartialEq)]
struct GTable {
    name: &'static str,
    chains: Vec<GChain>,
}

type GSet = Vec<GTable>;

const ADDRS: [(u32, u8); 4] = [
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0x0A01_0000, 16), // 10.1.0.0/16
    (0xC0A8_0000, 24), // 192.168.0.0/24
    (0x0A01_0203, 32), // 10.1.2.3
];
const IFACES: [&str; 3] = ["eth0", "eth1", "eth+"];

fn ip(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn gen_cond(rng: &mut Rng, table: &str, chain: &str, allow_unknown: bool) -> Cond {
    let mut c = Cond::default();
    if rng.chance(30) {
        let (a, l) = *rng.pick(&ADDRS);
        c.src = Some((rng.chance(20), a, l));
    }
    if rng.chance(30) {
        let (a, l) = *rng.pick(&ADDRS);
        c.dst = Some((rng.chance(20), a, l));
    }
    if rng.chance(50) {
        let p = *rng.pick(&[6u8, 17]);
        let port = if rng.chance(70) {
            Some(*rng.pick(&[(22u16, 22u16), (80, 80), (8080, 8080), (1, 1024)]))
        } else {
            None
        };
        c.proto = Some((p, port));
    } else if rng.chance(10) {
        c.icmp = true;
    }
    let in_ok = matches!(chain, "PREROUTING" | "INPUT" | "FORWARD");
    let out_ok = matches!(chain, "OUTPUT" | "FORWARD" | "POSTROUTING");
    if in_ok && rng.chance(25) {
        c.iface_in = Some((rng.chance(30), *rng.pick(&IFACES)));
    }
    if out_ok && rng.chance(25) {
        c.iface_out = Some((rng.chance(30), *rng.pick(&IFACES)));
    }
    if rng.chance(25) {
        let states = rng
            .pick(&[vec!["NEW"], vec!["ESTABLISHED", "RELATED"], vec!["INVALID"]])
            .clone();
        c.ct = Some((rng.chance(20), states));
    }
    if rng.chance(20) {
        let (v, m) = *rng.pick(&[(1u32, 1u32), (2, 3), (0, 1)]);
        c.mark = Some((rng.chance(25), v, m));
    }
    if allow_unknown && rng.chance(8) {
        c.unknown = Some(*rng.pick(&["x", "y"]));
    }
    let _ = table;
    c
}

fn gen_target(
    rng: &mut Rng,
    table: &str,
    chain_ix: usize,
    n_chains: usize,
    builtin: bool,
) -> Target {
    // User chains come after the builtin ones; a chain only calls later
    // user chains, so there are no loops.
    let later_user = (chain_ix + 1..n_chains).collect::<Vec<_>>();
    let user_start = match table {
        "filter" => 3,
        "mangle" => 5,
        _ => 2,
    };
    let later_user: Vec<usize> = later_user
        .into_iter()
        .filter(|&i| i >= user_start)
        .collect();
    let r = rng.below(100);
    match table {
        "mangle" => match r {
            0..=59 => Target::Mark(*rng.pick(&[1u32, 2, 3]), *rng.pick(&[1u32, 3, 0xFFFF_FFFF])),
            60..=69 => Target::Accept,
            70..=79 if !later_user.is_empty() => Target::Jump(*rng.pick(&later_user)),
            80..=84 if !builtin => Target::Return,
            _ => Target::Log,
        },
        "nat" => match r {
            0..=49 => Target::Dnat(0x0A01_0203, None),
            50..=59 => Target::Snat(0xC0A8_0001),
            60..=69 => Target::Accept,
            70..=79 if !later_user.is_empty() => Target::Jump(*rng.pick(&later_user)),
            _ => Target::Log,
        },
        _ => match r {
            0..=29 => Target::Accept,
            30..=54 => Target::Drop,
            55..=62 => Target::Reject,
            63..=72 if !builtin => Target::Return,
            73..=84 if !later_user.is_empty() => Target::Jump(*rng.pick(&later_user)),
            85..=89 if !later_user.is_empty() => Target::Goto(*rng.pick(&later_user)),
            90..=94 => Target::Mark(1, 1),
            _ => Target::Log,
        },
    }
}

fn gen_set(rng: &mut Rng, unknowns: bool) -> GSet {
    let mut out = Vec::new();
    let specs: [(&str, &[&str], usize); 3] = [
        (
            "mangle",
            &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            1,
        ),
        ("nat", &["PREROUTING", "POSTROUTING"], 1),
        ("filter", &["INPUT", "FORWARD", "OUTPUT"], 2),
    ];
    for (table, builtins, users) in specs {
        if rng.chance(30) && table != "filter" {
            continue;
        }
        let n = builtins.len() + users;
        let mut chains = Vec::new();
        for i in 0..n {
            let builtin = i < builtins.len();
            let name = if builtin {
                builtins[i].to_string()
            } else {
                format!("U{}", i - builtins.len())
            };
            let count = rng.below(if builtin { 5 } else { 4 });
            let mut rules = Vec::new();
            for _ in 0..count {
                let mut cond = gen_cond(rng, table, if builtin { &name } else { "USER" }, unknowns);
                let mut target = gen_target(rng, table, i, n, builtin);
                if let Target::Dnat(a, _) = target
                    && matches!(cond.proto, Some((_, Some(_))))
                    && rng.chance(50)
                {
                    target = Target::Dnat(a, Some(8080));
                }
                // DNAT only in PREROUTING/OUTPUT, SNAT only in POSTROUTING.
                target = match (&target, name.as_str()) {
                    (Target::Dnat(..), "POSTROUTING") => Target::Snat(0xC0A8_0001),
                    (Target::Snat(_), "PREROUTING") => Target::Accept,
                    (Target::Dnat(..) | Target::Snat(_), n) if !builtin || n.starts_with('U') => {
                        Target::Log
                    }
                    _ => target,
                };
                if table == "nat" {
                    // Keep nat rules simple: no state tests (nat sees NEW only).
                    cond.ct = None;
                }
                rules.push(GRule { cond, target });
            }
            chains.push(GChain {
                name,
                builtin,
                drop_policy: builtin && table == "filter" && rng.chance(40),
                rules,
            });
        }
        out.push(GTable {
            name: table,
            chains,
        });
    }
    out
}

/// A variation of `set`: sometimes equivalent, often not.
fn mutate(rng: &mut Rng, set: &GSet) -> GSet {
    let mut b = set.clone();
    let rounds = 1 + rng.below(2);
    for _ in 0..rounds {
        let t = rng.below(b.len());
        let c = rng.below(b[t].chains.len());
        let is_filter = b[t].name == "filter";
        let chain = &mut b[t].chains[c];
        let n = chain.rules.len();
        match rng.below(7) {
            0 if n >= 2 => {
                let i = rng.below(n - 1);
                chain.rules.swap(i, i + 1);
            }
            1 if n >= 1 => {
                chain.rules.remove(rng.below(n));
            }
            2 if n >= 1 => {
                let i = rng.below(n);
                chain.rules[i].target = match chain.rules[i].target {
                    Target::Accept => Target::Drop,
                    Target::Drop => Target::Accept,
                    Target::Mark(v, m) => Target::Mark(v ^ 2, m),
                    ref t => t.clone(),
                };
            }
            3 if n >= 1 => {
                let i = rng.below(n);
                chain.rules[i].cond.proto = Some((6, Some((22, 22))));
            }
            4 if n >= 1 => {
                // A duplicate of a rule right after it: always equivalent.
                let i = rng.below(n);
                let r = chain.rules[i].clone();
                if !matches!(r.target, Target::Mark(..)) {
                    chain.rules.insert(i + 1, r);
                }
            }
            5 => chain.drop_policy = chain.builtin && is_filter && !chain.drop_policy,
            _ => {}
        }
    }
    b
}

fn print_set(set: &GSet) -> String {
    let mut s = String::new();
    for t in set {
        s.push_str(&format!("*{}\n", t.name));
        for c in &t.chains {
            let policy = if !c.builtin {
                "-"
            } else if c.drop_policy {
                "DROP"
            } else {
                "ACCEPT"
            };
            s.push_str(&format!(":{} {policy} [0:0]\n", c.name));
        }
        for c in &t.chains {
            for r in &c.rules {
                s.push_str(&format!("-A {}", c.name));
                let k = &r.cond;
                let neg = |n: bool| if n { " !" } else { "" };
                if let Some((n, a, l)) = k.src {
                    s.push_str(&format!("{} -s {}/{l}", neg(n), ip(a)));
                }
                if let Some((n, a, l)) = k.dst {
                    s.push_str(&format!("{} -d {}/{l}", neg(n), ip(a)));
                }
                if let Some((n, i)) = k.iface_in {
                    s.push_str(&format!("{} -i {i}", neg(n)));
                }
                if let Some((n, i)) = k.iface_out {
                    s.push_str(&format!("{} -o {i}", neg(n)));
                }
                if let Some((p, port)) = k.proto {
                    let name = if p == 6 { "tcp" } else { "udp" };
                    s.push_str(&format!(" -p {name}"));
                    if let Some((lo, hi)) = port {
                        if lo == hi {
                            s.push_str(&format!(" -m {name} --dport {lo}"));
                        } else {
                            s.push_str(&format!(" -m {name} --dport {lo}:{hi}"));
                        }
                    }
                } else if k.icmp {
                    s.push_str(" -p icmp");
                }
                if let Some((n, st)) = &k.ct {
                    s.push_str(&format!(
                        " -m conntrack{} --ctstate {}",
                        neg(*n),
                        st.join(",")
                    ));
                }
                if let Some((n, v, m)) = k.mark {
                    s.push_str(&format!(" -m mark{} --mark {v:#x}/{m:#x}", neg(n)));
                }
                if let Some(u) = k.unknown {
                    s.push_str(&format!(" -m recent --name {u} --rcheck"));
                }
                let user = |i: usize| t.chains[i].name.clone();
                let tgt = match &r.target {
                    Target::Accept => " -j ACCEPT".to_string(),
                    Target::Drop => " -j DROP".to_string(),
                    Target::Reject => " -j REJECT".to_string(),
                    Target::Return => " -j RETURN".to_string(),
                    Target::Log => " -j LOG".to_string(),
                    Target::Jump(i) => format!(" -j {}", user(*i)),
                    Target::Goto(i) => format!(" -g {}", user(*i)),
                    Target::Mark(v, m) => format!(" -j MARK --set-xmark {v:#x}/{m:#x}"),
                    Target::Dnat(a, None) => format!(" -j DNAT --to-destination {}", ip(*a)),
                    Target::Dnat(a, Some(p)) => format!(" -j DNAT --to-destination {}:{p}", ip(*a)),
                    Target::Snat(a) => format!(" -j SNAT --to-source {}", ip(*a)),
                };
                s.push_str(&tgt);
                s.push('\n');
            }
        }
        s.push_str("COMMIT\n");
    }
    s
}

// ---- the brute-force evaluator -----------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    src: u32,
    dst: u32,
    dport: u16,
    proto: u8,
    fragment: bool,
    iface_in: String,
    iface_out: String,
    ct: Conntrack,
    mark: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum BVerdict {
    Accept,
    Drop,
    Reject,
}

fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(p) => !name.is_empty() && name.starts_with(p),
        None => pattern == name,
    }
}

fn prefix_matches(addr: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    addr & mask == net & mask
}

fn cond_holds(c: &Cond, s: &State, val: &[(&str, bool)]) -> bool {
    if let Some((n, a, l)) = c.src
        && prefix_matches(s.src, a, l) == n
    {
        return false;
    }
    if let Some((n, a, l)) = c.dst
        && prefix_matches(s.dst, a, l) == n
    {
        return false;
    }
    if let Some((n, i)) = c.iface_in
        && iface_matches(i, &s.iface_in) == n
    {
        return false;
    }
    if let Some((n, i)) = c.iface_out
        && iface_matches(i, &s.iface_out) == n
    {
        return false;
    }
    if let Some((p, port)) = c.proto {
        if s.proto != p {
            return false;
        }
        if let Some((lo, hi)) = port
            && (s.fragment || s.dport < lo || s.dport > hi)
        {
            return false;
        }
    } else if c.icmp && s.proto != 1 {
        return false;
    }
    if let Some((n, states)) = &c.ct {
        let name = match s.ct.state {
            CtBase::New => "NEW",
            CtBase::Established => "ESTABLISHED",
            CtBase::Related => "RELATED",
            CtBase::Invalid => "INVALID",
            CtBase::Untracked => "UNTRACKED",
        };
        if states.contains(&name) == *n {
            return false;
        }
    }
    if let Some((n, v, m)) = c.mark
        && ((s.mark & m) == v) == n
    {
        return false;
    }
    if let Some(u) = c.unknown {
        return val.iter().any(|(k, v)| *k == u && *v);
    }
    true
}

/// Runs one table's chain for `hook`: `None` when the table lets the
/// packet through, else the final verdict.
fn run_table(t: &GTable, hook: &str, s: &mut State, val: &[(&str, bool)]) -> Option<BVerdict> {
    // No chain for the hook: the table lets the packet through.
    let start = t.chains.iter().position(|c| c.builtin && c.name == hook)?;
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let (mut chain, mut i) = (start, 0usize);
    loop {
        let rules = &t.chains[chain].rules;
        if i >= rules.len() {
            // End of chain: back after the last -j, or the policy.
            match stack.pop() {
                Some((c, r)) if !t.chains[chain].builtin => {
                    chain = c;
                    i = r;
                    continue;
                }
                _ => {
                    return t.chains[start].drop_policy.then_some(BVerdict::Drop);
                }
            }
        }
        let r = &rules[i];
        if !cond_holds(&r.cond, s, val) {
            i += 1;
            continue;
        }
        match &r.target {
            Target::Accept => return None,
            Target::Drop => return Some(BVerdict::Drop),
            Target::Reject => return Some(BVerdict::Reject),
            Target::Log => i += 1,
            Target::Mark(v, m) => {
                s.mark = (s.mark & !m) ^ v;
                i += 1;
            }
            Target::Return => {
                i = rules.len(); // handled as the end of the chain
            }
            Target::Jump(c) => {
                stack.push((chain, i + 1));
                chain = *c;
                i = 0;
            }
            Target::Goto(c) => {
                chain = *c;
                i = 0;
            }
            Target::Dnat(a, p) => {
                s.dst = *a;
                if let Some(p) = p {
                    s.dport = *p;
                }
                s.ct.dnat = true;
                return None;
            }
            Target::Snat(a) => {
                s.src = *a;
                s.ct.snat = true;
                return None;
            }
        }
    }
}

/// The fate on a path: verdict, and for an accepted packet what it leaves as.
fn brute_fate(
    set: &GSet,
    path: Path,
    s0: &State,
    val: &[(&str, bool)],
) -> (BVerdict, Option<State>) {
    let order: Vec<(&str, &str)> = match path {
        Path::Input => vec![
            ("PREROUTING", "mangle"),
            ("PREROUTING", "nat"),
            ("INPUT", "mangle"),
            ("INPUT", "filter"),
            ("INPUT", "nat"),
        ],
        Path::Forward => vec![
            ("PREROUTING", "mangle"),
            ("PREROUTING", "nat"),
            ("FORWARD", "mangle"),
            ("FORWARD", "filter"),
            ("POSTROUTING", "mangle"),
            ("POSTROUTING", "nat"),
        ],
        _ => vec![
            ("OUTPUT", "mangle"),
            ("OUTPUT", "nat"),
            ("OUTPUT", "filter"),
            ("POSTROUTING", "mangle"),
            ("POSTROUTING", "nat"),
        ],
    };
    let mut s = s0.clone();
    for (hook, table) in order {
        let Some(t) = set.iter().find(|t| t.name == table) else {
            continue;
        };
        if table == "nat" && s.ct.state != CtBase::New {
            continue;
        }
        if let Some(v) = run_table(t, hook, &mut s, val) {
            return (v, None);
        }
    }
    (BVerdict::Accept, Some(s))
}

fn state_of(p: &Packet) -> State {
    State {
        src: p.src as u32,
        dst: p.dst as u32,
        dport: p.dport,
        proto: p.protocol,
        fragment: p.later_fragment,
        iface_in: p.in_interface.clone().unwrap_or_default(),
        iface_out: p.out_interface.clone().unwrap_or_default(),
        ct: p.conntrack,
        mark: p.mark,
    }
}

/// Representative packets for a path.
fn packets(path: Path) -> Vec<State> {
    let addrs = [0x0A00_0001u32, 0x0A01_0203, 0xC0A8_0005, 0x0808_0808];
    let ins: &[&str] = match path {
        Path::Output => &[""],
        _ => &["eth0", "eth1", "eth9"],
    };
    let outs: &[&str] = match path {
        Path::Input => &[""],
        _ => &["eth0", "eth1"],
    };
    let mut out = Vec::new();
    for &src in &addrs[..3] {
        for &dst in &addrs {
            for (proto, dport) in [(6, 22), (6, 8080), (17, 80), (17, 5000), (1, 0)] {
                for &i in ins {
                    for &o in outs {
                        for ct in [CtBase::New, CtBase::Established, CtBase::Invalid] {
                            for mark in [0u32, 1, 2, 3] {
                                out.push(State {
                                    src,
                                    dst,
                                    dport,
                                    proto,
                                    fragment: false,
                                    iface_in: i.to_string(),
                                    iface_out: o.to_string(),
                                    ct: Conntrack::new(ct),
                                    mark,
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

fn same(a: &(BVerdict, Option<State>), b: &(BVerdict, Option<State>)) -> bool {
    a == b
}

const VALUATIONS: [[(&str, bool); 2]; 4] = [
    [("x", false), ("y", false)],
    [("x", true), ("y", false)],
    [("x", false), ("y", true)],
    [("x", true), ("y", true)],
];

#[test]
fn diff_agrees_with_brute_force_on_random_pairs() {
    let mut rng = Rng(0xD1FF_2026);
    let (mut equivalent, mut certain, mut maybe) = (0, 0, 0);
    for case in 0..60 {
        let unknowns = case % 3 == 0;
        let a = gen_set(&mut rng, unknowns);
        let b = mutate(&mut rng, &a);
        let (ta, tb) = (print_set(&a), print_set(&b));
        let ra = iptlint::syntax::parse(&ta, Some(Family::Ipv4)).ruleset;
        let rb = iptlint::syntax::parse(&tb, Some(Family::Ipv4)).ruleset;
        let rules = [&ra, &rb]
            .into_iter()
            .flat_map(|r| &r.tables)
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules);
        let ctx = SpaceContext::for_rules(Family::Ipv4, rules);
        let wa = Walker::new(&ra, &ctx, &ta, false);
        let wb = Walker::new(&rb, &ctx, &tb, false);
        let mut conds = Conditions::default();
        for path in Path::ALL {
            let la = wa
                .walk(path, &ctx.universe(), &mut conds)
                .expect("within budget");
            let lb = wb
                .walk(path, &ctx.universe(), &mut conds)
                .expect("within budget");
            let diffs = compare(path, &ctx, &la, &lb, usize::MAX).expect("no budget");
            if !diffs.is_empty() {
                // What compare holds is bounded too: with a budget of one
                // piece, any difference is too much.
                let g = compare(path, &ctx, &la, &lb, 1).expect_err("over a budget of 1");
                assert!(g.pieces > 1 && g.budget == 1, "{g:?}");
            }
            if diffs.is_empty() {
                equivalent += 1;
                for s in packets(path) {
                    for val in &VALUATIONS {
                        let fa = brute_fate(&a, path, &s, val);
                        let fb = brute_fate(&b, path, &s, val);
                        assert!(
                            same(&fa, &fb),
                            "case {case} {path:?}: diff says equivalent, but {s:?} under {val:?}: A {fa:?}, B {fb:?}\nA:\n{ta}\nB:\n{tb}"
                        );
                    }
                }
            }
            for d in &diffs {
                assert!(d.region.contains(&ctx, &d.witness));
                if !d.certain {
                    maybe += 1;
                    assert!(
                        unknowns,
                        "case {case}: 'may differ' without unknown conditions\nA:\n{ta}\nB:\n{tb}"
                    );
                    continue;
                }
                certain += 1;
                let s = state_of(&d.witness);
                for val in &VALUATIONS {
                    let fa = brute_fate(&a, path, &s, val);
                    let fb = brute_fate(&b, path, &s, val);
                    assert!(
                        !same(&fa, &fb),
                        "case {case} {path:?}: witness {:?} does not differ under {val:?}: {fa:?}\nA:\n{ta}\nB:\n{tb}",
                        d.witness
                    );
                }
            }
        }
    }
    eprintln!("paths equivalent {equivalent}, certain differences {certain}, may differ {maybe}");
    // The generator must exercise both answers, or this test proves little.
    assert!(equivalent >= 20, "only {equivalent} equivalent paths");
    assert!(certain >= 20, "only {certain} certain differences");
}
