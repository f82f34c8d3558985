//! Unit tests of the walk: chain semantics, rewrites, unknowns, depth.

use super::*;
use crate::model::Family;
use crate::space::{Conntrack, CtBase, Packet, SpaceContext};

fn v4(s: &str) -> u128 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap()) as u128
}

struct Setup {
    rs: crate::model::Ruleset,
    text: String,
}

fn setup(text: &str) -> Setup {
    let parsed = crate::syntax::parse(text, Some(Family::Ipv4));
    assert!(
        parsed.findings.iter().all(|f| !f.is_input_error()),
        "{:?}",
        parsed.findings
    );
    Setup {
        rs: parsed.ruleset,
        text: text.to_string(),
    }
}

/// The fate of one concrete packet on `path`, found among the leaves.
fn fate_of(s: &Setup, path: Path, p: &Packet) -> Vec<(Verdict, Vec<String>, usize)> {
    let ctx = SpaceContext::for_ruleset(&s.rs);
    let w = Walker::new(&s.rs, &ctx, &s.text, false);
    let mut conds = Conditions::default();
    let leaves = w
        .walk(path, &ctx.universe(), &mut conds)
        .expect("within budget");
    // Leaves are disjoint for one valuation of the assumptions.
    leaves
        .iter()
        .filter(|l| l.region.contains(&ctx, p))
        .map(|l| {
            (
                l.fate.verdict.clone(),
                l.fate.rewrites.describe(Family::Ipv4),
                l.assumptions.len(),
            )
        })
        .collect()
}

fn input(dport: u16) -> Packet {
    Packet {
        src: v4("192.0.2.1"),
        dst: v4("10.0.0.1"),
        dport,
        in_interface: Some("eth0".into()),
        ..Packet::default()
    }
}

#[test]
fn policy_and_accept() {
    let s = setup(
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    assert_eq!(fate_of(&s, Path::Input, &input(22))[0].0, Verdict::Accept);
    assert_eq!(fate_of(&s, Path::Input, &input(80))[0].0, Verdict::Drop);
    // The output path never meets INPUT.
    let out = Packet {
        out_interface: Some("eth0".into()),
        in_interface: None,
        ..input(80)
    };
    assert_eq!(fate_of(&s, Path::Output, &out)[0].0, Verdict::Accept);
}

#[test]
fn jumps_returns_and_gotos() {
    let s = setup(
        "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n\
         -A INPUT -j A\n-A INPUT -p tcp -m tcp --dport 80 -j DROP\n-A INPUT -g B\n\
         -A A -p tcp -m tcp --dport 22 -j RETURN\n-A A -p tcp -m tcp --dport 23 -j DROP\n\
         -A B -p tcp -m tcp --dport 443 -j REJECT\nCOMMIT\n",
    );
    let v = |port| fate_of(&s, Path::Input, &input(port))[0].0.clone();
    assert_eq!(v(22), Verdict::Accept); // returns, passes 80, goto B, falls off: policy
    assert_eq!(v(23), Verdict::Drop);
    assert_eq!(v(80), Verdict::Drop);
    assert_eq!(v(443), Verdict::Reject("icmp-port-unreachable".into()));
    assert_eq!(v(444), Verdict::Accept);
}

#[test]
fn accept_ends_only_its_table() {
    let s = setup(
        "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 1 -j DROP\nCOMMIT\n\
         *mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n\
         *filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 2 -j DROP\nCOMMIT\n",
    );
    let v = |port| fate_of(&s, Path::Input, &input(port))[0].0.clone();
    assert_eq!(v(1), Verdict::Drop);
    assert_eq!(v(2), Verdict::Drop);
    assert_eq!(v(3), Verdict::Accept);
}

#[test]
fn marks_are_seen_by_later_tables() {
    let s = setup(
        "*mangle\n:PREROUTING ACCEPT [0:0]\n\
         -A PREROUTING -p tcp -m tcp --dport 22 -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n\
         *filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m mark --mark 0x4000/0x4000 -j DROP\nCOMMIT\n",
    );
    let f = fate_of(&s, Path::Input, &input(22));
    assert_eq!(f[0].0, Verdict::Drop);
    let f = fate_of(&s, Path::Input, &input(80));
    assert_eq!(f[0].0, Verdict::Accept);
    // Port 80 with the mark already set: dropped too.
    let marked = Packet {
        mark: 0x4001,
        ..input(80)
    };
    assert_eq!(fate_of(&s, Path::Input, &marked)[0].0, Verdict::Drop);
    // The accepted port-22-with-mark? None: all port 22 is dropped.
    let s2 = setup(
        "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n",
    );
    let f = fate_of(&s2, Path::Input, &input(22));
    assert_eq!(
        (f[0].0.clone(), f[0].1.clone()),
        (Verdict::Accept, vec!["mark = 0x1".to_string()])
    );
}

#[test]
fn dnat_rewrites_what_filter_sees_only_for_new_packets() {
    let s = setup(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n\
         -A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.5:8080\nCOMMIT\n\
         *filter\n:INPUT ACCEPT [0:0]\n\
         -A INPUT -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -m conntrack --ctstate DNAT -j DROP\nCOMMIT\n",
    );
    let f = fate_of(&s, Path::Input, &input(80));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, Verdict::Drop);
    let est = Packet {
        conntrack: Conntrack::new(CtBase::Established),
        ..input(80)
    };
    let f = fate_of(&s, Path::Input, &est);
    assert_eq!(f[0].0, Verdict::Accept);
    assert!(f[0].1.is_empty(), "no NAT for a later packet: {:?}", f[0].1);
    // A NEW packet to 10.0.0.5:8080 itself: no DNAT, no DNAT status bit.
    let direct = Packet {
        dst: v4("10.0.0.5"),
        ..input(8080)
    };
    assert_eq!(fate_of(&s, Path::Input, &direct)[0].0, Verdict::Accept);
}

#[test]
fn unknown_matches_split_both_ways() {
    let s = setup(
        "*filter\n:INPUT ACCEPT [0:0]\n\
         -A INPUT -p tcp -m tcp --dport 22 -m recent --name ssh --rcheck -j DROP\nCOMMIT\n",
    );
    let f = fate_of(&s, Path::Input, &input(22));
    let verdicts: Vec<_> = f.iter().map(|x| (x.0.clone(), x.2)).collect();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(verdicts.contains(&(Verdict::Drop, 1)));
    assert!(verdicts.contains(&(Verdict::Accept, 1)));
    // Port 80 is decided without assumptions.
    assert_eq!(
        fate_of(&s, Path::Input, &input(80)),
        vec![(Verdict::Accept, vec![], 0)]
    );
}

#[test]
fn a_very_deep_jump_chain_does_not_overflow() {
    let n = 100_000;
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..n {
        text.push_str(&format!(":C{i} - [0:0]\n"));
    }
    text.push_str("-A INPUT -j C0\n");
    for i in 0..n - 1 {
        text.push_str(&format!("-A C{i} -j C{}\n", i + 1));
    }
    text.push_str(&format!(
        "-A C{} -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n",
        n - 1
    ));
    let s = setup(&text);
    assert_eq!(fate_of(&s, Path::Input, &input(22))[0].0, Verdict::Drop);
    assert_eq!(fate_of(&s, Path::Input, &input(23))[0].0, Verdict::Accept);
}

#[test]
fn notrack_skips_nat() {
    let s = setup(
        "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 80 -j CT --notrack\nCOMMIT\n\
         *nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 10.9.9.9\nCOMMIT\n",
    );
    let f = fate_of(&s, Path::Input, &input(80));
    assert_eq!(f[0].1, vec!["ctstate = UNTRACKED".to_string()]);
    let f = fate_of(&s, Path::Input, &input(81));
    assert!(
        f[0].1.contains(&"dst = 10.9.9.9".to_string()),
        "{:?}",
        f[0].1
    );
}

#[test]
fn leaves_partition_the_path() {
    let s = setup(
        "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -s 10.0.0.0/8 -j X\n\
         -A INPUT -p udp -j ACCEPT\n-A X -p tcp -m tcp --dport 22 -j ACCEPT\n-A X -j RETURN\nCOMMIT\n",
    );
    let ctx = SpaceContext::for_ruleset(&s.rs);
    let w = Walker::new(&s.rs, &ctx, &s.text, false);
    let leaves = w
        .walk(Path::Input, &ctx.universe(), &mut Conditions::default())
        .expect("within budget");
    let mut all = ctx.empty();
    for l in &leaves {
        assert!(!all.overlaps(&l.region));
        all = all.union(&l.region);
    }
    assert!(all.same_as(&Path::Input.universe(&ctx)));
}

/// The region kube-proxy leaves after its ClusterIP rules, narrowed to one
/// NodePort: merged along the destination, it is one cube again, and the
/// set is unchanged.
#[test]
fn a_region_merges_along_its_heaviest_field() {
    let ctx = SpaceContext::new(Family::Ipv4, ["eth0"]);
    let mut missed = ctx.universe();
    let mut addrs = Vec::new();
    for i in 0..300u128 {
        let addr = v4("10.96.0.0") + 7 * i;
        addrs.push(addr);
        let port = [80, 443, 53][i as usize % 3];
        let service = ctx
            .universe()
            .restrict_range(crate::space::Dim::Dst, addr, addr)
            .restrict_range(crate::space::Dim::Protocol, 6, 6)
            .restrict_range(crate::space::Dim::DstPort, port, port);
        missed = missed.difference(&service);
    }
    missed.compact();
    let nodeport = ctx
        .universe()
        .restrict_range(crate::space::Dim::Protocol, 6, 6)
        .restrict_range(crate::space::Dim::DstPort, 30080, 30080);
    // One address in a long list: found by the binary search of a window.
    let one = ctx
        .universe()
        .restrict_range(crate::space::Dim::Dst, addrs[150], addrs[150]);
    assert!(missed.overlaps(&one));
    // Service 150 (port 80) is cut out of its address, the rest is kept.
    let service = one
        .restrict_range(crate::space::Dim::Protocol, 6, 6)
        .restrict_range(crate::space::Dim::DstPort, 80, 80);
    assert!(missed.intersect(&one).same_as(&one.difference(&service)));
    let mut taken = missed.intersect(&nodeport);
    let before = taken.clone();
    assert!(taken.cube_count() > 1, "{taken:?}");
    let (dim, weight) = taken.heaviest_dim().unwrap();
    assert_eq!(dim, crate::space::Dim::Dst);
    assert!(weight >= 300, "{weight}");
    taken.merge_along(dim);
    assert!(taken.same_as(&before));
    assert!(taken.same_as(&nodeport));
    assert_eq!(taken.cube_count(), 1);
    assert!(taken.weight() < 10, "{}", taken.weight());
    // A region that cannot merge along the field stays the same set.
    let mut kept = missed.clone();
    kept.merge_along(crate::space::Dim::Dst);
    assert!(kept.same_as(&missed));
}

#[test]
fn a_walk_over_its_budget_gives_up() {
    let s = setup(
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.1 -j ACCEPT\n-A INPUT -s 10.0.0.3 -j ACCEPT\n\
         -A INPUT -s 10.0.0.5 -j ACCEPT\n-A INPUT -s 10.0.0.7 -p tcp -j ACCEPT\nCOMMIT\n",
    );
    let ctx = SpaceContext::for_ruleset(&s.rs);
    let mut w = Walker::new(&s.rs, &ctx, &s.text, false);
    let all = w
        .walk(Path::Input, &ctx.universe(), &mut Conditions::default())
        .expect("within the default budget");
    assert!(all.len() >= 5);
    w.set_max_pieces(20);
    let err = w
        .walk(Path::Input, &ctx.universe(), &mut Conditions::default())
        .unwrap_err();
    assert_eq!(err.budget, 20);
    assert!(err.pieces > 20, "{err:?}");
    let msg = err.message(Path::Input, "a.rules");
    assert!(msg.starts_with("gave up after "), "{msg}");
    assert!(msg.contains("on the input path of a.rules"), "{msg}");
}
