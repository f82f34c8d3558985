//! Unit tests of the nft reader: each construct against the iptables rules
//! it stands for (the model compares content, not spans), and refusals.

use super::*;
use crate::model::Rule;

fn nft_file(rules: &str) -> String {
    format!(
        "table ip filter {{\n\tchain INPUT {{\n\t\ttype filter hook input priority 0; policy accept;\n{rules}\n\t}}\n\tchain C {{\n\t}}\n}}\n"
    )
}

fn nft_rules(rules: &str) -> Vec<Rule> {
    let parsed = parse(&nft_file(rules));
    assert!(parsed.findings.is_empty(), "{rules}: {:?}", parsed.findings);
    let t = parsed.ruleset.table(TableName::Filter).expect("filter");
    t.chain("INPUT").expect("INPUT").rules.to_vec()
}

fn ipt_rules(specs: &[&str]) -> Vec<Rule> {
    let mut text = "*filter\n:INPUT ACCEPT [0:0]\n:C - [0:0]\n".to_string();
    for s in specs {
        text.push_str(&format!("-A INPUT {s}\n"));
    }
    text.push_str("COMMIT\n");
    let parsed = crate::syntax::parse(&text, Some(Family::Ipv4));
    assert!(
        parsed.findings.iter().all(|f| !f.is_input_error()),
        "{specs:?}: {:?}",
        parsed.findings
    );
    let t = parsed.ruleset.table(TableName::Filter).expect("filter");
    t.chain("INPUT").expect("INPUT").rules.to_vec()
}

use crate::model::TableName;

#[test]
fn constructs_read_as_the_iptables_rules_they_mean() {
    let cases: &[(&str, &[&str])] = &[
        (
            "ip saddr 10.0.0.0/8 tcp dport 22 accept",
            &["-s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT"],
        ),
        (
            "iifname != \"lo\" ip saddr 127.0.0.0/8 drop",
            &["! -i lo -s 127.0.0.0/8 -j DROP"],
        ),
        ("iifname \"veth*\" accept", &["-i veth+ -j ACCEPT"]),
        (
            "tcp dport { 80, 443, 1000-2000 } accept",
            &["-p tcp -m multiport --dports 80,443,1000:2000 -j ACCEPT"],
        ),
        (
            "meta l4proto udp th dport != 53 drop",
            &["-p udp -m udp ! --dport 53 -j DROP"],
        ),
        (
            "ct state related,established accept",
            &["-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"],
        ),
        (
            "ct state ! related,established drop",
            &["-m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP"],
        ),
        (
            "ct status ! dnat drop",
            &["-m conntrack ! --ctstate INVALID,UNTRACKED -m conntrack ! --ctstate DNAT -j DROP"],
        ),
        (
            "meta mark & 0x4000 == 0x4000 accept",
            &["-m mark --mark 0x4000/0x4000 -j ACCEPT"],
        ),
        ("ct mark 0x1 accept", &["-m connmark --mark 0x1 -j ACCEPT"]),
        (
            "tcp flags & (fin|syn|rst|ack) == syn drop",
            &["-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP"],
        ),
        (
            "tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 drop",
            &["-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP"],
        ),
        (
            "tcp flags syn / fin,syn,rst,ack drop",
            &["-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP"],
        ),
        (
            "meta mark and 0xff == 0x1 accept",
            &["-m mark --mark 0x1/0xff -j ACCEPT"],
        ),
        (
            "meta mark set mark and 0xffff0000 xor 0x1",
            &["-j MARK --set-xmark 0x1/0xffff"],
        ),
        (
            "fib daddr type local jump C",
            &["-m addrtype --dst-type LOCAL -j C"],
        ),
        (
            "icmp type 3 icmp code 4 accept",
            &["-p icmp -m icmp --icmp-type 3/4 -j ACCEPT"],
        ),
        (
            "meta random & 2147483647 < 1073741824 goto C",
            &["-m statistic --mode random --probability 0.50000000000 -g C"],
        ),
        ("ip frag-off & 0x1fff != 0 drop", &["-f -j DROP"]),
        ("ip frag-off & 0x1fff == 0 return", &["! -f -j RETURN"]),
        (
            "ip saddr 10.0.0.1-10.0.0.9 drop",
            &["-m iprange --src-range 10.0.0.1-10.0.0.9 -j DROP"],
        ),
        (
            "ip saddr != { 10.0.0.0/8, 192.0.2.1 } drop",
            &[
                "-m iprange ! --src-range 10.0.0.0-10.255.255.255 -m iprange ! --src-range 192.0.2.1-192.0.2.1 -j DROP",
            ],
        ),
        (
            "ip saddr { 10.0.0.1, 10.0.0.2 } jump C",
            &["-s 10.0.0.1 -j C", "-s 10.0.0.2 -j C"],
        ),
        (
            "ip daddr . meta l4proto . th dport vmap { 10.0.0.1 . tcp . 443 : jump C, 10.0.0.2 . udp . 53 : drop }",
            &[
                "-d 10.0.0.1 -p tcp -m tcp --dport 443 -j C",
                "-d 10.0.0.2 -p udp -m udp --dport 53 -j DROP",
            ],
        ),
        (
            "meta mark set meta mark | 0x4000",
            &["-j MARK --set-xmark 0x4000/0x4000"],
        ),
        (
            "meta mark set meta mark & 0xffffbfff",
            &["-j MARK --set-xmark 0x0/0x4000"],
        ),
        ("ct mark set meta mark", &["-j CONNMARK --save-mark"]),
        (
            "limit rate 10/minute burst 20 packets log prefix \"drop: \" level warn",
            &[
                "-m limit --limit 10/min --limit-burst 20 -j LOG --log-prefix \"drop: \" --log-level warning",
            ],
        ),
        (
            "ip saddr 192.0.2.1 counter log prefix \"x\" drop comment \"why\"",
            &[
                "-s 192.0.2.1 -m comment --comment why -j LOG --log-prefix x",
                "-s 192.0.2.1 -m comment --comment why -j DROP",
            ],
        ),
        (
            "tcp dport 25 reject with tcp reset",
            &["-p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset"],
        ),
        ("reject", &["-j REJECT --reject-with icmp-port-unreachable"]),
        (
            "udp dport 123 notrack",
            &["-p udp -m udp --dport 123 -j CT --notrack"],
        ),
        (
            "meta pkttype broadcast drop",
            &["-m pkttype --pkt-type broadcast -j DROP"],
        ),
        ("ip ttl 64 accept", &["-m ttl --ttl-eq 64 -j ACCEPT"]),
        ("ip ttl != 1 drop", &["-m ttl ! --ttl-eq 1 -j DROP"]),
        ("ip ttl > 200 drop", &["-m ttl --ttl-gt 200 -j DROP"]),
        ("ip ttl < 2 drop", &["-m ttl --ttl-lt 2 -j DROP"]),
    ];
    for (nft, ipt) in cases {
        assert_eq!(nft_rules(&format!("\t\t{nft}")), ipt_rules(ipt), "{nft}");
    }
}

#[test]
fn nat_statements() {
    let text = "table ip nat {\n\tchain PREROUTING {\n\t\ttype nat hook prerouting priority -100; policy accept;\n\t\tip protocol tcp dnat to 10.0.0.1:8080\n\t}\n\tchain POSTROUTING {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tmasquerade fully-random\n\t\tip saddr 10.0.0.0/8 snat to 192.0.2.1-192.0.2.9\n\t}\n}\n";
    let parsed = parse(text);
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let ipt = crate::syntax::parse(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:8080\n-A POSTROUTING -j MASQUERADE --random-fully\n-A POSTROUTING -s 10.0.0.0/8 -j SNAT --to-source 192.0.2.1-192.0.2.9\nCOMMIT\n",
        Some(Family::Ipv4),
    );
    let (a, b) = (
        parsed.ruleset.table(TableName::Nat).unwrap(),
        ipt.ruleset.table(TableName::Nat).unwrap(),
    );
    for chain in ["PREROUTING", "POSTROUTING"] {
        assert_eq!(a.chain(chain).unwrap().rules, b.chain(chain).unwrap().rules);
    }
}

#[test]
fn spans_point_at_the_nft_text() {
    let text =
        nft_file("\t\tip daddr vmap {\n\t\t\t10.0.0.1 : accept,\n\t\t\t10.0.0.2 : drop\n\t\t}");
    let parsed = parse(&text);
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let rules = &parsed
        .ruleset
        .table(TableName::Filter)
        .unwrap()
        .chain("INPUT")
        .unwrap()
        .rules;
    // One rule per element, each at its element's line.
    assert_eq!(rules.len(), 2);
    assert_eq!((rules[0].span.line, rules[1].span.line), (5, 6));
    assert_eq!(&text[rules[1].span.range()], "10.0.0.2 : drop");
    // The policy of a base chain: the line that sets it.
    let input = parsed
        .ruleset
        .table(TableName::Filter)
        .unwrap()
        .chain("INPUT")
        .unwrap();
    assert_eq!(input.span.line, 3);
}

fn refusal(rules: &str) -> Finding {
    let parsed = parse(&nft_file(rules));
    assert_eq!(parsed.findings.len(), 1, "{rules}: {:?}", parsed.findings);
    parsed.findings[0].clone()
}

#[test]
fn what_is_not_exact_is_refused() {
    for (rule, needle) in [
        // Two elements overlap: one rule each would jump twice.
        ("ip saddr { 10.0.0.0/8, 10.1.0.0/16 } jump C", "overlap"),
        // A statement changes what the rule tests.
        ("meta mark 0x1 meta mark set 0x2 accept", "changes a field"),
        // A stateful match with a set: evaluated once per element.
        (
            "limit rate 5/second ip saddr { 10.0.0.1, 10.0.0.2 } accept",
            "stateful",
        ),
        // A set on a mark with a jump.
        ("meta mark { 0x1, 0x2 } jump C", "mark or conntrack"),
        ("ip6 saddr ::1 accept", "other family"),
        ("tcp dport 22 synproxy", "synproxy"),
        ("jump NOWHERE", "not in this table"),
        ("meta skuid != 1000 accept", "negated"),
        ("th dport 22 accept", "`th` needs"),
        ("ip ttl >= 2 drop", "operator `>=`"),
        ("ip ttl 256 drop", "up to 255"),
        ("ip6 hoplimit 255 accept", "other family"),
        (
            "ip saddr 10.0.0.1 accept ip daddr 10.0.0.2",
            "follow the verdict",
        ),
    ] {
        let f = refusal(&format!("\t\t{rule}"));
        assert!(f.message.contains(needle), "{rule}: {}", f.message);
        assert_eq!(f.span.line, 4, "{rule}");
    }
}

#[test]
fn base_chains_choose_the_table() {
    let bad = [
        "table ip filter {\n chain X { type filter hook input priority 10; }\n}\n",
        "table ip filter {\n chain X { type nat hook input priority 0; }\n}\n",
        "table ip a {\n chain X { type filter hook input priority 0; }\n}\ntable ip b {\n chain Y { type filter hook input priority filter; }\n}\n",
        "table ip a {\n chain X { type filter hook input priority 0; }\n chain Y { type filter hook prerouting priority raw; }\n}\n",
        "table inet a {\n chain X { type filter hook input priority 0; }\n}\n",
    ];
    for text in bad {
        let parsed = parse(text);
        assert_eq!(parsed.findings.len(), 1, "{text}");
        assert!(parsed.findings[0].span.line >= 1);
    }
    // Any table name; hand-written chain names; priority names.
    let parsed = parse(
        "table ip fw {\n\tchain in {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tjump mine\n\t}\n\tchain mine {\n\t\taccept\n\t}\n}\n",
    );
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let t = parsed.ruleset.table(TableName::Filter).unwrap();
    assert_eq!(t.chain("INPUT").unwrap().policy, Some(Policy::Drop));
    assert_eq!(
        t.chain("INPUT").unwrap().rules[0].jump_chain().unwrap().0,
        "mine"
    );
}

#[test]
fn scripts_apply_in_order() {
    let parsed = parse(
        "#!/usr/sbin/nft -f\nflush ruleset\nadd table ip filter\nadd chain ip filter INPUT { type filter hook input priority 0; policy accept; }\nadd rule ip filter INPUT tcp dport 22 drop\nflush chain ip filter INPUT\nadd rule ip filter INPUT tcp dport 23 drop\ninsert rule ip filter INPUT tcp dport 24 drop\n",
    );
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let rules = &parsed
        .ruleset
        .table(TableName::Filter)
        .unwrap()
        .chain("INPUT")
        .unwrap()
        .rules;
    assert_eq!(
        rules,
        &ipt_rules(&[
            "-p tcp -m tcp --dport 24 -j DROP",
            "-p tcp -m tcp --dport 23 -j DROP"
        ])
    );
}

#[test]
fn numgen_stays_unknown() {
    let rules = nft_rules("\t\tnumgen random mod 2 vmap { 0 : jump C, 1 : accept }");
    assert_eq!(rules.len(), 2);
    for r in &rules {
        assert!(!r.matches[0].modelled, "{r:?}");
    }
}

#[test]
fn the_format_is_told_by_content_or_extension() {
    assert!(looks_like_nft("# x\n\ntable ip filter {\n}\n", None));
    assert!(looks_like_nft("#!/usr/sbin/nft -f\n", None));
    assert!(looks_like_nft("flush ruleset\n", None));
    assert!(looks_like_nft("", Some(Path::new("a.nft"))));
    assert!(!looks_like_nft(
        "# Generated by iptables-save\n*filter\n",
        None
    ));
    assert!(!looks_like_nft(
        "*filter\nCOMMIT\n",
        Some(Path::new("a.rules"))
    ));
}
