//! Keyed runs are exact: a walk that takes a long stretch of rules keyed by
//! one field at once (a kube-proxy `KUBE-SERVICES` chain) gives every packet
//! the same fates as the walk that meets the rules one by one.
//!
//! Random dumps (seeded) built around such chains: repeated and distinct
//! addresses, ports and prefixes (a prefix overlapping an address ends a
//! run), rules without the key, unknown conditions, jumps to chains that
//! return (a branch enters the run in its middle), marks tested and set
//! before (a rewrite of a field the run tests), DNAT before a filter chain
//! keyed by the destination (the rewritten key is one value), `-o` in a
//! chain reached from PREROUTING. Each is walked both ways on every path;
//! the comparison of the two walks must find nothing, and each enumerated
//! packet must meet the same fates (verdict, rewrites, deciding rules,
//! assumptions) in both.

mod support;

use iptlint::fate::{Conditions, Leaf, Path, Walker, compare};
use iptlint::model::Family;
use iptlint::space::{Conntrack, CtBase, Packet, SpaceContext};
use support::Rng;

const ADDRS: [&str; 8] = [
    "10.96.0.1",
    "10.96.0.2",
    "10.96.0.3",
    "10.96.0.4",
    "10.96.0.9",
    "10.96.1.1",
    "10.1.2.3",
    "192.168.0.1",
];
const PORTS: [u16; 5] = [53, 80, 443, 8080, 30080];

fn v4(s: &str) -> u128 {
    u32::from(s.parse::<std::net::Ipv4Addr>().expect("an address")) as u128
}

/// The conditions of one rule of a keyed chain.
fn conditions(rng: &mut Rng, key: &str, out_ok: bool) -> String {
    let mut c = String::new();
    match (key, rng.below(20)) {
        (_, 0) => {}                              // no key: ends a run
        (_, 1) => c.push_str(" -d 10.96.0.0/30"), // overlaps some addresses
        ("dst", _) => c.push_str(&format!(" -d {}/32", rng.pick(&ADDRS))),
        ("src", _) => c.push_str(&format!(" -s {}/32", rng.pick(&ADDRS))),
        _ => {}
    }
    if key == "out" && out_ok && !rng.chance(10) {
        c.push_str(&format!(" -o {}", rng.pick(&["eth0", "eth1", "veth+"])));
    }
    let proto = *rng.pick(&["tcp", "tcp", "udp", ""]);
    if !proto.is_empty() {
        c.push_str(&format!(" -p {proto}"));
        if key == "dport" || rng.chance(70) {
            c.push_str(&format!(" -m {proto} --dport {}", rng.pick(&PORTS)));
        }
    }
    if rng.chance(8) {
        c.push_str(" -m mark --mark 0x1/0x1");
    }
    if rng.chance(3) {
        // A text of its own: the walk takes two unknown conditions written
        // alike as one, which makes a branch that assumed both outcomes of
        // it overlap others in the comparison, whatever the cut.
        let draw = rng.next() % 100_000;
        c.push_str(&format!(
            " -m statistic --mode random --probability 0.{draw:05}"
        ));
    }
    c
}

/// A dump whose nat and filter tables have long keyed chains.
fn gen_dump(rng: &mut Rng) -> String {
    let mut s = String::new();
    // mangle: a MARK some packets get, and a chain keyed by `-o` reached
    // from PREROUTING (where `-o` sees no device yet) and FORWARD.
    s.push_str("*mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTS - [0:0]\n");
    if rng.chance(50) {
        s.push_str("-A PREROUTING -p tcp -m tcp --dport 443 -j MARK --set-xmark 0x1/0x1\n");
    }
    s.push_str("-A PREROUTING -j OUTS\n-A FORWARD -j OUTS\n");
    for _ in 0..rng.below(12) {
        let target = *rng.pick(&["MARK --set-xmark 0x2/0x2", "RETURN", "LOG"]);
        s.push_str(&format!(
            "-A OUTS{} -j {target}\n",
            conditions(rng, "out", true)
        ));
    }
    s.push_str("COMMIT\n");
    // nat: services by address (DNAT, or on to a chain that may return).
    s.push_str("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
    s.push_str(":SVCS - [0:0]\n:NODEPORTS - [0:0]\n:SVC0 - [0:0]\n:SVC1 - [0:0]\n");
    s.push_str("-A PREROUTING -j SVCS\n-A OUTPUT -j SVCS\n");
    for _ in 0..8 + rng.below(16) {
        let target = match rng.below(6) {
            0 => "SVC0".to_string(),
            1 => "SVC1".to_string(),
            2 => "RETURN".to_string(),
            3 => "ACCEPT".to_string(),
            _ => format!(
                "DNAT --to-destination 10.244.0.{}:{}",
                1 + rng.below(4),
                rng.pick(&PORTS)
            ),
        };
        s.push_str(&format!(
            "-A SVCS{} -j {target}\n",
            conditions(rng, "dst", false)
        ));
    }
    s.push_str("-A SVCS -m addrtype --dst-type LOCAL -j NODEPORTS\n");
    for _ in 0..rng.below(10) {
        s.push_str(&format!(
            "-A NODEPORTS{} -j SVC{}\n",
            conditions(rng, "dport", false),
            rng.below(2)
        ));
    }
    // SVC0 returns some packets (they go on in the middle of the run);
    // SVC1 marks and DNATs.
    s.push_str("-A SVC0 -p udp -j RETURN\n-A SVC0 -j DNAT --to-destination 10.244.0.7\n");
    s.push_str("-A SVC1 -j MARK --set-xmark 0x1/0x1\n");
    s.push_str("-A SVC1 -m mark --mark 0x2/0x2 -j RETURN\n");
    s.push_str("-A SVC1 -p tcp -j DNAT --to-destination 10.244.0.2:8080\n");
    s.push_str("-A POSTROUTING -m mark --mark 0x1/0x1 -j MASQUERADE\nCOMMIT\n");
    // filter: a chain keyed by the destination after the DNATs, one by the
    // source, one by the port.
    let policy = |rng: &mut Rng| if rng.chance(30) { "DROP" } else { "ACCEPT" };
    s.push_str(&format!(
        "*filter\n:INPUT {} [0:0]\n:FORWARD {} [0:0]\n:OUTPUT {} [0:0]\n",
        policy(rng),
        policy(rng),
        policy(rng)
    ));
    s.push_str(":BYDST - [0:0]\n:BYSRC - [0:0]\n:BYPORT - [0:0]\n");
    s.push_str("-A INPUT -j BYPORT\n-A INPUT -j BYSRC\n-A FORWARD -j BYDST\n");
    s.push_str("-A OUTPUT -j BYDST\n-A FORWARD -j BYSRC\n");
    for (chain, key) in [("BYDST", "dst"), ("BYSRC", "src"), ("BYPORT", "dport")] {
        for _ in 0..rng.below(14) {
            let target = *rng.pick(&["ACCEPT", "DROP", "REJECT", "RETURN", "LOG"]);
            s.push_str(&format!(
                "-A {chain}{} -j {target}\n",
                conditions(rng, key, false)
            ));
        }
    }
    s.push_str("COMMIT\n");
    s
}

/// Packets made of the values the dumps test, and their neighbours.
fn packets(path: Path) -> Vec<Packet> {
    let mut out = Vec::new();
    let addrs: Vec<u128> = ADDRS
        .iter()
        .map(|a| v4(a))
        .chain([v4("10.96.0.5"), v4("10.244.0.2"), v4("8.8.8.8")])
        .collect();
    let (ins, outs): (&[Option<&str>], &[Option<&str>]) = match path {
        Path::Input => (&[Some("eth0")], &[None]),
        Path::Forward => (
            &[Some("eth0")],
            &[Some("eth1"), Some("veth3"), Some("eth0")],
        ),
        _ => (&[None], &[Some("eth1"), Some("veth3")]),
    };
    let mut n = 0usize;
    for &dst in &addrs {
        for &dport in PORTS.iter().chain(&[22]) {
            for protocol in [6u8, 17, 1] {
                n += 1;
                let src = addrs[n % addrs.len()];
                out.push(Packet {
                    src,
                    dst,
                    protocol,
                    dport,
                    in_interface: ins[n % ins.len()].map(str::to_string),
                    out_interface: outs[n % outs.len()].map(str::to_string),
                    conntrack: Conntrack::new(if n.is_multiple_of(5) {
                        CtBase::Established
                    } else {
                        CtBase::New
                    }),
                    mark: (n % 4 == 1) as u32 | (2 * (n % 7 == 3) as u32),
                    ..Packet::default()
                });
            }
        }
    }
    out
}

/// What the leaves holding `p` say about it, in a comparable form.
fn fates_of(ctx: &SpaceContext, leaves: &[Leaf], p: &Packet) -> Vec<String> {
    let mut out: Vec<String> = leaves
        .iter()
        .filter(|l| l.region.contains(ctx, p))
        .map(|l| {
            let decided: Vec<(u32, bool)> =
                l.decisions.iter().map(|d| (d.line, d.by_policy)).collect();
            let assumed: Vec<(u32, bool)> = l
                .assumptions
                .iter()
                .map(|a| (a.condition, a.holds))
                .collect();
            format!(
                "{:?} {:?} {decided:?} {assumed:?}",
                l.fate.verdict, l.fate.rewrites
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn keyed_runs_give_the_fates_of_the_rule_by_rule_walk() {
    let mut rng = Rng(0x4B45_5945_4452_554E);
    let mut taken_apart = 0;
    for case in 0..40 {
        let text = gen_dump(&mut rng);
        let parsed = iptlint::syntax::parse(&text, Some(Family::Ipv4));
        assert!(
            parsed.findings.iter().all(|f| !f.is_input_error()),
            "case {case}: {:?}\n{text}",
            parsed.findings
        );
        let rs = parsed.ruleset;
        let ctx = SpaceContext::for_ruleset(&rs);
        let mut by_runs = Walker::new(&rs, &ctx, &text, false);
        by_runs.set_min_run(2);
        let mut by_rules = Walker::new(&rs, &ctx, &text, false);
        by_rules.set_min_run(usize::MAX);
        let mut conds = Conditions::default();
        for path in Path::ALL {
            let a = by_runs
                .walk(path, &ctx.universe(), &mut conds)
                .expect("within budget");
            let b = by_rules
                .walk(path, &ctx.universe(), &mut conds)
                .expect("within budget");
            if a.len() != b.len()
                || a.iter()
                    .zip(&b)
                    .any(|(x, y)| !x.region.same_pieces(&y.region))
            {
                // The runs cut the regions differently: this case tests them.
                taken_apart += 1;
            }
            let diffs = compare(path, &ctx, &a, &b, usize::MAX).expect("no budget");
            assert!(
                diffs.is_empty(),
                "case {case} {path:?}: the walks differ on {:?}\n{text}",
                diffs[0].witness
            );
            for p in packets(path) {
                assert_eq!(
                    fates_of(&ctx, &a, &p),
                    fates_of(&ctx, &b, &p),
                    "case {case} {path:?}: {p:?}\n{text}"
                );
            }
        }
    }
    eprintln!("{taken_apart} walks cut differently");
    // Most walks must have gone through runs, or this test proves little.
    assert!(taken_apart >= 60, "only {taken_apart} walks used runs");
}
