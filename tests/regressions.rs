//! Inputs that once went wrong, kept so they stay right.
//!
//! * Fuzzing (`fuzz/`): every input a target failed on goes here, with the fix that it
//!   needed: the `roundtrip` target's lost chain and the `parse` target's span that ended
//!   inside a character, below.
//! * Mutation agreement (`tests/mutation_agreement.rs`): every mutant where iptlint and the
//!   real `iptables-restore` (1.8.9, nft backend, loaded in `unshare -n`) disagreed and iptlint
//!   was wrong, reduced to a few lines, with the kernel's verdict and message.

use std::sync::Arc;

use iptlint::check::check_source;
use iptlint::model::Family;

/// What the real iptables-restore said about each text.
enum Kernel {
    Accepts,
    /// Refuses the file at this line.
    Refuses(u32, &'static str),
}

use Kernel::{Accepts, Refuses};

fn check(text: &str, family: Family) -> (bool, Vec<(u32, String)>) {
    let report = check_source("regression".into(), Arc::from(text), Some(family));
    let errors: Vec<(u32, String)> = report
        .findings
        .iter()
        .filter(|f| f.severity == iptlint::diagnostic::Severity::Error)
        .map(|f| (f.span.line, format!("{}: {}", f.lint.code, f.message)))
        .collect();
    (report.has_input_error() || !errors.is_empty(), errors)
}

fn agree(cases: &[(&str, Kernel)], family: Family) {
    let mut wrong = Vec::new();
    for (text, kernel) in cases {
        let (rejects, errors) = check(text, family);
        match kernel {
            Accepts if rejects => {
                wrong.push(format!("the kernel loads:\n{text}\niptlint: {errors:?}"))
            }
            Refuses(line, message) if !errors.iter().any(|(l, _)| l == line) => wrong.push(
                format!("the kernel refuses line {line} ({message}):\n{text}\niptlint: {errors:?}"),
            ),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn mutants_of_ipv4_dumps() {
    agree(
        &[
            // getopt takes the command anywhere among the options.
            (
                "*filter\n:X - [0:0]\n-j DROP -A X\n-p tcp -j DROP -A X --dport 22\nCOMMIT\n",
                Accepts,
            ),
            ("*filter\n:X - [0:0]\n-j ACCEPT -I X 1\nCOMMIT\n", Accepts),
            (
                "*filter\n-A INPUT -j ACCEPT -A INPUT\nCOMMIT\n",
                Refuses(2, "Cannot use -A with -A"),
            ),
            // The table line's first word names the table; the rest is ignored.
            ("*filter *filter\n-A INPUT -j ACCEPT\nCOMMIT\n", Accepts),
            // An unterminated quote takes the newline into the word.
            (
                "*filter\n-A INPUT -j LOG --log-prefix \"dropped: \nCOMMIT\n",
                Refuses(2, "Newlines not allowed in --log-prefix"),
            ),
            (
                "*filter\n:C9 - [0:0]\n-A INPUT -j \"C9\nCOMMIT\n",
                Refuses(3, "Invalid target name `C9\\n'"),
            ),
            (
                "*filter\n-A INPUT -m comment --comment \"open -j ACCEPT\nCOMMIT\n",
                Accepts,
            ),
            // `-o` in INPUT, `-i` in OUTPUT: refused by both backends, negated or not.
            (
                "*filter\n-A INPUT -o eth0 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "Can't use -o with INPUT"),
            ),
            (
                "*filter\n-A INPUT ! -o eth0 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "Can't use -o with INPUT"),
            ),
            (
                "*nat\n-A POSTROUTING -i eth0 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "Can't use -i with POSTROUTING"),
            ),
            // Chain names.
            (
                "*filter\n:ACCEPT - [0:0]\nCOMMIT\n",
                Refuses(2, "chain name may not clash with target name"),
            ),
            (
                "*filter\n:!BAD - [0:0]\nCOMMIT\n",
                Refuses(2, "chain name not allowed to start with `!'"),
            ),
            (
                "*filter\n-N DNAT\nCOMMIT\n",
                Refuses(2, "chain name may not clash with target name"),
            ),
            ("*filter\n:DNAT - [0:0]\nCOMMIT\n", Accepts),
            (
                "*filter\n:A2345678901234567890123456789 - [0:0]\nCOMMIT\n",
                Refuses(2, "too long (must be under 29 chars)"),
            ),
            (
                "*filter\n:A234567890123456789012345678 - [0:0]\nCOMMIT\n",
                Accepts,
            ),
            // Options given twice.
            (
                "*filter\n-A INPUT -p tcp -p udp -j ACCEPT\nCOMMIT\n",
                Refuses(2, "multiple -p flags not allowed"),
            ),
            (
                "*filter\n-A INPUT -s 10.0.0.1 -s 10.0.0.2 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "multiple -s flags not allowed"),
            ),
            (
                "*filter\n-A INPUT -m recent --name x --update --update -j DROP\nCOMMIT\n",
                Refuses(2, "recent: option \"--update\" can only be used once."),
            ),
            // Options an extension cannot do without.
            (
                "*filter\n-A INPUT -m comment -j ACCEPT\nCOMMIT\n",
                Refuses(2, "comment: option \"--comment\" must be specified"),
            ),
            (
                "*nat\n-A PREROUTING -j DNAT\nCOMMIT\n",
                Refuses(2, "DNAT: option \"--to-destination\" must be specified"),
            ),
            (
                "*filter\n-A INPUT -p icmp -m icmp -j ACCEPT\nCOMMIT\n",
                Refuses(2, "icmp: option \"--icmp-type\" must be specified"),
            ),
            ("*filter\n-A INPUT -p icmp -j ACCEPT\nCOMMIT\n", Accepts),
            (
                "*filter\n-A INPUT -m multiport --dports 1,2 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "multiport needs `-p tcp'"),
            ),
            (
                "*filter\n-A INPUT -p tcp -m multiport --dports 1,2 -j ACCEPT\nCOMMIT\n",
                Accepts,
            ),
            // What counts is the `-p` before the ports, not before `-m multiport`.
            (
                "*filter\n-A INPUT -m multiport -p tcp -i eth0 --dports 21,80 -j DROP\nCOMMIT\n",
                Accepts,
            ),
            // An option that needs an argument takes the next word, whatever it looks like.
            (
                "*filter\n-A FORWARD -j LOG --log-prefix --log-tcp-options --log-ip-options\nCOMMIT\n",
                Accepts,
            ),
            (
                "*filter\n-A INPUT -p tcp --dport -j ACCEPT\nCOMMIT\n",
                Refuses(2, "invalid port/service `-j' specified"),
            ),
            // Every loaded extension takes options, not only the last one loaded.
            (
                "*mangle\n-A POSTROUTING -j CHECKSUM -m udp --dport 68 -p udp --checksum-fill\nCOMMIT\n",
                Accepts,
            ),
            // ... and the `-p` must come before it: iptables checks as it reads the option.
            (
                "*filter\n-A INPUT -m multiport --dports 1,2 -p tcp -j ACCEPT\nCOMMIT\n",
                Refuses(2, "multiport needs `-p tcp'"),
            ),
            // A rule's options with a chain command.
            (
                "*filter\n:X - [0:0]\n-N Y -p tcp\nCOMMIT\n",
                Refuses(3, "Illegal option `-p' with this command"),
            ),
            (
                "*filter\n-P INPUT DROP -i eth0\nCOMMIT\n",
                Refuses(2, "Illegal option `-i' with this command"),
            ),
            // Ports in a NAT target need a protocol, any protocol.
            (
                "*nat\n-A PREROUTING -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n",
                Refuses(2, "Need TCP, UDP, SCTP or DCCP with port specification"),
            ),
            (
                "*nat\n-A PREROUTING -p icmp -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n",
                Accepts,
            ),
            (
                "*nat\n-A OUTPUT -j REDIRECT --to-ports 8080\nCOMMIT\n",
                Refuses(2, "Need TCP, UDP, SCTP or DCCP with port specification"),
            ),
            // TCPMSS and TCP resets need `-p tcp`.
            (
                "*filter\n-A FORWARD -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n",
                Refuses(2, "RULE_APPEND failed (Invalid argument)"),
            ),
            (
                "*filter\n-A FORWARD -p tcp -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n",
                Accepts,
            ),
            (
                "*filter\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n",
                Refuses(2, "RULE_APPEND failed (Invalid argument)"),
            ),
            // REJECT types may be abbreviated, in any case, even to nothing.
            (
                "*filter\n-A INPUT -p tcp -j REJECT --reject-with TCP\nCOMMIT\n",
                Accepts,
            ),
            (
                "*filter\n-A INPUT -j REJECT --reject-with \"\"\nCOMMIT\n",
                Accepts,
            ),
            // DROP in nat.
            (
                "*nat\n-A PREROUTING -j DROP\nCOMMIT\n",
                Refuses(
                    2,
                    "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.",
                ),
            ),
            // Matches and REJECT types of the other family.
            (
                "*filter\n-A INPUT -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT\nCOMMIT\n",
                Refuses(2, "unknown option \"--icmpv6-type\""),
            ),
            (
                "*filter\n-A INPUT -m hl --hl-gt 1 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "Couldn't load match `hl'"),
            ),
            (
                "*filter\n-A INPUT -j REJECT --reject-with icmp6-adm-prohibited\nCOMMIT\n",
                Refuses(2, "unknown reject type \"icmp6-adm-prohibited\""),
            ),
        ],
        Family::Ipv4,
    );
}

#[test]
fn mutants_of_ipv6_dumps() {
    agree(
        &[
            (
                "*filter\n-A INPUT -f -j DROP\nCOMMIT\n",
                Refuses(2, "`-f' is not supported in IPv6, use -m frag instead"),
            ),
            (
                "*filter\n-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -j DROP\nCOMMIT\n",
                Refuses(
                    2,
                    "iprange: Bad value for \"--src-range\" option: \"10.0.0.1\"",
                ),
            ),
            (
                "*filter\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n",
                Refuses(2, "unknown reject type \"icmp-host-prohibited\""),
            ),
            (
                "*filter\n-A INPUT -p tcp -j REJECT --reject-with tcp-reset\nCOMMIT\n",
                Accepts,
            ),
            (
                "*filter\n-A INPUT -m ttl --ttl-gt 1 -j ACCEPT\nCOMMIT\n",
                Refuses(2, "Couldn't load match `ttl'"),
            ),
        ],
        Family::Ipv6,
    );
}

/// Found by the `roundtrip` fuzz target (after 92,070 runs): commands iptlint reads but
/// iptables-save never writes (`--check`, `--delete`, `--replace`, `--zero`). A `-R` that
/// failed (`--replace chain 11` on a chain that does not exist) still created the chain in the
/// model, an empty undeclared chain that the printer leaves out, so printing and reading back
/// lost it. Fixed: a failed `-I`/`-R` (and any `-D`) no longer creates the chain it names. The
/// fuzzer's `-D` line also had a word that is no option, which iptlint dropped with the rest of
/// a `-D` rule's errors; the kernel refuses it ("unknown option"), and so does iptlint now.
#[test]
fn fuzz_roundtrip_commands_iptables_save_never_writes() {
    let text = "*filter\n:OUTPUT ACCEPT [0:0]\n# supported\n--append INPUT -p tcp -j ACCEPT\n\n\
                # unsupported\n--check INPUT -p tcp -j ACCEPT\n\n# unsupported\n\
                --delete INPUT -p tcp -j ACCEPT\n\n# unsupported\n\
                --replace chain 11 -p tcp -j ACCEPT\n\n# unsupported\n--zero\nCOMMIT\n\n";
    let first = iptlint::syntax::parse(text, None);
    let printed = first.ruleset.to_string();
    let second = iptlint::syntax::parse(&printed, Some(first.ruleset.family));
    assert!(
        !second.findings.iter().any(|f| f.is_input_error()),
        "{printed}"
    );
    let content = |r: &iptlint::model::Ruleset| {
        r.tables
            .iter()
            .map(|t| (t.name, t.chains.clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        content(&first.ruleset) == content(&second.ruleset),
        "{printed}"
    );
    // The fuzzer's original line: `-D` with a word that is no option is an error.
    let bad =
        "*filter\n-A INPUT -p tcp -j ACCEPT\n--delete INPUT -rename-chain chain newchain\nCOMMIT\n";
    let (rejects, errors) = check(bad, Family::Ipv4);
    assert!(
        rejects
            && errors
                .iter()
                .any(|(line, m)| *line == 3 && m.starts_with("IPT001")),
        "{errors:?}"
    );
}

/// Found by the `parse` fuzz target (after 68,285 runs): a chain line with a space after `:` and
/// a word ending in a multi-byte character (here U+FFFD, from a byte that is not UTF-8). The
/// error's span ended inside the character: the word was measured from the `:`, not from
/// where it starts after the space. Any renderer slicing the source there would panic.
#[test]
fn fuzz_parse_span_ends_on_a_character_boundary() {
    for bytes in [
        b"*filter\n: TCPM\xbc --ctstate RELATED -j ACCEPT\nCOMMIT\n".as_slice(),
        b"*filter\n:   caf\xc3\xa9\nCOMMIT\n".as_slice(),
    ] {
        let text = iptlint::source::Source::decode(bytes.to_vec());
        let report = check_source("span".into(), text.clone(), None);
        assert!(report.has_input_error());
        for f in &report.findings {
            let (start, end) = (f.span.start as usize, f.span.end as usize);
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{}: {start}..{end}",
                f.message
            );
        }
        // And every renderer copes.
        let reports = [report];
        iptlint::report::human::render(&reports, false);
        iptlint::report::sarif::render(&reports);
        iptlint::report::json::render(&reports);
    }
}

/// Found with real packets (tests/kernel_counters.rs): at POSTROUTING the
/// kernel passes a forwarded packet's input device, so `-i` in a user chain
/// that POSTROUTING reaches matches it. Such a rule is neither
/// interface-never-matches nor unmatchable, and it does not make the rule
/// after it look covered. Reached only from OUTPUT, `-i` still never matches.
#[test]
fn forwarded_packets_keep_their_input_device_at_postrouting() {
    let from = |hook: &str| {
        format!(
            "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
             :OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:TAG - [0:0]\n-A {hook} -j TAG\n\
             -A TAG -i eth0 -j MARK --set-xmark 0x1/0xffffffff\n-A TAG -j RETURN\nCOMMIT\n"
        )
    };
    let names = |text: &str| -> Vec<(u32, &'static str)> {
        check_source("t".into(), Arc::from(text), Some(Family::Ipv4))
            .findings
            .iter()
            .map(|f| (f.span.line, f.lint.name))
            .collect()
    };
    let post = names(&from("POSTROUTING"));
    assert!(
        post.iter().all(|(line, _)| *line != 9),
        "the -i rule reached from POSTROUTING is live: {post:?}"
    );
    let out = names(&from("OUTPUT"));
    assert!(
        out.contains(&(9, "interface-never-matches")),
        "reached only from OUTPUT, -i never matches: {out:?}"
    );
}
