//! The parser on the constructs real dumps and hand-written files use.

use iptlint::codes;
use iptlint::model::{Family, JumpKind, Policy, Rule, TableName, TargetKind, Value};
use iptlint::syntax::{Parsed, parse};

fn parse4(text: &str) -> Parsed {
    parse(text, Some(Family::Ipv4))
}

fn codes_of(parsed: &Parsed) -> Vec<&'static str> {
    parsed.findings.iter().map(|f| f.lint.code).collect()
}

/// The single rule of the file's only user-visible chain with rules.
fn only_rule(parsed: &Parsed) -> &Rule {
    let rules: Vec<&Rule> = parsed
        .ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .collect();
    assert_eq!(rules.len(), 1, "expected one rule, got {rules:#?}");
    rules[0]
}

fn wrap(rule: &str) -> String {
    format!("*filter\n{rule}\nCOMMIT\n")
}

#[test]
fn tables_chains_policies_and_counters() {
    let p = parse4(
        "# saved\n*nat\n:PREROUTING ACCEPT [12:3456]\n:MY-CHAIN - [0:0]\nCOMMIT\n*filter\n:INPUT DROP [0:0]\nCOMMIT\n",
    );
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let nat = p.ruleset.table(TableName::Nat).unwrap();
    let pre = nat.chain("PREROUTING").unwrap();
    assert!(pre.builtin && pre.declared);
    assert_eq!(pre.policy, Some(Policy::Accept));
    assert_eq!(
        pre.counters().map(|c| (c.packets, c.bytes)),
        Some((12, 3456))
    );
    let user = nat.chain("MY-CHAIN").unwrap();
    assert!(!user.builtin && user.policy.is_none());
    assert_eq!(user.counters().map(|c| (c.packets, c.bytes)), Some((0, 0)));
    // OUTPUT was never declared: no counters, not `[0:0]`.
    assert_eq!(nat.chain("OUTPUT").unwrap().counters(), None);
    // The kernel gives every table its builtin chains.
    assert_eq!(nat.chains.iter().filter(|c| c.builtin).count(), 4);
    assert_eq!(
        p.ruleset
            .table(TableName::Filter)
            .unwrap()
            .chain("INPUT")
            .unwrap()
            .policy,
        Some(Policy::Drop)
    );
    assert_eq!(p.ruleset.comments.len(), 1);
}

#[test]
fn negation_before_the_option_and_the_old_form_after_it() {
    let p = parse4(&wrap("-A INPUT ! -s 10.0.0.0/8 -j DROP"));
    assert!(p.findings.is_empty());
    let src = only_rule(&p).source.as_ref().unwrap();
    assert!(src.negated);
    let old = parse4(&wrap("-A INPUT -s ! 10.0.0.0/8 -j DROP"));
    assert_eq!(codes_of(&old), vec![codes::OLD_NEGATION.code]);
    assert_eq!(
        only_rule(&old).source,
        only_rule(&p).source,
        "the old form means the same"
    );
}

#[test]
fn quoted_arguments_with_escapes_and_options_after_the_target() {
    let p = parse4(&wrap(
        r#"-A INPUT -m comment --comment "a \"b\" c" -j LOG --log-prefix "[FW] " -m limit --limit 3/min"#,
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let rule = only_rule(&p);
    assert_eq!(
        rule.match_option("comment", "--comment").unwrap().words[0].text,
        "a \"b\" c"
    );
    let target = rule.target.as_ref().unwrap();
    assert_eq!(target.name, "LOG");
    assert_eq!(
        target.option("--log-prefix").unwrap().words[0].text,
        "[FW] "
    );
    assert_eq!(
        rule.match_option("limit", "--limit").unwrap().words[0].text,
        "3/min"
    );
}

#[test]
fn single_quotes_are_an_error_only_around_spaces() {
    let spaced = parse4(&wrap("-A INPUT -m comment --comment 'a b' -j ACCEPT"));
    assert!(codes_of(&spaced).contains(&codes::SINGLE_QUOTE.code));
    // iptables-restore keeps `'word'` as it is, quotes included.
    let word = parse4(&wrap(
        "-A INPUT -m comment --comment 'dapp_Samba' -j ACCEPT",
    ));
    assert!(word.findings.is_empty());
    assert_eq!(
        only_rule(&word)
            .match_option("comment", "--comment")
            .unwrap()
            .words[0]
            .text,
        "'dapp_Samba'"
    );
}

#[test]
fn an_unterminated_quote_swallows_the_rest_of_the_line() {
    let p = parse4(&wrap(r#"-A INPUT -m comment --comment "ssh -j ACCEPT"#));
    assert_eq!(codes_of(&p), vec![codes::UNTERMINATED_QUOTE.code]);
    let rule = only_rule(&p);
    assert!(
        rule.target.is_none(),
        "the target is inside the comment, as iptables reads it"
    );
    // The newline too: iptables-restore reads the line with it (a `--log-prefix` or a
    // target name refuses it, a comment keeps it).
    assert_eq!(
        rule.match_option("comment", "--comment").unwrap().words[0].text,
        "ssh -j ACCEPT\n"
    );
}

#[test]
fn implicit_protocol_matches_multiport_and_ports() {
    let p = parse4(&wrap(
        "-A INPUT -p tcp --dport 1000:2000 -m multiport --sports 22,80:90 -j ACCEPT",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let rule = only_rule(&p);
    let tcp = rule.find_match("tcp").unwrap();
    assert!(tcp.implicit);
    let Value::Ports(ports) = &rule.match_option("tcp", "--dport").unwrap().value else {
        panic!()
    };
    assert_eq!((ports[0].lo, ports[0].hi), (1000, 2000));
    let Value::Ports(list) = &rule.match_option("multiport", "--sports").unwrap().value else {
        panic!()
    };
    assert_eq!(list.len(), 2);
    assert_eq!(rule.protocol.as_ref().unwrap().value.number, Some(6));
}

#[test]
fn port_and_address_errors_iptables_refuses() {
    for (rule, code) in [
        (
            "-A INPUT -p tcp --dport 70000 -j ACCEPT",
            codes::INVALID_VALUE.code,
        ),
        (
            "-A INPUT -p tcp --dport 5:3 -j ACCEPT",
            codes::INVALID_VALUE.code,
        ),
        ("-A INPUT -s 300.1.1.1 -j ACCEPT", codes::INVALID_VALUE.code),
        (
            "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15:16 -j ACCEPT",
            codes::INVALID_VALUE.code,
        ),
        (
            "-A INPUT -m state --state NEW,FOO -j ACCEPT",
            codes::INVALID_VALUE.code,
        ),
        (
            "-A INPUT --frobnicate -j ACCEPT",
            codes::UNKNOWN_OPTION.code,
        ),
        (
            "-A INPUT -m tcp --dport 22 -j ACCEPT",
            codes::OPTION_NEEDS_PROTOCOL.code,
        ),
        (
            "-A INPUT -m conntract --ctstate NEW -j ACCEPT",
            codes::UNKNOWN_EXTENSION.code,
        ),
    ] {
        let p = parse4(&wrap(rule));
        assert!(
            codes_of(&p).contains(&code),
            "{rule}: expected {code}, got {:?}",
            codes_of(&p)
        );
    }
}

#[test]
fn addresses_masks_ipv6_and_nat_ranges() {
    let p = parse4(&wrap(
        "-A INPUT -s 10.0.0.1/8 -d 10.0.0.0/255.0.255.0 -j ACCEPT",
    ));
    assert!(p.findings.is_empty());
    let rule = only_rule(&p);
    let Some(src) = rule.source.as_ref().unwrap().value[0].as_net() else {
        panic!()
    };
    assert!(src.has_host_bits());
    assert_eq!(src.prefix_len(), Some(8));
    let Some(dst) = rule.destination.as_ref().unwrap().value[0].as_net() else {
        panic!()
    };
    assert_eq!(dst.prefix_len(), None, "a non-contiguous mask");
    assert_eq!(dst.to_string(), "10.0.0.0/255.0.255.0");

    let v6 = parse(
        "*nat\n-A PREROUTING -s 2001:db8::/32 -p tcp --dport 80 -j DNAT --to-destination [fd00::1]:8080\nCOMMIT\n",
        None,
    );
    assert!(v6.findings.is_empty(), "{:?}", v6.findings);
    assert_eq!(v6.ruleset.family, Family::Ipv6);
    let Value::Nat(nat) = &only_rule(&v6)
        .target
        .as_ref()
        .unwrap()
        .option("--to-destination")
        .unwrap()
        .value
    else {
        panic!()
    };
    let nat = nat.range();
    assert_eq!(nat.addrs.unwrap().lo.to_string(), "fd00::1");
    assert_eq!(nat.ports.map(|p| (p.lo, p.hi)), Some((8080, 8080)));
}

#[test]
fn wrong_family_addresses_and_family_prefixes() {
    let p = parse(
        "*filter\n-A INPUT -s 192.0.2.1 -j ACCEPT\nCOMMIT\n",
        Some(Family::Ipv6),
    );
    assert_eq!(codes_of(&p), vec![codes::FAMILY_MISMATCH.code]);
    let shared = parse(
        "*filter\n-4 -A INPUT -s 192.0.2.1 -j ACCEPT\n-6 -A INPUT -s 2001:db8::1 -j ACCEPT\nCOMMIT\n",
        Some(Family::Ipv4),
    );
    assert!(shared.findings.is_empty(), "{:?}", shared.findings);
    assert_eq!(
        shared.ruleset.rule_count(),
        1,
        "the -6 rule is not for iptables"
    );
}

#[test]
fn insert_delete_replace_and_chain_commands() {
    let p = parse4(
        "*filter\n-N WEB\n-A WEB -p tcp --dport 80 -j ACCEPT\n-A WEB -p tcp --dport 8080 -j ACCEPT\n\
         -I WEB 2 -p tcp --dport 443 -j ACCEPT\n-D WEB -p tcp --dport 8080 -j ACCEPT\n-I INPUT -j WEB\n-P FORWARD DROP\nCOMMIT\n",
    );
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let filter = p.ruleset.table(TableName::Filter).unwrap();
    let ports: Vec<String> = filter
        .chain("WEB")
        .unwrap()
        .rules
        .iter()
        .map(|r| r.spec_text())
        .collect();
    assert_eq!(
        ports,
        vec![
            "-p tcp --dport 80 -j ACCEPT",
            "-p tcp --dport 443 -j ACCEPT"
        ]
    );
    let jump = &filter.chain("INPUT").unwrap().rules[0];
    assert_eq!(jump.jump_chain(), Some(("WEB", JumpKind::Jump)));
    assert_eq!(filter.chain("FORWARD").unwrap().policy, Some(Policy::Drop));
    let bad = parse4("*filter\n-A FORWARD -j ACCEPT\n-I FORWARD 3 -j DROP\nCOMMIT\n");
    assert_eq!(codes_of(&bad), vec![codes::RULE_POSITION.code]);
}

#[test]
fn goto_rules_without_target_counter_prefix_and_inline_values() {
    let p =
        parse4("*filter\n:X - [0:0]\n[5:300] -A INPUT -g X\n-A INPUT -p udp --dport=53\nCOMMIT\n");
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let input = p
        .ruleset
        .table(TableName::Filter)
        .unwrap()
        .chain("INPUT")
        .unwrap();
    assert_eq!(input.rules[0].counters().map(|c| c.packets), Some(5));
    let target = input.rules[0].target.as_ref().unwrap();
    assert_eq!(
        (target.jump, &target.kind, target.name.as_str()),
        (JumpKind::Goto, &TargetKind::Chain, "X")
    );
    assert!(input.rules[1].target.is_none());
    assert!(input.rules[1].match_option("udp", "--dport").is_some());
}

#[test]
fn every_syntax_error_of_a_file_is_reported_with_its_line() {
    let p = parse4(
        "*filter\n:INPUT\n-A\n  # indented comment\n-A INPUT -s\n \nCOMMIT\nCOMMIT\n*bogus\n",
    );
    let lines: Vec<u32> = p.findings.iter().map(|f| f.span.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 8, 9, 10], "{:#?}", p.findings);
    assert!(
        p.findings
            .iter()
            .all(|f| f.lint.code == codes::SYNTAX_ERROR.code)
    );
    assert_eq!(p.findings[1].message, "expected a chain name after `-A`");
    assert_eq!(
        p.findings[7].message,
        "the file ends without COMMIT for table `filter`"
    );
}

#[test]
fn crlf_files_are_read_and_reported_once() {
    let p = parse4("*filter\r\n-A INPUT -i lo -j ACCEPT\r\nCOMMIT\r\n");
    assert_eq!(codes_of(&p), vec![codes::CRLF_LINE.code]);
    assert_eq!(p.ruleset.rule_count(), 1);
    assert_eq!(only_rule(&p).in_interface().unwrap().value.name, "lo");
}

#[test]
fn a_table_given_twice_replaces_the_first() {
    let p = parse4(
        "*filter\n-A INPUT -s 192.0.2.1 -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -s 192.0.2.2 -j ACCEPT\nCOMMIT\n",
    );
    assert!(p.findings.is_empty());
    assert_eq!(p.ruleset.tables.len(), 1);
    assert_eq!(only_rule(&p).spec_text(), "-s 192.0.2.2/32 -j ACCEPT");
}

#[test]
fn spans_point_at_the_offending_word() {
    let text = wrap("-A INPUT -p tcp --dport 70000 -j ACCEPT");
    let p = parse4(&text);
    let f = &p.findings[0];
    assert_eq!((f.span.line, f.span.column), (2, 25));
    assert_eq!(&text[f.span.range()], "70000");
}

// Each case was loaded with the real iptables-restore 1.8.9.
#[test]
fn policy_and_checksum_options_take_their_arguments_as_getopt_does() {
    // `--dir` takes the next word even when it looks like an option: the
    // direction `--pol` is refused, and `none` is left a stray argument.
    let text = wrap("-A FORWARD -m policy --dir --pol none -j ACCEPT");
    let p = parse4(&text);
    let invalid = p
        .findings
        .iter()
        .find(|f| f.lint.code == codes::INVALID_VALUE.code)
        .expect("the direction is refused");
    assert_eq!(&text[invalid.span.range()], "--pol");
    assert!(codes_of(&p).contains(&codes::SYNTAX_ERROR.code));

    // `--strict` and `--next` take no argument: the words after them are
    // the element's options, read as such.
    let p = parse4(&wrap(
        "-A FORWARD -m policy --dir in --strict --proto esp --next --mode tunnel --tunnel-src 10.0.0.1 -j ACCEPT",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let m = only_rule(&p).find_match("policy").unwrap();
    let words: Vec<(&str, usize)> = m
        .options
        .iter()
        .map(|o| (o.name.as_str(), o.words.len()))
        .collect();
    assert_eq!(
        words,
        [
            ("--dir", 1),
            ("--strict", 0),
            ("--proto", 1),
            ("--next", 0),
            ("--mode", 1),
            ("--tunnel-src", 1)
        ]
    );

    // A word after `--checksum-fill` is a stray argument (Bad argument).
    let p = parse4("*mangle\n-A POSTROUTING -p udp -j CHECKSUM --checksum-fill x\nCOMMIT\n");
    assert_eq!(codes_of(&p), vec![codes::SYNTAX_ERROR.code]);
    assert!(p.findings[0].message.contains("unexpected argument `x`"));
}

// Each case was loaded with the real iptables-restore 1.8.9.
#[test]
fn abbreviated_options_are_read_as_getopt_reads_them() {
    // `--proto` is `--protocol`; `--dp` is not iptables' own, so the tcp
    // match is loaded and `--dp` is its `--dport`.
    let p = parse4(&wrap("-A INPUT --proto tcp --dp 22 -j ACCEPT"));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let rule = only_rule(&p);
    assert_eq!(rule.protocol.as_ref().unwrap().value.number, Some(6));
    let dport = rule.match_option("tcp", "--dport").unwrap();
    assert_eq!(dport.written(), "--dp");

    // After `-m multiport`, `--dport` abbreviates multiport's `--dports`.
    let p = parse4(&wrap(
        "-A INPUT -p tcp -m multiport --sports 1024:65535 --dport 80",
    ));
    assert_eq!(codes_of(&p), vec![codes::SYNTAX_ERROR.code]);
    assert!(only_rule(&p).match_option("tcp", "--dport").is_none());

    // ... unless a second multiport match is loaded: its options are the
    // same module's, and the newest instance takes them.
    let p = parse4(&wrap(
        "-A INPUT -p tcp -m multiport --sports 1024:65535 -m multiport --dport 80",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    assert_eq!(only_rule(&p).matches[1].options[0].name, "--dports");

    // An abbreviation of two options is refused.
    let p = parse4(&wrap("-A INPUT -m conntrack --ctst NEW -j ACCEPT"));
    assert!(codes_of(&p).contains(&codes::UNKNOWN_OPTION.code));
}

/// The rules of the file, in order, with the chain each is in.
fn rules_by_chain(parsed: &Parsed) -> Vec<(String, &Rule)> {
    parsed
        .ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| c.rules.iter().map(move |r| (c.name.to_string(), r)))
        .collect()
}

#[test]
fn commands_are_read_as_getopt_reads_them() {
    // A long command cut short, and a short one with its chain attached.
    let p = parse4(&wrap(
        ":INPUT ACCEPT [0:0]\n--new-c STAGE\n--app INPUT -j STAGE\n-ASTAGE -p tcp -j ACCEPT\n-4ISTAGE 1 -fj DROP",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let rules = rules_by_chain(&p);
    let chains: Vec<&str> = rules.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(chains, ["INPUT", "STAGE", "STAGE"]);
    assert!(rules[1].1.fragment().is_some(), "-4ISTAGE 1 -fj DROP is -I");
    assert!(matches!(
        rules[1].1.target.as_ref().unwrap().kind,
        TargetKind::Drop
    ));

    // `--del` is `--delete` or `--delete-chain`: refused.
    let p = parse4(&wrap(":INPUT ACCEPT [0:0]\n--del INPUT -j ACCEPT"));
    assert_eq!(codes_of(&p), vec![codes::SYNTAX_ERROR.code]);

    // After `-m policy`, `--pol` is the match's option, not `--policy`.
    let p = parse4(&wrap(
        ":FORWARD ACCEPT [0:0]\n-A FORWARD -m policy --dir in --pol none -j ACCEPT",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
}

#[test]
fn attached_arguments_of_rule_options_are_read_as_iptables_1_8_9_reads_them() {
    // `-g` and `-m` take the text after the letter ...
    let p = parse4(&wrap(
        ":INPUT ACCEPT [0:0]\n:STAGE - [0:0]\n-A INPUT -mcomment --comment x -gSTAGE",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let (_, rule) = &rules_by_chain(&p)[0];
    assert_eq!(rule.matches[0].module, "comment");
    assert_eq!(rule.target.as_ref().unwrap().jump, JumpKind::Goto);

    // ... `-p` and `-i` the whole word: protocol "-ptcp" is refused (with a
    // note saying why), interface "-ilo" loads.
    let p = parse4(&wrap(":INPUT ACCEPT [0:0]\n-A INPUT -ptcp -j ACCEPT"));
    assert_eq!(codes_of(&p), vec![codes::INVALID_VALUE.code]);
    let help = p.findings[0].help.as_deref().unwrap_or("");
    assert!(help.contains("`-p tcp`"), "{help}");
    let p = parse4(&wrap(":INPUT ACCEPT [0:0]\n-A INPUT -ilo -j ACCEPT"));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let in_interface = &only_rule(&p).in_interface().unwrap().value;
    assert_eq!(in_interface.name, "-ilo");

    // `-v` prints the rule and changes nothing.
    let p = parse4(&wrap(":INPUT ACCEPT [0:0]\n-A INPUT -vj ACCEPT --verb"));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
}

#[test]
fn ah_needs_its_protocol_in_ipv4_only() {
    let text = wrap(":INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m ah --ahspi 5 -j ACCEPT");
    let v4 = parse(&text, Some(Family::Ipv4));
    assert_eq!(codes_of(&v4), vec![codes::OPTION_NEEDS_PROTOCOL.code]);
    let v6 = parse(&text, Some(Family::Ipv6));
    assert!(v6.findings.is_empty(), "{:?}", v6.findings);
    // SPIs are 32-bit numbers or ranges of them (1.8.9 loads `4:3`).
    for (spi, findings) in [
        ("4:3", 0),
        (":", 0),
        ("0x10:", 0),
        ("-1", 1),
        ("4294967296", 1),
    ] {
        let text = wrap(&format!(
            ":INPUT ACCEPT [0:0]\n-A INPUT -p esp -m esp --espspi {spi} -j ACCEPT"
        ));
        assert_eq!(parse4(&text).findings.len(), findings, "--espspi {spi}");
    }
    // esp needs `-p esp` in both.
    let text = wrap(":INPUT ACCEPT [0:0]\n-A INPUT -m esp --espspi 5 -j ACCEPT");
    for family in [Family::Ipv4, Family::Ipv6] {
        let p = parse(&text, Some(family));
        assert_eq!(codes_of(&p), vec![codes::OPTION_NEEDS_PROTOCOL.code]);
    }
}

#[test]
fn service_names_are_looked_up_for_the_protocol_the_match_asks_for() {
    let ports = |rule: &str| {
        let p = parse4(&wrap(&format!(":INPUT ACCEPT [0:0]\n{rule}")));
        if !p.findings.is_empty() {
            return Err(codes_of(&p));
        }
        let (_, rule) = &rules_by_chain(&p)[0];
        match &rule.matches.last().unwrap().options[0].value {
            Value::Ports(list) => Ok(list.iter().map(|r| (r.lo, r.hi)).collect::<Vec<_>>()),
            other => panic!("not ports: {other:?}"),
        }
    };
    // The udp match takes a name of any protocol (exec is 512/tcp only) ...
    assert_eq!(ports("-A INPUT -p udp --dport exec"), Ok(vec![(512, 512)]));
    // ... the tcp and sctp matches and multiport only their protocol's.
    let refused = Err(vec![codes::INVALID_VALUE.code]);
    assert_eq!(ports("-A INPUT -p tcp --dport biff"), refused);
    assert_eq!(ports("-A INPUT -p tcp --dport exec"), Ok(vec![(512, 512)]));
    assert_eq!(ports("-A INPUT -p sctp --dport exec"), refused);
    assert_eq!(
        ports("-A INPUT -p udp -m multiport --dports domain,exec"),
        refused
    );
    assert_eq!(
        ports("-A INPUT -p udp -m multiport --dports domain,biff"),
        Ok(vec![(53, 53), (512, 512)])
    );
    // NAT targets read a name as the whole port part.
    let nat = |ports: &str| {
        parse4(&format!(
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j REDIRECT --to-ports {ports}\nCOMMIT\n"
        ))
        .findings
        .len()
    };
    assert_eq!(nat("ftp-data"), 0);
    assert_eq!(nat("0x14-0x15"), 0);
    assert_eq!(nat("ftp-2000"), 1);
    assert_eq!(nat("2000-1000"), 1);
}

#[test]
fn recent_refuses_what_iptables_and_the_kernel_refuse() {
    let codes = |options: &str| {
        codes_of(&parse4(&wrap(&format!(
            ":INPUT ACCEPT [0:0]\n-A INPUT -m recent {options} -j DROP"
        ))))
    };
    for bad in [
        "--set --rcheck",
        "--update --remove",
        "--set --rttl",
        "--remove --rttl",
        "--set --seconds 5",
        "--remove --hitcount 2",
        "--rcheck --reap",
        "--rcheck --seconds 0",
        "--rcheck --hitcount 65536",
        "--rcheck --name a/b",
        "--rcheck --name ..",
        "--rcheck --name \"\"",
    ] {
        assert_eq!(codes(bad).len(), 1, "{bad}: {:?}", codes(bad));
    }
    for good in [
        "--rcheck --seconds 5 --reap --hitcount 65535 --rttl",
        "--update --seconds 4294967295",
        "--set --hitcount 0 --rsource --rdest",
        "--remove --name ...",
    ] {
        assert!(codes(good).is_empty(), "{good}: {:?}", codes(good));
    }
}

#[test]
fn ulog_and_targets_iptables_no_longer_has() {
    let p = parse4(&wrap(":INPUT ACCEPT [0:0]\n-A INPUT -j ULOG"));
    assert_eq!(codes_of(&p), vec![codes::UNKNOWN_EXTENSION.code]);
    assert_eq!(p.findings[0].severity, iptlint::diagnostic::Severity::Error);
    // Linux 6.3 dropped CLUSTERIP, but older kernels still load it: a
    // warning, never an error a host on such a kernel would find false.
    let p = parse4(&wrap(
        ":INPUT ACCEPT [0:0]\n-A INPUT -d 10.0.0.1/32 -i eth0 -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5E:00:00:01 --total-nodes 2 --local-node 1",
    ));
    assert_eq!(codes_of(&p), vec![codes::UNKNOWN_EXTENSION.code]);
    assert_eq!(
        p.findings[0].severity,
        iptlint::diagnostic::Severity::Warning
    );
    // iptables 1.8.9 has no MIRROR: a jump to a chain of that name, which
    // may be declared.
    let p = parse4(&wrap(
        ":INPUT ACCEPT [0:0]\n:MIRROR - [0:0]\n-A INPUT -j MIRROR",
    ));
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let (_, rule) = &rules_by_chain(&p)[0];
    let target = rule.target.as_ref().unwrap();
    assert_eq!(
        (&target.kind, target.name.as_str()),
        (&TargetKind::Chain, "MIRROR")
    );
}

#[test]
fn chain_commands_refuse_words_they_do_not_take() {
    let codes = |line: &str| {
        codes_of(&parse4(&wrap(&format!(
            ":INPUT ACCEPT [0:0]\n:STAGE - [0:0]\n{line}"
        ))))
    };
    for bad in [
        "-Z INPUT INPUT",
        "-F INPUT x",
        "-X STAGE x",
        "-N OTHER x",
        "-P INPUT ACCEPT x",
        "-E STAGE OTHER x",
    ] {
        assert_eq!(codes(bad), vec![codes::SYNTAX_ERROR.code], "{bad}");
    }
    // `-N` of a chain the table has: Chain already exists.
    assert_eq!(codes("-N STAGE"), vec![codes::SYNTAX_ERROR.code]);
    assert_eq!(codes("-N INPUT"), vec![codes::SYNTAX_ERROR.code]);
    assert!(codes("-X STAGE\n-N STAGE").is_empty());
    for good in [
        "-Z INPUT",
        "-Z INPUT 1",
        "-F INPUT",
        "-P INPUT DROP",
        "-N OTHER",
    ] {
        assert!(codes(good).is_empty(), "{good}: {:?}", codes(good));
    }
    // A command cut short after a target or match whose options do not
    // start so is still the command.
    for good in [
        "-j ACCEPT --app=INPUT",
        "-m policy --dir in --pol none --app INPUT",
    ] {
        assert!(codes(good).is_empty(), "{good}: {:?}", codes(good));
    }
}
