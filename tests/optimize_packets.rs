//! Real packets: each IPv4 fixture is loaded into a private network
//! namespace, once as written and once optimized (after `ipset restore` of
//! its sets), and the same few hundred TCP and UDP packets are sent to local
//! addresses over loopback (`probe/probe.py`, raw sockets). A packet's fate
//! is whether it got through INPUT (a raw socket sees it delivered); the two
//! rule sets must let the same packets through. Skips (with a message)
//! without root, `unshare`, `ip`, `python3` or the iptables tools.

mod support;
use support::gen_dump;

use std::path::{Path, PathBuf};

use iptlint::model::Family;
use iptlint::optimize::{Options, optimize, sets::restore_script};
use support::kernel;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optimize")
}

/// Every probe line: sources the fixtures name (and others), two local
/// destinations, TCP and UDP, the ports the fixtures name and others.
fn probes() -> String {
    let sources = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.8",
        "10.0.1.5",
        "10.1.0.1",
        "10.200.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "203.0.113.1",
    ];
    let mut out = String::new();
    for src in sources {
        for dst in ["10.99.0.1", "10.0.0.7"] {
            for proto in [6, 17] {
                for dport in [20, 22, 25, 36, 53, 80, 443, 1500, 9999] {
                    out.push_str(&format!("{src} {dst} {proto} 40000 {dport}\n"));
                }
            }
        }
    }
    out
}

/// The probes that got through, with `rules` (and `sets`) loaded.
fn delivered(rules: &Path, sets: Option<&Path>, probes: &Path) -> Vec<String> {
    let load_sets = if sets.is_some() {
        "ipset restore < \"$4\" &&"
    } else {
        ""
    };
    let script = format!(
        "ip link set lo up && ip addr add 10.99.0.1/32 dev lo && ip addr add 10.0.0.7/32 dev lo \
         && {load_sets} iptables-restore < \"$1\" && python3 \"$2\" < \"$3\""
    );
    let probe = fixtures().join("probe/probe.py");
    let mut args = vec![rules, probe.as_path(), probes];
    if let Some(s) = sets {
        args.push(s);
    }
    let out = kernel::in_netns(&script, &args);
    assert!(
        out.status.success(),
        "{}: {}",
        rules.display(),
        kernel::stderr_summary(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn optimized_rules_let_the_same_packets_through() {
    if let Err(why) = kernel::tools(&["iptables-restore", "ipset", "ip", "python3"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let probe_file = tmp.path().join("probes");
    std::fs::write(&probe_file, probes()).unwrap();
    let total = probes().lines().count();
    let mut informative = 0;
    for name in ["blocked.rules", "dead.rules", "lists.rules", "ports.rules"] {
        let path = fixtures().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let input = iptlint::syntax::parse(&text, Some(Family::Ipv4)).ruleset;
        let want = delivered(&path, None, &probe_file);
        for remove_dead in [false, true] {
            let result = optimize(
                &input,
                &Options {
                    ipsets: true,
                    remove_dead,
                },
            );
            let out = tmp.path().join("out.rules");
            let sets = tmp.path().join("out.sets");
            std::fs::write(&out, result.ruleset.to_string()).unwrap();
            std::fs::write(&sets, restore_script(&result.sets)).unwrap();
            let got = delivered(&out, Some(&sets), &probe_file);
            assert_eq!(
                got, want,
                "{name} (remove-dead {remove_dead}): different packets got through"
            );
        }
        println!("{name}: {} of {total} probes got through", want.len());
        if !want.is_empty() && want.len() < total {
            informative += 1;
        }
    }
    // Every fixture lets some packets through and stops others: the probes
    // tell the rule sets apart from "accept all" and "drop all".
    assert_eq!(informative, 4);
}

#[test]
fn the_flat_generator_dump_lets_the_same_packets_through_its_sets() {
    if let Err(why) = kernel::tools(&["iptables-restore", "ipset", "ip", "python3"]) {
        eprintln!("skipping: {why}");
        return;
    }
    // Without its `-i lo -j ACCEPT` (the probes travel over loopback).
    let text: String = gen_dump(&["flat", "--rules", "2000"])
        .lines()
        .filter(|l| *l != "-A INPUT -i lo -j ACCEPT")
        .map(|l| format!("{l}\n"))
        .collect();
    let input = iptlint::syntax::parse(&text, Some(Family::Ipv4)).ruleset;
    // Probes from the rules themselves: each sampled rule's source and port,
    // the next port, and UDP to the same port.
    let mut probes = String::new();
    let chain = input.tables[0].chain("INPUT").unwrap();
    for rule in chain.rules.iter().step_by(7) {
        let (Some(src), Some(port)) = (&rule.source, rule.match_option("tcp", "--dport")) else {
            continue;
        };
        let src = src.value[0].to_string();
        let src = src.trim_end_matches("/32");
        let iptlint::model::Value::Ports(p) = &port.value else {
            continue;
        };
        let port = p[0].lo;
        for (proto, dport) in [(6, port), (6, port.wrapping_add(1)), (17, port)] {
            probes.push_str(&format!("{src} 10.99.0.1 {proto} 40000 {dport}\n"));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let probe_file = tmp.path().join("probes");
    std::fs::write(&probe_file, &probes).unwrap();
    let orig = tmp.path().join("in.rules");
    std::fs::write(&orig, &text).unwrap();
    let want = delivered(&orig, None, &probe_file);
    let result = optimize(
        &input,
        &Options {
            ipsets: true,
            remove_dead: false,
        },
    );
    assert!(result.after.rules < 30, "{} rules left", result.after.rules);
    let out = tmp.path().join("out.rules");
    let sets = tmp.path().join("out.sets");
    std::fs::write(&out, result.ruleset.to_string()).unwrap();
    std::fs::write(&sets, restore_script(&result.sets)).unwrap();
    let got = delivered(&out, Some(&sets), &probe_file);
    let total = probes.lines().count();
    println!("flat 2000: {} of {total} probes got through", want.len());
    assert!(total > 600 && !want.is_empty() && want.len() < total);
    assert_eq!(got, want, "different packets got through");
}
