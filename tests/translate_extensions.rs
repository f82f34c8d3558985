//! `iptlint translate` on the extensions read from their raw words
//! (src/translate/ext.rs): the exact nft text of the tricky value forms, the
//! reasons of the deliberate declines, and (as root, in a private network
//! namespace; skipped otherwise) that the kernel takes both the iptables
//! original and the nft translation, and what `nft` lists for the times.

mod support;

use std::fs;
use std::process::Command;

use support::kernel;

/// `(rule, the nft rule text expected)`; an expected text starting with
/// `!` is a part of the reason the rule is declined with.
type Case = (&'static str, &'static str);

const V4_FILTER: &[Case] = &[
    (
        "-A INPUT -m ecn --ecn-ip-ect 2 -j ACCEPT",
        "ip ecn 2 accept",
    ),
    ("-A INPUT -m ecn ! --ecn-ip-ect 3", "ip ecn != 3"),
    (
        "-A INPUT -p tcp -m tcp --dport 80 -m ecn --ecn-tcp-ece ! --ecn-tcp-cwr -j DROP",
        "tcp dport 80 tcp flags & (ecn) == ecn tcp flags & (cwr) == 0x0 drop",
    ),
    // Without `-m tcp` xt_ecn reads later fragments as TCP headers.
    (
        "-A INPUT -p tcp -m ecn --ecn-tcp-ece -j DROP",
        "!reads a later fragment's payload as a TCP header",
    ),
    // mktime rolls 30 February over to 1 March; the stop second is whole.
    (
        "-A INPUT -m time --datestart 2020-02-30T12:00 --datestop 2020-03-02 -j DROP",
        "meta time >= 1583064000 meta time < 1583107201 drop",
    ),
    // The default (and iptables-save's) last date is INT_MAX.
    (
        "-A INPUT -m time --timestart 22:00 --timestop 02:00 --datestop 2038-01-19T03:14:07 -j DROP",
        "meta time < 2147483648 meta hour != 7201-79199 drop",
    ),
    // start == stop: xt_time rejects no time of day.
    (
        "-A INPUT -m time --timestart 12:00 --timestop 12:00 -j DROP",
        "meta time < 2147483648 drop",
    ),
    (
        "-A INPUT -m time --weekdays Sa,Su -j DROP",
        "!kernel's time zone (sys_tz)",
    ),
    (
        "-A INPUT -m time --timestart 12:00 --kerneltz -j DROP",
        "!`--kerneltz` counts time in the kernel's time zone",
    ),
    (
        "-A INPUT -m time --datestart 2021 --datestop 2020 -j DROP",
        "!matches no packet",
    ),
    (
        "-A INPUT -m realm --realm 0x10/0xf0",
        "meta rtclassid & 0xf0 == 0x10",
    ),
    // `!` swaps the bounds: outside 0..600 is above 600.
    (
        "-A OUTPUT -m connbytes ! --connbytes 0:600 --connbytes-dir reply --connbytes-mode bytes",
        "ct reply bytes > 600",
    ),
    // Equal bounds stay equal under `!` (the kernel sees to >= from).
    (
        "-A OUTPUT -m connbytes ! --connbytes 7:7 --connbytes-dir original --connbytes-mode packets",
        "ct original packets 7",
    ),
    (
        "-A OUTPUT -m connbytes --connbytes 0:10 --connbytes-dir both --connbytes-mode avgpkt",
        "!a connection without counters",
    ),
    (
        "-A INPUT -p dccp -m dccp ! --dccp-types RESET,invalid -j DROP",
        "dccp type != { reset, 10 } drop",
    ),
    ("-A INPUT -j AUDIT --type drop", "log level audit"),
    (
        "-A INPUT -m connlabel --label 3 -j ACCEPT",
        "ct label 3 accept",
    ),
    (
        "-A INPUT -m quota --quota 1000",
        "!no nft text is exact on every kernel",
    ),
];

const V4_MANGLE: &[Case] = &[
    (
        "-A POSTROUTING -j TOS --set-tos 0x10/0xff",
        "ip dscp set 0x4 ip ecn set 0x0",
    ),
    (
        "-A POSTROUTING -j TOS --set-tos 0x02/0x03",
        "ip ecn set 0x2",
    ),
    ("-A POSTROUTING -j TOS --or-tos 0xfc", "ip dscp set 0x3f"),
    (
        "-A POSTROUTING -j TOS --and-tos 0x12",
        "!part of the dscp bits",
    ),
    (
        "-A POSTROUTING -j TOS --xor-tos 0x01",
        "!part of the ecn bits",
    ),
];

const V6_FILTER: &[Case] = &[
    (
        "-A INPUT -m frag --fragres -j DROP",
        "frag reserved 0 frag reserved2 0 drop",
    ),
    (
        "-A INPUT -m frag --fragfirst --fragmore -j DROP",
        "frag frag-off 0 frag more-fragments 1 drop",
    ),
    ("-A INPUT -m frag ! --fragid 5 -j DROP", "frag id != 5 drop"),
    ("-A INPUT -m frag -j DROP", "exthdr frag exists drop"),
    ("-A INPUT -m ecn --ecn-ip-ect 1", "ip6 ecn 1"),
    (
        "-A INPUT -m rt --rt-type 0 -j DROP",
        "!never matches a header longer than the packet",
    ),
];

const V6_MANGLE: &[Case] = &[
    (
        "-A PREROUTING -j TEE --gateway 2001:db8::1",
        "dup to 2001:db8::1",
    ),
    (
        "-A PREROUTING -j TEE --gateway 2001:db8::1 --oif eth0",
        "!binds the index",
    ),
    (
        "-A PREROUTING -j TOS --set-tos 0xb8/0xff",
        "ip6 dscp set 0x2e ip6 ecn set 0x0",
    ),
];

fn dump(table: &str, chains: &[&str], cases: &[Case], only_translated: bool) -> String {
    let mut d = format!("*{table}\n");
    for c in chains {
        d.push_str(&format!(":{c} ACCEPT [0:0]\n"));
    }
    for (rule, want) in cases {
        if !(only_translated && want.starts_with('!')) {
            d.push_str(rule);
            d.push('\n');
        }
    }
    d.push_str("COMMIT\n");
    d
}

fn translate(path: &std::path::Path) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_iptlint"))
        .args(["translate", "--no-merge"])
        .arg(path)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

fn all() -> [(
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [Case],
); 4] {
    [
        ("v4", "filter", &["INPUT", "OUTPUT"], V4_FILTER),
        ("v4", "mangle", &["POSTROUTING"], V4_MANGLE),
        ("v6", "filter", &["INPUT"], V6_FILTER),
        ("v6", "mangle", &["PREROUTING"], V6_MANGLE),
    ]
}

#[test]
fn exact_texts_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, table, chains, cases) in all() {
        let path = dir.path().join(format!("d.{ext}"));
        fs::write(&path, dump(table, chains, cases, false)).unwrap();
        let (out, status) = translate(&path);
        let declines = cases.iter().filter(|c| c.1.starts_with('!')).count();
        assert_eq!(status, if declines > 0 { 1 } else { 0 }, "{out}");
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        for (rule, want) in cases {
            match want.strip_prefix('!') {
                Some(reason) => {
                    let comment = lines
                        .iter()
                        .find(|l| l.starts_with("# iptlint: not translated") && l.ends_with(rule))
                        .unwrap_or_else(|| panic!("`{rule}` is not declined:\n{out}"));
                    assert!(comment.contains(reason), "`{rule}`: {comment}");
                }
                None => assert!(
                    lines.contains(want),
                    "`{rule}` should give `{want}`:\n{out}"
                ),
            }
        }
    }
}

#[test]
fn originals_and_translations_load() {
    if let Err(why) = kernel::tools(&["nft", "iptables-restore", "ip6tables-restore"]) {
        eprintln!("skipping: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (ext, table, chains, cases) in all() {
        // The translated rules are rules the kernel takes from iptables too.
        let path = dir.path().join(format!("ok.{ext}"));
        fs::write(&path, dump(table, chains, cases, true)).unwrap();
        let restore = if ext == "v4" {
            "iptables-restore"
        } else {
            "ip6tables-restore"
        };
        let orig = kernel::in_netns(&format!("{restore} < \"$1\""), &[&path]);
        assert!(
            orig.status.success(),
            "{restore} {table}: {}",
            kernel::stderr_summary(&orig)
        );
        let (script, status) = translate(&path);
        assert_eq!(status, 0, "{script}");
        let nft = dir.path().join(format!("ok.{ext}.nft"));
        fs::write(&nft, &script).unwrap();
        let run = kernel::in_netns("nft -f \"$1\" && TZ=UTC nft list ruleset", &[&nft]);
        assert!(
            run.status.success(),
            "nft {ext} {table}: {}\n{script}",
            kernel::stderr_summary(&run)
        );
        let listed = String::from_utf8_lossy(&run.stdout);
        if (ext, table) == ("v4", "filter") {
            // The times are numbers in the script, so nft's time zone does
            // not move them; listed in UTC they read as written.
            for want in [
                "meta time >= \"2020-03-01 12:00:00\" meta time < \"2020-03-02 00:00:01\"",
                "meta hour != \"02:00:01\"-\"21:59:59\"",
                "ip ecn ect0",
            ] {
                assert!(listed.contains(want), "no `{want}` in\n{listed}");
            }
        }
    }
}
