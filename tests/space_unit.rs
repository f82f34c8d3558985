//! Unit tests of the packet-space algebra on hand-picked rules: masks,
//! IPv6, interface wildcards, negation, unknown matches, witnesses.

use iptlint::model::{Family, Rule};
use iptlint::space::{
    AddrType, Conntrack, CtBase, Dim, MatchSpace, Packet, PacketSet, SpaceContext, rule_expansions,
    rule_match_space,
};

/// Parses `-A INPUT ...` lines (one per rule) into one filter table.
fn rules(family: Family, lines: &[&str]) -> (SpaceContext, Vec<Rule>) {
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("COMMIT\n");
    let parsed = iptlint::syntax::parse(&text, Some(family));
    let ctx = SpaceContext::for_ruleset(&parsed.ruleset);
    let rules: Vec<Rule> = parsed
        .ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| c.rules.clone())
        .collect();
    assert_eq!(rules.len(), lines.len(), "every line parses to a rule");
    (ctx, rules)
}

fn spaces(family: Family, lines: &[&str]) -> (SpaceContext, Vec<MatchSpace>) {
    let (ctx, rules) = rules(family, lines);
    let s = rules.iter().map(|r| rule_match_space(r, &ctx)).collect();
    (ctx, s)
}

fn v4(text: &str) -> u128 {
    u32::from(text.parse::<std::net::Ipv4Addr>().unwrap()) as u128
}

fn v6(text: &str) -> u128 {
    u128::from(text.parse::<std::net::Ipv6Addr>().unwrap())
}

fn from(src: u128) -> Packet {
    Packet {
        src,
        ..Packet::default()
    }
}

fn assert_witness(ctx: &SpaceContext, s: &PacketSet) -> Packet {
    let w = s.witness(ctx).expect("non-empty");
    assert!(s.contains(ctx, &w), "witness {w:?} not in {s:?}");
    w
}

#[test]
fn non_contiguous_dotted_mask() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.0.0.0/255.0.255.0 -j DROP",
            "-A INPUT -s 10.0.0.0/8 -j DROP",
            "-A INPUT -s 10.0.0.0/255.255.0.0 -j DROP",
        ],
    );
    let odd = &s[0].may;
    assert!(odd.contains(&ctx, &from(v4("10.77.0.5"))));
    assert!(odd.contains(&ctx, &from(v4("10.0.0.255"))));
    assert!(!odd.contains(&ctx, &from(v4("10.0.1.5"))));
    assert!(!odd.contains(&ctx, &from(v4("11.0.0.5"))));
    assert!(odd.is_subset(&s[1].may));
    assert!(!s[1].may.is_subset(odd));
    // 10.0.0.0/16 ∩ the odd mask: 10.0.0.x only.
    let both = odd.intersect(&s[2].may);
    assert!(both.contains(&ctx, &from(v4("10.0.0.9"))));
    assert!(!both.contains(&ctx, &from(v4("10.77.0.9"))));
    assert_eq!(
        both.bounds(Dim::Src),
        Some((v4("10.0.0.0"), v4("10.0.0.255")))
    );
    let w = assert_witness(&ctx, &s[1].may.difference(odd));
    assert!(!odd.contains(&ctx, &w));
}

#[test]
fn wide_odd_masks_stay_small() {
    // 0.0.0.1/0.0.0.1 is every odd address: 2^31 intervals, one pattern.
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 0.0.0.1/0.0.0.1 -j DROP",
            "-A INPUT -s 0.0.0.0/0.0.0.1 -j DROP",
            "-A INPUT -s 10.0.0.5/0.0.0.255 -j DROP",
            "-A INPUT -s 0.0.0.4/0.0.0.6 -j DROP",
            "-A INPUT -s 10.0.0.0/8 -j DROP",
        ],
    );
    let (odd, even) = (&s[0].may, &s[1].may);
    assert!(odd.intersect(even).is_empty());
    assert!(odd.union(even).is_universe());
    assert!(odd.complement().same_as(even));
    assert!(s[2].may.is_subset(odd));
    assert!(s[2].may.is_subset(&s[3].may)); // x & 255 == 5 ⇒ x & 6 == 4
    let evens_in_10 = s[4].may.difference(odd);
    assert!(evens_in_10.cube_count() <= 2, "{evens_in_10:?}");
    assert!(evens_in_10.contains(&ctx, &from(v4("10.1.2.4"))));
    assert!(!evens_in_10.contains(&ctx, &from(v4("10.1.2.5"))));
    assert!(!evens_in_10.contains(&ctx, &from(v4("11.1.2.4"))));
    let w = assert_witness(&ctx, &evens_in_10);
    assert_eq!(w.src & 1, 0);
}

#[test]
fn host_bits_outside_the_mask_are_ignored() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.1.2.3/8 -j DROP",
            "-A INPUT -s 10.0.0.0/8 -j DROP",
        ],
    );
    assert!(s[0].may.same_as(&s[1].may));
    assert!(s[0].may.contains(&ctx, &from(v4("10.200.0.1"))));
}

#[test]
fn ipv6_prefixes_and_masks() {
    let (ctx, s) = spaces(
        Family::Ipv6,
        &[
            "-A INPUT -s 2001:db8::/32 -j DROP",
            "-A INPUT -s 2001:db8::1/128 -p tcp -m tcp --dport 22 -j DROP",
            "-A INPUT ! -s 2001:db8::/32 -j DROP",
            "-A INPUT -s ::1/::ffff -j DROP",
            "-A INPUT -s ::/0 -j DROP",
            "-A INPUT -s 10.0.0.1 -j DROP",
        ],
    );
    assert!(s[1].may.is_subset(&s[0].may));
    assert!(s[0].may.intersect(&s[2].may).is_empty());
    assert!(s[0].may.union(&s[2].may).is_universe());
    assert!(s[4].may.is_universe());
    let w = assert_witness(&ctx, &s[2].may);
    assert!(w.src >> 96 != 0x2001_0db8);
    // Low 16 bits equal to 1, anything above.
    assert!(s[3].may.contains(&ctx, &from(v6("2001:db8:1:2::1"))));
    assert!(!s[3].may.contains(&ctx, &from(v6("2001:db8:1:2::2"))));
    assert!(!s[3].may.is_subset(&s[0].may));
    let odd_in_db8 = s[3].may.intersect(&s[0].may);
    assert!(odd_in_db8.contains(&ctx, &from(v6("2001:db8:ffff::1"))));
    // An IPv4 address in an IPv6 rule set is not understood.
    assert!(!s[5].is_exact());
}

#[test]
fn interface_wildcards() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -i eth+ -j DROP",
            "-A INPUT -i eth0 -j DROP",
            "-A INPUT -i veth+ -j DROP",
            "-A INPUT ! -i eth+ -j DROP",
            "-A INPUT -i + -j DROP",
            "-A INPUT ! -i + -j DROP",
            "-A INPUT -i eth1+ -j DROP",
            "-A INPUT ! -i eth0 -j DROP",
        ],
    );
    let on = |name: Option<&str>| Packet {
        in_interface: name.map(str::to_string),
        ..Packet::default()
    };
    assert!(s[1].may.is_subset(&s[0].may));
    assert!(s[6].may.is_subset(&s[0].may));
    assert!(s[1].may.intersect(&s[6].may).is_empty());
    assert!(s[0].may.intersect(&s[2].may).is_empty());
    assert!(s[2].may.is_subset(&s[3].may));
    assert!(s[3].may.contains(&ctx, &on(None)), "no device is not eth+");
    assert!(s[3].may.contains(&ctx, &on(Some("wlan0"))));
    assert!(!s[3].may.contains(&ctx, &on(Some("eth7"))));
    assert!(
        s[0].may.contains(&ctx, &on(Some("eth"))),
        "eth+ matches `eth`"
    );
    assert!(s[4].may.is_universe(), "`-i +` matches even no device");
    assert!(s[5].may.is_empty());
    assert!(s[7].may.contains(&ctx, &on(None)));
    // eth+ minus eth0 minus eth1+: a name like eth2 or ethX.
    let rest = s[0].may.difference(&s[1].may).difference(&s[6].may);
    let w = assert_witness(&ctx, &rest);
    let name = w.in_interface.expect("a device");
    assert!(name.starts_with("eth") && name != "eth0" && !name.starts_with("eth1"));
    // No input device on OUTPUT: `-i` never matches there, `! -i` always.
    let output = ctx.hook_universe("OUTPUT");
    assert!(output.intersect(&s[0].may).is_empty());
    assert!(output.is_subset(&s[7].may));
    let input = ctx.hook_universe("INPUT");
    assert!(input.intersect(&s[3].may).overlaps(&s[3].may));
    assert!(!input.contains(&ctx, &on(None)));
}

#[test]
fn negated_address_lists_expand_per_address() {
    let (ctx, rules) = rules(
        Family::Ipv4,
        &[
            "-A INPUT ! -s 10.0.0.1,10.0.0.2 -j DROP",
            "-A INPUT -s 10.0.0.1,10.0.0.2 -d 10.9.0.0/16,10.8.0.0/16 -j DROP",
        ],
    );
    let parts = rule_expansions(&rules[0], &ctx);
    assert_eq!(parts.len(), 2);
    // `! -s a` or `! -s b`: every address, since none is both a and b.
    assert!(rule_match_space(&rules[0], &ctx).may.is_universe());
    assert!(!parts[0].may.contains(&ctx, &from(v4("10.0.0.1"))));
    assert!(parts[1].may.contains(&ctx, &from(v4("10.0.0.1"))));
    let both = rule_expansions(&rules[1], &ctx);
    assert_eq!(both.len(), 4);
    let all = rule_match_space(&rules[1], &ctx);
    let p = Packet {
        src: v4("10.0.0.2"),
        dst: v4("10.8.1.1"),
        ..Packet::default()
    };
    assert!(all.may.contains(&ctx, &p));
    assert!(both[3].may.contains(&ctx, &p));
    assert!(!both[0].may.contains(&ctx, &p));
}

#[test]
fn unknown_matches_keep_may_and_empty_must() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p tcp -m tcp --dport 22 -m statistic --mode random --probability 0.5 -j DROP",
            "-A INPUT -s example.com -j DROP",
            "-A INPUT -s example.com,10.0.0.1 -j DROP",
            "-A INPUT -m set --match-set blocked src -j DROP",
            "-A INPUT -p tcp -m tcp --dport 22 -j DROP",
            "-A INPUT -m comment --comment hi -j DROP",
        ],
    );
    assert!(!s[0].is_exact());
    assert!(s[0].must().is_empty());
    assert!(s[0].may.same_as(&s[4].may));
    assert!(
        s[0].unknown()[0].reason.contains("statistic"),
        "{:?}",
        s[0].unknown()
    );
    assert!(s[1].may.is_universe() && s[1].must().is_empty());
    // The resolvable half of a list is still certain.
    assert!(s[2].may.is_universe());
    assert!(s[2].must().contains(&ctx, &from(v4("10.0.0.1"))));
    assert!(!s[2].must().contains(&ctx, &from(v4("10.0.0.2"))));
    assert!(!s[3].is_exact());
    assert!(s[4].is_exact() && s[5].is_exact());
    assert!(s[5].may.is_universe());
}

#[test]
fn transport_matches_never_match_fragments() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p tcp -m tcp ! --dport 22 -j DROP",
            "-A INPUT -f -j DROP",
            "-A INPUT -p tcp -j DROP",
            "-A INPUT -p tcp -m multiport ! --dports 22,80 -j DROP",
            "-A INPUT -p icmp -m icmp --icmp-type any -j DROP",
        ],
    );
    assert!(s[0].may.intersect(&s[1].may).is_empty());
    assert!(
        s[2].may.overlaps(&s[1].may),
        "`-p tcp` alone matches fragments"
    );
    assert!(s[3].may.intersect(&s[1].may).is_empty());
    assert!(s[4].may.intersect(&s[1].may).is_empty());
    let frag = Packet {
        later_fragment: true,
        dport: 80,
        ..Packet::default()
    };
    assert!(!s[0].may.contains(&ctx, &frag));
}

#[test]
fn tcp_flags_and_syn() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p tcp -m tcp --syn -j DROP",
            "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP",
            "-A INPUT -p tcp -m tcp ! --syn -j DROP",
            "-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j DROP",
            "-A INPUT -p tcp -m tcp --tcp-flags SYN SYN,ACK -j DROP",
        ],
    );
    assert!(s[0].may.same_as(&s[1].may));
    assert!(s[0].may.intersect(&s[2].may).is_empty());
    assert!(
        s[0].may.union(&s[2].may).same_as(
            &ctx.universe()
                .restrict_range(Dim::Protocol, 6, 6)
                .restrict_range(Dim::Fragment, 0, 0)
        )
    );
    assert!(
        s[3].may.intersect(&s[0].may).is_empty(),
        "SYN+ACK is not --syn"
    );
    assert!(
        s[4].may.is_empty(),
        "a compared flag outside the mask never matches"
    );
    let w = assert_witness(&ctx, &s[2].may);
    assert_ne!(w.tcp_flags & 0x17, 0x02);
}

#[test]
fn multiport_either_port() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p udp -m multiport --ports 53,67:68 -j DROP",
            "-A INPUT -p udp -m multiport ! --ports 53,67:68 -j DROP",
            "-A INPUT -p udp -m udp --sport 53 -j DROP",
            "-A INPUT -p udp -m udp --dport 68 -j DROP",
        ],
    );
    assert!(s[2].may.is_subset(&s[0].may));
    assert!(s[3].may.is_subset(&s[0].may));
    assert!(!s[0].may.is_subset(&s[2].may.union(&s[3].may)));
    assert!(s[0].may.intersect(&s[1].may).is_empty());
    let p = Packet {
        protocol: 17,
        sport: 1000,
        dport: 67,
        ..Packet::default()
    };
    assert!(s[0].may.contains(&ctx, &p));
    assert!(!s[1].may.contains(&ctx, &p));
}

#[test]
fn conntrack_states_and_connmark() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "-A INPUT -m state --state ESTABLISHED -j ACCEPT",
            "-A INPUT -m conntrack ! --ctstate INVALID -j ACCEPT",
            "-A INPUT -m conntrack --ctstate DNAT -j ACCEPT",
            "-A INPUT -m connmark ! --mark 0x1/0x1 -j ACCEPT",
            "-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT",
            "-A INPUT -m state --state SNAT -j ACCEPT",
        ],
    );
    assert!(s[1].may.is_subset(&s[0].may));
    assert!(s[0].may.is_subset(&s[2].may));
    assert!(s[3].may.is_subset(&s[2].may));
    assert!(
        !s[3].may.is_subset(&s[0].may),
        "a NEW connection can be DNATed"
    );
    // No conntrack entry, no connmark: even `!` does not match.
    assert!(s[4].may.intersect(&s[5].may).is_empty());
    let untracked = Packet {
        conntrack: Conntrack::new(CtBase::Untracked),
        ..Packet::default()
    };
    assert!(!s[4].may.contains(&ctx, &untracked));
    let dnat_new = Packet {
        conntrack: Conntrack {
            state: CtBase::New,
            snat: false,
            dnat: true,
        },
        ..Packet::default()
    };
    assert!(s[3].may.contains(&ctx, &dnat_new));
    assert!(!s[6].is_exact(), "`--state` has no SNAT");
}

#[test]
fn marks_with_masks() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A INPUT -m mark ! --mark 0x4000/0x4000 -j ACCEPT",
            "-A INPUT -m mark --mark 0x4001 -j ACCEPT",
            "-A INPUT -m mark --mark 0x1/0x0 -j ACCEPT",
            "-A INPUT -m mark --mark 0x0/0x0 -j ACCEPT",
        ],
    );
    assert!(s[0].may.union(&s[1].may).is_universe());
    assert!(s[0].may.intersect(&s[1].may).is_empty());
    assert!(s[2].may.is_subset(&s[0].may));
    assert!(
        s[3].may.is_empty(),
        "value bits outside the mask never match"
    );
    assert!(s[4].may.is_universe());
    let w = assert_witness(&ctx, &s[0].may.difference(&s[2].may));
    assert_eq!(w.mark & 0x4000, 0x4000);
    assert_ne!(w.mark, 0x4001);
}

#[test]
fn icmp_types() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p icmp -m icmp --icmp-type echo-req -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type echo-re -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type 3/3 -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type destination-unreachable -j ACCEPT",
            "-A INPUT -p icmp -m icmp ! --icmp-type any -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type 255/3 -j ACCEPT",
            "-A INPUT -p icmp -j ACCEPT",
        ],
    );
    assert!(s[0].may.same_as(&s[1].may));
    assert!(!s[2].is_exact(), "ambiguous abbreviation");
    assert!(s[3].may.is_subset(&s[4].may));
    assert!(s[5].may.is_empty());
    assert!(s[6].may.overlaps(&s[4].may), "type 255 is `any`");
    assert!(s[0].may.is_subset(&s[7].may));
    let w = assert_witness(&ctx, &s[4].may.difference(&s[3].may));
    assert_eq!((w.protocol, w.icmp_type), (1, 3));
    assert_ne!(w.icmp_code, 3);
}

#[test]
fn addrtype_and_iprange() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -m addrtype --dst-type LOCAL,BROADCAST -j ACCEPT",
            "-A INPUT -m addrtype ! --dst-type LOCAL -j ACCEPT",
            "-A INPUT -m iprange --src-range 10.0.0.10-10.0.0.20 -j ACCEPT",
            "-A INPUT -s 10.0.0.0/28 -j ACCEPT",
            "-A INPUT -m iprange --src-range 10.0.0.20-10.0.0.10 -j ACCEPT",
            "-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
        ],
    );
    let w = assert_witness(&ctx, &s[0].may.intersect(&s[1].may));
    assert_eq!(w.dst_type, AddrType::Broadcast);
    let inter = s[2].may.intersect(&s[3].may);
    assert_eq!(
        inter.bounds(Dim::Src),
        Some((v4("10.0.0.10"), v4("10.0.0.15")))
    );
    assert!(s[4].may.is_empty(), "a backwards range matches nothing");
    assert!(!s[5].is_exact());
}

#[test]
fn protocol_edge_cases() {
    let (_, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -p all -j ACCEPT",
            "-A INPUT -p tcp -j ACCEPT",
            "-A INPUT ! -p tcp -j ACCEPT",
            "-A INPUT -p tcp -m udp --dport 53 -j ACCEPT",
        ],
    );
    assert!(s[0].may.is_universe());
    assert!(s[1].may.union(&s[2].may).is_universe());
    assert!(s[1].may.intersect(&s[2].may).is_empty());
    assert!(!s[3].is_exact(), "`-m udp` needs `-p udp`");
}

#[test]
fn flat_rules_are_one_small_cube() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.1.2.3/32 -p tcp -m tcp --dport 443 -j ACCEPT",
            "-A INPUT -s 10.1.2.0/24 -p tcp -j DROP",
        ],
    );
    assert_eq!(s[0].may.cube_count(), 1);
    assert_eq!(
        s[0].may.cube_dims(),
        vec![vec![Dim::Src, Dim::Protocol, Dim::DstPort, Dim::Fragment]]
    );
    assert!(s[0].may.is_subset(&s[1].may));
    let rest = s[1].may.difference(&s[0].may);
    assert!(rest.cube_count() <= 4, "{rest:?}");
    assert!(!rest.contains(
        &ctx,
        &Packet {
            src: v4("10.1.2.3"),
            dport: 443,
            ..Packet::default()
        }
    ));
}

#[test]
fn compact_and_forget() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.0.0.0/25 -p tcp -j ACCEPT",
            "-A INPUT -s 10.0.0.128/25 -p tcp -j ACCEPT",
            "-A INPUT -s 10.0.0.0/24 -j ACCEPT",
        ],
    );
    let mut u = s[0].may.union(&s[1].may);
    u.compact();
    assert_eq!(u.cube_count(), 1);
    assert!(u.same_as(&s[2].may.restrict_range(Dim::Protocol, 6, 6)));
    assert!(u.forget(Dim::Protocol).same_as(&s[2].may));
    let mut pieces = ctx.universe();
    for p in [1u128, 2, 3, 4] {
        pieces = pieces.difference(&ctx.universe().restrict_range(Dim::DstPort, p, p));
    }
    pieces.compact();
    assert_eq!(pieces.cube_count(), 1);
}

#[test]
fn restrict_helpers() {
    let ctx = SpaceContext::new(Family::Ipv4, ["eth0", "lo"]);
    let a = ctx.universe().restrict_pattern(Dim::Mark, 0x10, 0x10);
    let b = ctx.universe().restrict_range(Dim::Mark, 0x10, 0x1f);
    assert!(b.is_subset(&a));
    assert!(!a.is_subset(&b));
    let lo = ctx.interface_set(Dim::InInterface, "lo").unwrap();
    assert!(lo.contains(
        &ctx,
        &Packet {
            in_interface: Some("lo".into()),
            ..Packet::default()
        }
    ));
    assert!(ctx.interface_set(Dim::InInterface, "wlan0").is_none());
    assert_eq!(ctx.empty().bounds(Dim::Src), None);
    assert_eq!(ctx.universe().bounds(Dim::DstPort), Some((0, 65535)));
}

#[test]
fn sets_are_small_values() {
    // Sets are kept per rule by the analyses: keep the handle small.
    assert!(std::mem::size_of::<PacketSet>() <= 32);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PacketSet>();
    send_sync::<MatchSpace>();
    send_sync::<SpaceContext>();
}

#[test]
fn a_flat_rule_is_a_few_hundred_bytes() {
    assert!(std::mem::size_of::<MatchSpace>() <= 40);
}

#[test]
fn volumes_rank_sets_by_how_many_packets_they_hold() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.0.0.0/8",
            "-A INPUT -s 10.0.0.0/9",
            "-A INPUT -m mark --mark 0x1/0x5",
        ],
    );
    let all = ctx.universe().log2_volume();
    let slash8 = s[0].must().log2_volume();
    let slash9 = s[1].must().log2_volume();
    // A /8 keeps 24 of the 32 source bits: 8 bits fewer than everything.
    assert!((all - slash8 - 8.0).abs() < 1e-9, "{all} {slash8}");
    assert!((slash8 - slash9 - 1.0).abs() < 1e-9, "{slash8} {slash9}");
    // A mark pattern fixing two bits: a quarter of all packets.
    assert!((all - s[2].must().log2_volume() - 2.0).abs() < 1e-9);
    // Two disjoint halves add up to the whole.
    let halves = s[1].must().union(&s[0].must().difference(s[1].must()));
    assert!((halves.log2_volume() - slash8).abs() < 1e-9);
    assert_eq!(ctx.empty().log2_volume(), f64::NEG_INFINITY);
}

#[test]
fn same_pieces_is_the_representation_not_the_set() {
    let (ctx, s) = spaces(
        Family::Ipv4,
        &[
            "-A INPUT -s 10.0.0.0/8",
            "-A INPUT -s 10.0.0.0/9",
            "-A INPUT -s 10.128.0.0/9",
        ],
    );
    let whole = &s[0].may;
    let halves = s[1].may.union(&s[2].may);
    // The same packets in two pieces instead of one.
    assert!(whole.same_as(&halves));
    assert!(!whole.same_pieces(&halves));
    assert!(whole.same_pieces(&whole.clone()));
    assert!(whole.same_pieces(&whole.intersect(&ctx.universe())));
}

/// `minus_all_along` is a difference: the same set as taking the parts
/// away one by one, whether it merges them along the key (few kinds of
/// parts) or takes the set apart by the key's intervals (many kinds: a port
/// per address), for parts that repeat, overlap elsewhere, or overlap on
/// the key (where only the first way applies).
#[test]
fn minus_all_along_is_the_difference() {
    let ctx = SpaceContext::new(Family::Ipv4, ["eth0"]);
    let base = v4("10.96.0.0");
    let part = |addr: u128, width: u128, proto: u128, port: Option<u128>| {
        let s = ctx
            .universe()
            .restrict_range(Dim::Dst, base + addr, base + addr + width)
            .restrict_range(Dim::Protocol, proto, proto);
        match port {
            Some(p) => s.restrict_range(Dim::DstPort, p, p),
            None => s,
        }
    };
    let regions = [
        ctx.universe(),
        ctx.universe().restrict_range(Dim::Protocol, 6, 6),
        ctx.universe()
            .restrict_range(Dim::Dst, base + 100, base + 900)
            .restrict_range(Dim::DstPort, 0, 8080),
    ];
    // (number of parts, a port per address, overlapping intervals)
    for (n, many_ports, overlapping) in [
        (40, false, false),
        (600, false, false),
        (600, true, false),
        (600, true, true),
    ] {
        let parts: Vec<PacketSet> = (0..n as u128)
            .map(|i| {
                let addr = 3 * (i % 400);
                let width = if overlapping && i % 7 == 0 { 5 } else { 0 };
                let proto = if i % 5 == 0 { 17 } else { 6 };
                let port = if many_ports {
                    Some(1000 + i)
                } else {
                    [Some(80), Some(443), None][(i % 3) as usize]
                };
                part(addr, width, proto, port)
            })
            .collect();
        for region in &regions {
            let fast = region.minus_all_along(Dim::Dst, &parts);
            let mut slow = region.clone();
            for p in &parts {
                slow = slow.difference(p);
            }
            assert!(
                fast.same_as(&slow),
                "{n} parts, many ports {many_ports}, overlapping {overlapping}"
            );
            // Its cubes are disjoint, as every set's are.
            let cubes = fast.parts();
            for (i, a) in cubes.iter().enumerate() {
                assert!(cubes[i + 1..].iter().all(|b| !a.overlaps(b)));
            }
        }
    }
}
