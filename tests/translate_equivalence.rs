//! Merging rules into sets and maps must not change any packet's fate.
//!
//! * `merged_runs_are_disjoint_per_the_engine`: on generated dumps (kube-proxy
//!   style and random flat ones), every `set`/`vmap` merge the translator
//!   reports is checked with the packet-space engine, independently of the
//!   translator's own reasoning: each merged rule's match space is exact,
//!   the spaces are pairwise disjoint (so at most one rule of the run
//!   matches a packet), and a `set` merge shares one target.
//! * `real_packets_take_the_same_paths` (kernel): the original dump (loaded
//!   by `iptables-restore`), its rule-by-rule translation and its merged
//!   translation each get UDP packets to every UDP service and to addresses
//!   that are no service; conntrack says where each went. Every service
//!   packet must reach one of that service's endpoints, the others none,
//!   in all three.

mod support;
use support::gen_dump;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use iptlint::model::{Rule, Ruleset};
use iptlint::space::{SpaceContext, rule_match_space};
use iptlint::translate::{Options, translate};

fn parse(text: &str) -> Ruleset {
    let parsed = iptlint::syntax::parse(text, None);
    assert!(
        !parsed.findings.iter().any(|f| f.is_input_error()),
        "generated dump does not parse"
    );
    parsed.ruleset
}

/// Checks every reported merge with the engine; returns (sets, vmaps, numgens).
fn check_merges(text: &str) -> (usize, usize, usize) {
    let rs = parse(text);
    let ctx = SpaceContext::for_ruleset(&rs);
    let t = translate(
        &rs,
        text,
        &Options {
            merge: true,
            numgen: true,
            ..Options::default()
        },
    );
    let mut counts = (0, 0, 0);
    for m in &t.merges {
        let table = rs
            .tables
            .iter()
            .find(|tb| m.table.ends_with(&format!(" {}", tb.name)))
            .expect("merge names a table");
        let chain = table.chain(&m.chain).expect("merge names a chain");
        let run: Vec<&Rule> = chain
            .rules
            .iter()
            .filter(|r| (m.first_line..=m.last_line).contains(&r.span.line))
            .collect();
        assert_eq!(run.len(), m.rules, "{m:?}");
        match m.kind {
            "numgen" => {
                counts.2 += 1;
                continue;
            }
            "set" => counts.0 += 1,
            _ => counts.1 += 1,
        }
        let mut seen = ctx.empty();
        for r in &run {
            let space = rule_match_space(r, &ctx);
            assert!(
                space.is_exact(),
                "merged rule at line {} is not exact",
                r.span.line
            );
            assert!(
                !seen.overlaps(&space.may),
                "merged rule at line {} overlaps an earlier one of its run",
                r.span.line
            );
            seen = seen.union(&space.may);
            if m.kind == "set" {
                assert_eq!(r.target, run[0].target, "set merge with two targets: {m:?}");
            }
        }
    }
    counts
}

#[test]
fn merged_runs_are_disjoint_per_the_engine() {
    let kube = gen_dump(&["kube", "--services", "50", "--endpoints", "3"]);
    let (sets, vmaps, numgens) = check_merges(&kube);
    eprintln!("kube 50x3: {sets} set, {vmaps} vmap, {numgens} numgen merges checked");
    assert!(vmaps >= 1, "KUBE-SERVICES was not merged");
    assert!(numgens >= 1, "no statistic chain was merged");
    let kube2 = gen_dump(&[
        "kube",
        "--services",
        "40",
        "--endpoints",
        "2",
        "--seed",
        "7",
    ]);
    let (_, vmaps2, numgens2) = check_merges(&kube2);
    assert!(vmaps2 >= 1 && numgens2 >= 1);
    for seed in ["1", "2", "3"] {
        let flat = gen_dump(&["flat", "--rules", "400", "--seed", seed]);
        let (sets, vmaps, _) = check_merges(&flat);
        eprintln!("flat 400 seed {seed}: {sets} set, {vmaps} vmap merges checked");
    }
}

/// UDP services of a kube dump: (cluster IP, port) -> endpoints "ip:port".
fn udp_services(rs: &Ruleset) -> BTreeMap<(String, u16), BTreeSet<String>> {
    let nat = rs.tables.iter().find(|t| t.name.as_str() == "nat").unwrap();
    let mut out = BTreeMap::new();
    let Some(services) = nat.chain("KUBE-SERVICES") else {
        return out;
    };
    for r in &services.rules {
        let udp = r
            .protocol
            .as_ref()
            .is_some_and(|p| p.value.number == Some(17));
        let (Some(d), Some((svc, _)), true) = (&r.destination, r.jump_chain(), udp) else {
            continue;
        };
        let Some(port) = r
            .match_option("udp", "--dport")
            .and_then(|o| o.words.first())
        else {
            continue;
        };
        let ip = d.value[0].to_string().trim_end_matches("/32").to_string();
        let mut eps = BTreeSet::new();
        for sr in &nat.chain(svc).unwrap().rules {
            if let Some((sep, _)) = sr.jump_chain()
                && sep.starts_with("KUBE-SEP-")
            {
                for er in &nat.chain(sep).unwrap().rules {
                    if let Some(o) = er
                        .target
                        .as_ref()
                        .and_then(|t| t.option("--to-destination"))
                    {
                        eps.insert(o.words[0].text.to_string());
                    }
                }
            }
        }
        out.insert((ip, port.text.parse().unwrap()), eps);
    }
    out
}

/// Loads with `load` (a shell command on "$1"), sends one UDP packet per
/// destination from a pod address, and returns destination -> where conntrack
/// says it went.
fn paths(load: &str, file: &Path, dests: &[(String, u16)]) -> BTreeMap<String, String> {
    let sender = "import socket,sys\nfor d in sys.argv[1:]:\n    ip,port=d.rsplit(':',1)\n    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n    s.bind(('10.244.0.5',0))\n    s.sendto(b'x',(ip,int(port)))\n    s.close()\n";
    let args: Vec<String> = dests.iter().map(|(ip, p)| format!("{ip}:{p}")).collect();
    let script = format!(
        "ip link set lo up && ip route add local 0.0.0.0/0 dev lo table local && {load} && \
         python3 -c \"$2\" {} && cat /proc/net/nf_conntrack",
        args.join(" ")
    );
    let sender_path = std::env::temp_dir().join("iptlint-translate-sender.py");
    std::fs::write(&sender_path, sender).unwrap();
    let out = support::kernel::in_netns(
        &script.replace("python3 -c \"$2\"", "python3 \"$2\""),
        &[file, &sender_path],
    );
    assert!(
        out.status.success(),
        "{}",
        support::kernel::stderr_summary(&out)
    );
    let mut went = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let get = |key: &str, nth: usize| {
            f.iter()
                .filter_map(|w| w.strip_prefix(key))
                .nth(nth)
                .unwrap_or("")
                .to_string()
        };
        let dst = format!("{}:{}", get("dst=", 0), get("dport=", 0));
        let to = format!("{}:{}", get("src=", 1), get("sport=", 1));
        went.insert(dst, to);
    }
    went
}

#[test]
fn real_packets_take_the_same_paths() {
    if let Err(why) = support::kernel::tools(&["nft", "iptables-restore", "python3", "ip"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let text = gen_dump(&[
        "kube",
        "--services",
        "60",
        "--endpoints",
        "3",
        "--seed",
        "3",
    ]);
    let rs = parse(&text);
    let services = udp_services(&rs);
    assert!(
        services.len() >= 3,
        "too few UDP services: {}",
        services.len()
    );
    let mut dests: Vec<(String, u16)> = services.keys().cloned().collect();
    dests.push(("10.9.9.9".into(), 53));
    dests.push(("10.96.0.10".into(), 5353));
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("kube.v4");
    std::fs::write(&dump, &text).unwrap();
    for (name, load, file) in [
        (
            "iptables",
            "iptables-restore < \"$1\"".to_string(),
            dump.clone(),
        ),
        ("merged", "nft -f \"$1\"".to_string(), {
            let p = dir.path().join("merged.nft");
            let t = translate(
                &rs,
                &text,
                &Options {
                    merge: true,
                    ..Options::default()
                },
            );
            assert!(t.merges.iter().any(|m| m.kind == "vmap"));
            std::fs::write(&p, &t.script).unwrap();
            p
        }),
        ("merged with numgen", "nft -f \"$1\"".to_string(), {
            let p = dir.path().join("numgen.nft");
            let opts = Options {
                merge: true,
                numgen: true,
                ..Options::default()
            };
            let t = translate(&rs, &text, &opts);
            assert!(t.merges.iter().any(|m| m.kind == "numgen"));
            std::fs::write(&p, &t.script).unwrap();
            p
        }),
        ("rule by rule", "nft -f \"$1\"".to_string(), {
            let p = dir.path().join("plain.nft");
            std::fs::write(&p, translate(&rs, &text, &Options::default()).script).unwrap();
            p
        }),
    ] {
        let went = paths(&load, &file, &dests);
        for ((ip, port), eps) in &services {
            let key = format!("{ip}:{port}");
            let to = went
                .get(&key)
                .unwrap_or_else(|| panic!("{name}: no conntrack entry for {key}"));
            assert!(
                eps.contains(to),
                "{name}: {key} went to {to}, not one of {eps:?}"
            );
        }
        for key in ["10.9.9.9:53", "10.96.0.10:5353"] {
            assert_eq!(
                went.get(key).map(String::as_str),
                Some(key),
                "{name}: {key} was rewritten"
            );
        }
        eprintln!(
            "{name}: {} service packets reached an endpoint of their service",
            services.len()
        );
    }
}
