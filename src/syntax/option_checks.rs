//! What iptables checks about an extension's options beyond reading each
//! option's value on its own. Every rule here was found by loading rules for
//! real (iptables 1.8.9 in a private network namespace; the nft and legacy
//! backends agree on all of it), see `tests/fixtures/kernel/72-*` onwards:
//!
//! - options of one extension that exclude each other: `multiport`'s
//!   `--sports`, `--dports` and `--ports`, the operations of `MARK` and
//!   `CONNMARK` (and `CONNMARK` with masks but no operation);
//! - values the extension table keeps as plain words: `--icmp-type`,
//!   `--icmpv6-type`, `--log-level` and `--probability` (an unterminated
//!   quote before one of them takes the rest of the line into it, which
//!   iptables then refuses as that value);
//! - the `CHECKSUM` target and the `policy` match. iptlint does not model
//!   them for analysis (the match stays unknown), but it knows their options
//!   and checks them as iptables reads them.
//!
//! iptables stops at the first problem of a rule. Each check here reports
//! the first problem of one extension, in the order iptables meets them:
//! the options in the order written, then the checks it makes once the
//! whole rule is read.

use crate::codes::{self, Lint};
use crate::diagnostic::Finding;
use crate::model::{
    Match, MatchOption, Protocol, Rule, ServiceProtocol, Span, TargetKind, nat_port_shift,
    service_port, service_protocols,
};
use crate::space::{ICMP_NAMES, ICMPV6_NAMES};

/// The options of the `policy` match; all but `--strict` and `--next` take
/// an argument.
const POLICY_OPTIONS: &[&str] = &[
    "--dir",
    "--pol",
    "--strict",
    "--reqid",
    "--spi",
    "--tunnel-src",
    "--tunnel-dst",
    "--proto",
    "--mode",
    "--next",
];

/// The options of the `string` match; all but `--icase` take an argument.
const STRING_OPTIONS: &[&str] = &[
    "--from",
    "--to",
    "--algo",
    "--string",
    "--hex-string",
    "--icase",
];

/// The options of the `devgroup` match, each with an argument.
const DEVGROUP_OPTIONS: &[&str] = &["--src-group", "--dst-group"];

/// The options of the `DSCP` target, each with an argument.
const DSCP_TARGET_OPTIONS: &[&str] = &["--set-dscp", "--set-dscp-class"];

/// The class names iptables turns into a DSCP value, in any case.
const DSCP_CLASSES: &[&str] = &[
    "CS0", "CS1", "CS2", "CS3", "CS4", "CS5", "CS6", "CS7", "BE", "AF11", "AF12", "AF13", "AF21",
    "AF22", "AF23", "AF31", "AF32", "AF33", "AF41", "AF42", "AF43", "EF",
];

/// `policy` keeps at most this many elements (`XT_POLICY_MAX_ELEM`).
const POLICY_MAX_ELEMENTS: usize = 4;

/// How many arguments an option of an unmodelled extension takes, where
/// iptlint knows it: getopt then gives an option that needs an argument the
/// next word whatever it looks like (`--dir --pol` is the direction
/// `--pol`), and one that takes none leaves the next word a stray argument.
pub(super) fn unmodelled_arity(extension: &str, option: &str) -> Option<usize> {
    match extension {
        "policy" if POLICY_OPTIONS.contains(&option) => {
            Some(usize::from(!matches!(option, "--strict" | "--next")))
        }
        "CHECKSUM" if spells_checksum_fill(option) => Some(0),
        "esp" if option == "--espspi" => Some(1),
        "ah" if matches!(option, "--ahspi" | "--ahlen") => Some(1),
        "ah" if option == "--ahres" => Some(0),
        "string" if STRING_OPTIONS.contains(&option) => Some(usize::from(option != "--icase")),
        "helper" if option == "--helper" => Some(1),
        "devgroup" if DEVGROUP_OPTIONS.contains(&option) => Some(1),
        "DSCP" if DSCP_TARGET_OPTIONS.contains(&option) => Some(1),
        _ => None,
    }
}

/// The option names of an unmodelled extension, where iptlint knows them,
/// with the extension's name.
pub(super) fn unmodelled_options(
    extension: &str,
) -> Option<(&'static str, &'static [&'static str])> {
    match extension {
        "policy" => Some(("policy", POLICY_OPTIONS)),
        "CHECKSUM" => Some(("CHECKSUM", &["--checksum-fill"])),
        "esp" => Some(("esp", &["--espspi"])),
        // `--ahlen` and `--ahres` are ip6tables' only.
        "ah" => Some(("ah", &["--ahspi", "--ahlen", "--ahres"])),
        "string" => Some(("string", STRING_OPTIONS)),
        "helper" => Some(("helper", &["--helper"])),
        "devgroup" => Some(("devgroup", DEVGROUP_OPTIONS)),
        "DSCP" => Some(("DSCP", DSCP_TARGET_OPTIONS)),
        _ => None,
    }
}

/// `--checksum-fill` or an abbreviation getopt takes for it. `--check` and
/// shorter are the `--check` command or ambiguous with it; from `--checks`
/// on, only `--checksum-fill` starts so.
fn spells_checksum_fill(option: &str) -> bool {
    option.len() >= "--checks".len() && "--checksum-fill".starts_with(option)
}

/// Options that iptables (or, for `string`, the kernel) refuses with an
/// empty argument (`--src-group ""`), with what refuses it. Each was loaded
/// for real; options not listed take an empty word (`--comment ""`,
/// `--helper ""`, `--physdev-in ""`) or are checked elsewhere.
const EMPTY_REFUSED: &[(&str, &[&str], &str)] = &[
    (
        "devgroup",
        &["--src-group", "--dst-group"],
        "iptables: could not map name to an integer value",
    ),
    (
        "u32",
        &["--u32"],
        "iptables: abrupt end of input after location specifier",
    ),
    (
        "hashlimit",
        &["--hashlimit-upto", "--hashlimit-above"],
        "iptables: Bad value",
    ),
    (
        "hashlimit",
        &["--hashlimit-name"],
        "iptables: Argument must have a minimum length of 1 characters",
    ),
    (
        "nfacct",
        &["--nfacct-name"],
        "iptables: Argument must have a minimum length of 1 characters",
    ),
    (
        "connlabel",
        &["--label"],
        "iptables: Argument must have a minimum length of 1 characters",
    ),
    (
        "connlimit",
        &["--connlimit-above", "--connlimit-upto", "--connlimit-mask"],
        "iptables: bad value",
    ),
    (
        "time",
        &["--timestart", "--timestop"],
        "iptables: invalid time",
    ),
    (
        "time",
        &["--datestart", "--datestop"],
        "iptables: Invalid date",
    ),
    ("quota", &["--quota"], "iptables: bad value"),
    (
        "bpf",
        &["--bytecode"],
        "iptables: error parsing program length",
    ),
    (
        "cluster",
        &["--cluster-total-nodes", "--cluster-local-node"],
        "iptables: bad value",
    ),
    (
        "realm",
        &["--realm"],
        "iptables: could not map name to an integer value",
    ),
    ("cpu", &["--cpu"], "iptables: bad value"),
    ("ecn", &["--ecn-ip-ect"], "iptables: bad value"),
    (
        "mac",
        &["--mac-source"],
        "iptables: Invalid MAC address specified",
    ),
    ("tos", &["--tos"], "iptables: Symbolic name \"\" is unknown"),
    (
        "string",
        &["--hex-string"],
        "iptables: STRING must contain at least one char",
    ),
    ("string", &["--from", "--to"], "iptables: bad value"),
    (
        "string",
        &["--string"],
        "the kernel refuses an empty pattern",
    ),
    (
        "string",
        &["--algo"],
        "the kernel has no search algorithm of that name",
    ),
];

/// The first option of `m` given an empty argument that [`EMPTY_REFUSED`]
/// lists.
fn empty_value_error(rule: &Rule, m: &Match) -> Option<Finding> {
    m.options.iter().find_map(|o| {
        let empty = o.words.len() == 1 && o.words[0].text.is_empty();
        let (_, _, why) = EMPTY_REFUSED
            .iter()
            .find(|(module, names, _)| *module == m.module && names.contains(&o.name.as_str()))?;
        empty.then(|| {
            Finding::new(
                &codes::INVALID_VALUE,
                o.span_in(rule),
                format!("{} \"\": an empty value is refused ({why})", as_written(o)),
            )
        })
    })
}

/// The findings of one rule.
pub(super) fn check_rule(rule: &Rule, findings: &mut Vec<Finding>) {
    for m in &rule.matches {
        if let Some(f) = empty_value_error(rule, m) {
            findings.push(f);
            continue;
        }
        let found = match m.module.as_str() {
            "tcp" => service_error(rule, m, ServiceProtocol::Tcp)
                .or_else(|| option_number_zero_error(rule, m, "--tcp-option")),
            "dccp" => option_number_zero_error(rule, m, "--dccp-option"),
            "esp" | "ah" => spi_error(rule, m),
            "sctp" => service_error(rule, m, ServiceProtocol::Sctp),
            "multiport" => exclusion_error(rule, &MULTIPORT, &m.options, "match").or_else(|| {
                let protocol = rule
                    .protocol
                    .as_ref()
                    .filter(|p| !p.negated)
                    .and_then(|p| p.value.number)
                    .and_then(ServiceProtocol::of_number)?;
                service_error(rule, m, protocol)
            }),
            "icmp" | "icmp6" => icmp_type_error(rule, m),
            "statistic" => probability_error(rule, &m.options),
            "policy" => policy_error(rule, m),
            "recent" => exclusion_error(rule, &RECENT, &m.options, "match")
                .or_else(|| recent_error(rule, m)),
            "owner" => owner_error(rule, m),
            "dscp" => dscp_value_error(rule, &m.options, ("--dscp", "--dscp-class"))
                .or_else(|| exclusion_error(rule, &DSCP_MATCH, &m.options, "match")),
            _ => None,
        };
        findings.extend(found);
    }
    let Some(target) = rule.target.as_ref() else {
        return;
    };
    let found = match (target.name.as_str(), &target.kind) {
        ("LOG", TargetKind::Extension) => log_level_error(rule, &target.options),
        ("MARK", TargetKind::Extension) => exclusion_error(rule, &MARK, &target.options, "target"),
        ("CONNMARK", TargetKind::Extension) => {
            exclusion_error(rule, &CONNMARK, &target.options, "target")
                .or_else(|| connmark_operation_error(rule.target_span(), &target.options))
        }
        ("CHECKSUM", TargetKind::Other) => checksum_error(rule, rule.target_span()),
        ("REDIRECT", TargetKind::Extension) => redirect_shift_error(rule, &target.options),
        ("DSCP", TargetKind::Other) => {
            dscp_value_error(rule, &target.options, ("--set-dscp", "--set-dscp-class"))
                .or_else(|| repeated_option_error(rule, &target.options, DSCP_TARGET_OPTIONS))
                .or_else(|| exclusion_error(rule, &DSCP_TARGET, &target.options, "target"))
        }
        _ => None,
    };
    findings.extend(found);
}

/// `--uid-owner`/`--gid-owner` take a user (group) name, else a number or
/// range (`1000-1999`). Which names exist depends on the host that loads
/// the rule, so only what can be neither is refused: an empty word, or one
/// that starts with `-` (no user or group name may, and no number does).
/// iptables: "Bad value for --uid-owner option".
fn owner_error(rule: &Rule, m: &Match) -> Option<Finding> {
    m.options.iter().find_map(|o| {
        if !matches!(o.name.as_str(), "--uid-owner" | "--gid-owner") {
            return None;
        }
        let value = o.words.first()?.text.as_str();
        (value.is_empty() || value.starts_with('-')).then(|| {
            Finding::new(
                &codes::INVALID_VALUE,
                o.span_in(rule),
                format!(
                    "{} {:?}: not a name, a number or a range: iptables refuses it (Bad value)",
                    as_written(o),
                    shown(value)
                ),
            )
        })
    })
}

/// The values of the `dscp` match (`--dscp`, `--dscp-class`) and the
/// `DSCP` target (`--set-dscp`, `--set-dscp-class`) as iptables reads them:
/// a number from 0 to 63 (C's `strtoul`, so `077` is 63 and `08` is
/// refused) or a class name, in any case. That the two exclude each other
/// is [`DSCP_MATCH`]/[`DSCP_TARGET`]'s, that one is needed
/// `required_options`'.
fn dscp_value_error(
    rule: &Rule,
    options: &[MatchOption],
    (value, class): (&str, &str),
) -> Option<Finding> {
    options.iter().find_map(|o| {
        let word = o.words.first().map_or("", |w| w.text.as_str());
        let why = if o.name == value && whole_number(word, 63).is_none() {
            format!("not a DSCP value from 0 to 63: iptables refuses it (bad value for option \"{value}\", or out of range (0-63))")
        } else if o.name == class && !DSCP_CLASSES.iter().any(|c| c.eq_ignore_ascii_case(word)) {
            "not a DSCP class (CS0-CS7, BE, AF11-AF43, EF): iptables refuses it (Invalid DSCP value)".to_string()
        } else {
            return None;
        };
        finding(
            &codes::INVALID_VALUE,
            o.span_in(rule),
            format!("{} {:?}: {why}", as_written(o), shown(word)),
        )
    })
}

/// An option of an unmodelled extension given twice where iptables takes it
/// once (a modelled extension's are checked as they are read).
fn repeated_option_error(rule: &Rule, options: &[MatchOption], once: &[&str]) -> Option<Finding> {
    options.iter().enumerate().find_map(|(i, o)| {
        let again = once.contains(&o.name.as_str())
            && options[..i].iter().any(|before| before.name == o.name);
        again.then(|| {
            Finding::new(
                &codes::SYNTAX_ERROR,
                o.span_in(rule),
                format!(
                    "{} a second time: iptables refuses the rule (option \"{}\" can only be used once)",
                    as_written(o),
                    o.name
                ),
            )
        })
    })
}

/// A shifted port map (`--to-ports 1000-2000/3000`): DNAT, SNAT and
/// MASQUERADE load it, REDIRECT refuses it once the rule is read.
fn redirect_shift_error(rule: &Rule, options: &[MatchOption]) -> Option<Finding> {
    let o = options.iter().find(|o| o.name == "--to-ports")?;
    let word = o.words.first()?;
    nat_port_shift(&word.text)?;
    finding(
        &codes::INVALID_VALUE,
        o.span_in(rule),
        format!(
            "`{}`: REDIRECT takes no base port after `/` (iptables: Shifted portmap ranges not supported with this kernel)",
            word.text
        ),
    )
}

fn finding(lint: &'static Lint, span: Span, message: String) -> Option<Finding> {
    Some(Finding::new(lint, span, message))
}

/// Text as a message shows it: a newline (which only an unterminated quote
/// brings into a word) as `\n`.
fn shown(text: &str) -> String {
    text.replace('\n', "\\n")
}

/// An option as written, with the name getopt reads when it is an
/// abbreviation (`--dport` after `-m multiport` is `--dports`).
fn as_written(o: &MatchOption) -> String {
    if o.written() != o.name && o.name.starts_with(o.written()) {
        format!("`{}` (getopt reads `{}`)", o.written(), o.name)
    } else {
        format!("`{}`", o.written())
    }
}

/// A note for a word an unterminated quote made: it holds the rest of the line.
fn quote_note(text: &str) -> &'static str {
    if text.contains('\n') {
        " (an unterminated quote took the rest of the line into this argument)"
    } else {
        ""
    }
}

// ---------------------------------------------------------------------------
// Numbers as xtables_strtoui reads them
// ---------------------------------------------------------------------------

/// What C's `isspace` calls white space, which `strtoul` and `strtod` skip.
const C_SPACE: [char; 6] = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];

/// C's `strtoul` with base 0 as `xtables_strtoul` calls it: leading white
/// space, an optional `+` (a `-` fails), then `0x` hex, `0` octal or decimal
/// digits. The value (`None` when it overflows) and the text after the
/// digits; `None` when no digit was read.
fn strtoul(text: &str) -> Option<(Option<u64>, &str)> {
    let rest = text.trim_start_matches(C_SPACE);
    let rest = rest.strip_prefix('+').unwrap_or(rest);
    let bytes = rest.as_bytes();
    let (radix, start) = match bytes {
        [b'0', b'x' | b'X', h, ..] if h.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let digits = rest[start..]
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(rest.len() - start);
    if digits == 0 {
        return None;
    }
    let end = start + digits;
    let value = u64::from_str_radix(&rest[start..end], radix).ok();
    Some((value, &rest[end..]))
}

/// A number from 0 to `max` and the text after it, as
/// `xtables_strtoui(text, &end, .., 0, max)` reads it.
fn number_prefix(text: &str, max: u64) -> Option<(u64, &str)> {
    match strtoul(text)? {
        (Some(n), rest) if n <= max => Some((n, rest)),
        _ => None,
    }
}

/// A whole word that is a number from 0 to `max` (`xtables_strtoui` with no
/// end pointer).
fn whole_number(text: &str, max: u64) -> Option<u64> {
    number_prefix(text, max)
        .filter(|(_, rest)| rest.is_empty())
        .map(|(n, _)| n)
}

/// `--espspi` and `--ahspi`: `N`, `N:M`, `N:`, `:M` or `:`, each a 32-bit
/// number as `strtoul` reads it. iptables 1.8.9 loads a backwards range
/// (`4:3`, which matches nothing); later releases refuse it.
fn spi_error(rule: &Rule, m: &Match) -> Option<Finding> {
    let o = m
        .options
        .iter()
        .find(|o| matches!(o.name.as_str(), "--espspi" | "--ahspi"))?;
    let word = o.words.first()?;
    let (lo, hi) = word
        .text
        .split_once(':')
        .unwrap_or((&word.text, &word.text));
    let read = |part: &str, default: u64| {
        if part.is_empty() && word.text.contains(':') {
            Some(default)
        } else {
            whole_number(part, u64::from(u32::MAX))
        }
    };
    if read(lo, 0).is_some() && read(hi, u64::from(u32::MAX)).is_some() {
        return None;
    }
    finding(
        &codes::INVALID_VALUE,
        word.span_in(rule),
        format!(
            "{} `{}`: not a number from 0 to 4294967295 (or a range of them); iptables refuses it",
            as_written(o),
            shown(&word.text)
        ),
    )
}

/// `--tcp-option 0`, `--dccp-option 0`: option kinds run from 1 to 255
/// (the value table stops above 255).
fn option_number_zero_error(rule: &Rule, m: &Match, option: &str) -> Option<Finding> {
    let o = m.options.iter().find(|o| o.name == option)?;
    if o.value != crate::model::Value::Number(0) {
        return None;
    }
    finding(
        &codes::INVALID_VALUE,
        o.span_in(rule),
        format!(
            "{} 0: option kinds run from 1 to 255, iptables refuses 0",
            as_written(o)
        ),
    )
}

// ---------------------------------------------------------------------------
// Service names of one protocol
// ---------------------------------------------------------------------------

/// A service name the match looks up for its own protocol
/// (`getservbyname(name, "tcp")`) where the services file lists it only for
/// others: `-p tcp --dport ntp` (ntp is 123/udp). The udp and dccp matches
/// take a name of any protocol, so only the tcp, sctp and multiport matches
/// come here. Names listed for no protocol are reported when the value is
/// read.
fn service_error(rule: &Rule, m: &Match, protocol: ServiceProtocol) -> Option<Finding> {
    for o in &m.options {
        if !matches!(
            o.name.as_str(),
            "--sport" | "--dport" | "--sports" | "--dports" | "--ports"
        ) {
            continue;
        }
        let Some(word) = o.words.first() else {
            continue;
        };
        let names = word
            .text
            .split([',', ':'])
            .filter(|part| !part.is_empty() && part.parse::<u32>().is_err());
        for name in names {
            if service_port(name, protocol).is_some() {
                continue;
            }
            let listed = service_protocols(name);
            if listed.is_empty() {
                continue;
            }
            return finding(
                &codes::INVALID_VALUE,
                word.span_in(rule),
                format!(
                    "{}: `{name}` is a service of {} only, not of {}: iptables looks the name up for {} and refuses the rule (invalid port/service `{name}' specified)",
                    as_written(o),
                    listed.join(" and "),
                    protocol.name(),
                    protocol.name()
                ),
            );
        }
    }
    None
}

// ---------------------------------------------------------------------------
// --icmp-type, --icmpv6-type, --log-level
// ---------------------------------------------------------------------------

fn icmp_type_error(rule: &Rule, m: &Match) -> Option<Finding> {
    let (option, v6) = match m.module.as_str() {
        "icmp" => ("--icmp-type", false),
        _ => ("--icmpv6-type", true),
    };
    let o = m.options.iter().find(|o| o.name == option)?;
    let word = o.words.first()?;
    let reason = icmp_type_reason(&word.text, v6)?;
    finding(
        &codes::INVALID_VALUE,
        word.span_in(rule),
        format!("`{option}`: {reason}{}", quote_note(&word.text)),
    )
}

/// Why iptables refuses `text` as an ICMP (or ICMPv6) type, reading it as
/// libxt_icmp does: a name or an abbreviation of exactly one (any case), or
/// `TYPE[/CODE[:CODE]]` in numbers from 0 to 255.
fn icmp_type_reason(text: &str, v6: bool) -> Option<String> {
    let (names, what) = if v6 {
        (ICMPV6_NAMES, "ICMPv6")
    } else {
        (ICMP_NAMES, "ICMP")
    };
    let lower = text.to_ascii_lowercase();
    let mut named = names
        .iter()
        .map(|(name, ..)| *name)
        .filter(|name| name.to_ascii_lowercase().starts_with(&lower));
    match (named.next(), named.next()) {
        (Some(_), None) => return None,
        (Some(a), Some(b)) => {
            return Some(format!(
                "`{}` abbreviates both `{a}` and `{b}`: iptables refuses it (Ambiguous {what} type)",
                shown(text)
            ));
        }
        _ => {}
    }
    let unknown_type = || {
        Some(format!(
            "`{}` is neither an {what} type name nor a number from 0 to 255 (Unknown {what} type)",
            shown(text)
        ))
    };
    let Some((first, mut rest)) = number_prefix(text, 255) else {
        return unknown_type();
    };
    let mut range = false;
    if let Some(after) = rest.strip_prefix(':') {
        let Some((last, after)) = number_prefix(after, 255) else {
            return unknown_type();
        };
        range = first != last;
        rest = after;
    }
    if let Some(code) = rest.strip_prefix('/') {
        let Some((_, mut after)) = number_prefix(code, 255) else {
            return Some(format!(
                "`{}`: the code after `/` must be a number from 0 to 255 (Unknown {what} code)",
                shown(text)
            ));
        };
        if let Some(high) = after.strip_prefix(':') {
            let Some((_, tail)) = number_prefix(high, 255) else {
                return Some(format!(
                    "`{}`: the code range after `/` must be numbers from 0 to 255 (Unknown {what} code)",
                    shown(text)
                ));
            };
            after = tail;
        }
        rest = after;
    }
    if let Some(c) = rest.chars().next() {
        return Some(format!(
            "`{}`: after the number iptables finds `{}`, which it refuses (unknown character)",
            shown(text),
            shown(&c.to_string())
        ));
    }
    range.then(|| {
        format!(
            "`{}`: iptables takes one {what} type, not a range ({what} type range not supported)",
            shown(text)
        )
    })
}

/// Syslog levels `--log-level` takes by name (compared exactly, as
/// libxtables does); any number from 0 to 7 is a level too.
const LOG_LEVELS: &[&str] = &[
    "alert", "crit", "debug", "emerg", "error", "info", "notice", "panic", "warning",
];

fn log_level_error(rule: &Rule, options: &[MatchOption]) -> Option<Finding> {
    let o = options.iter().find(|o| o.name == "--log-level")?;
    let word = o.words.first()?;
    if whole_number(&word.text, 7).is_some() || LOG_LEVELS.contains(&word.text.as_str()) {
        return None;
    }
    finding(
        &codes::INVALID_VALUE,
        word.span_in(rule),
        format!(
            "`--log-level`: `{}` is not a log level: iptables takes 0 to 7 or {} (log level unknown){}",
            shown(&word.text),
            LOG_LEVELS.join(", "),
            quote_note(&word.text)
        ),
    )
}

/// `--probability`: a number from 0 to 1 as C's `strtod` reads the whole
/// word (leading white space, a sign, decimal or `0x` hexadecimal digits,
/// `inf`, `nan`); NaN passes the range check and loads as 0.
fn probability_error(rule: &Rule, options: &[MatchOption]) -> Option<Finding> {
    let o = options.iter().find(|o| o.name == "--probability")?;
    let word = o.words.first()?;
    if strtod(&word.text).is_some_and(|p| p.is_nan() || (0.0..=1.0).contains(&p)) {
        return None;
    }
    finding(
        &codes::INVALID_VALUE,
        word.span_in(rule),
        format!(
            "`--probability`: `{}` is not a number from 0 to 1 (bad value, or out of range){}",
            shown(&word.text),
            quote_note(&word.text)
        ),
    )
}

/// The whole of `text` as C's `strtod` reads it, or `None` when it does not
/// read all of it.
fn strtod(text: &str) -> Option<f64> {
    let rest = text.trim_start_matches(C_SPACE);
    let (negative, unsigned) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let value = match unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        Some(hex) => hex_float(hex)?,
        // Rust reads what strtod reads here, `inf`, `infinity` and `nan` in
        // any case included; a second sign is not a number to either.
        None if is_nan_with_payload(unsigned) => f64::NAN,
        None if !unsigned.starts_with(['+', '-']) => unsigned.parse::<f64>().ok()?,
        None => return None,
    };
    Some(if negative { -value } else { value })
}

/// `nan(chars)`, which strtod reads as NaN and Rust does not.
fn is_nan_with_payload(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|nan| nan.eq_ignore_ascii_case("nan("))
        && text.ends_with(')')
        && text[4..text.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `h[.h][p[+-]d]` after `0x`: hexadecimal digits (at least one), a binary
/// exponent.
fn hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.find(['p', 'P']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fraction.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    if let Some(exponent) = exponent {
        let exponent: i32 = exponent.parse().ok()?;
        value *= 2f64.powi(exponent);
    }
    Some(value)
}

// ---------------------------------------------------------------------------
// Options that exclude each other
// ---------------------------------------------------------------------------

/// Options of one extension that cannot be given together.
struct Exclusions {
    extension: &'static str,
    /// iptlint's canonical name and the name iptables reports, in the order
    /// of iptables' option table (which decides which pair it names).
    options: &'static [(&'static str, &'static str)],
    /// Any two options of one set exclude each other.
    sets: &'static [&'static [&'static str]],
}

const MULTIPORT: Exclusions = Exclusions {
    extension: "multiport",
    options: &[
        ("--sports", "--source-ports"),
        ("--dports", "--destination-ports"),
        ("--ports", "--ports"),
    ],
    sets: &[&["--sports", "--dports", "--ports"]],
};

const DSCP_MATCH: Exclusions = Exclusions {
    extension: "dscp",
    options: &[("--dscp", "--dscp"), ("--dscp-class", "--dscp-class")],
    sets: &[&["--dscp", "--dscp-class"]],
};

const DSCP_TARGET: Exclusions = Exclusions {
    extension: "DSCP",
    options: &[
        ("--set-dscp", "--set-dscp"),
        ("--set-dscp-class", "--set-dscp-class"),
    ],
    sets: &[&["--set-dscp", "--set-dscp-class"]],
};

const MARK: Exclusions = Exclusions {
    extension: "MARK",
    options: &[
        ("--set-xmark", "--set-xmark"),
        ("--set-mark", "--set-mark"),
        ("--and-mark", "--and-mark"),
        ("--or-mark", "--or-mark"),
        ("--xor-mark", "--xor-mark"),
    ],
    sets: &[&[
        "--set-xmark",
        "--set-mark",
        "--and-mark",
        "--or-mark",
        "--xor-mark",
    ]],
};

const CONNMARK_OPERATIONS: &[&str] = &[
    "--set-xmark",
    "--set-mark",
    "--and-mark",
    "--or-mark",
    "--xor-mark",
    "--save-mark",
    "--restore-mark",
];

const CONNMARK: Exclusions = Exclusions {
    extension: "CONNMARK",
    options: &[
        ("--set-xmark", "--set-xmark"),
        ("--set-mark", "--set-mark"),
        ("--and-mark", "--and-mark"),
        ("--or-mark", "--or-mark"),
        ("--xor-mark", "--xor-mark"),
        ("--save-mark", "--save-mark"),
        ("--restore-mark", "--restore-mark"),
        ("--ctmask", "--ctmask"),
        ("--nfmask", "--nfmask"),
        ("--mask", "--mask"),
    ],
    sets: &[
        CONNMARK_OPERATIONS,
        &["--ctmask", "--mask"],
        &["--nfmask", "--mask"],
    ],
};

/// `recent`'s operations exclude each other, and `--rttl` only refines a
/// check (`--rcheck`, `--update`).
const RECENT: Exclusions = Exclusions {
    extension: "recent",
    options: &[
        ("--set", "--set"),
        ("--rcheck", "--rcheck"),
        ("--update", "--update"),
        ("--remove", "--remove"),
        ("--rttl", "--rttl"),
    ],
    sets: &[
        &["--set", "--rcheck", "--update", "--remove"],
        &["--rttl", "--set"],
        &["--rttl", "--remove"],
    ],
};

/// What iptables and the kernel refuse in a `recent` match beyond
/// [`RECENT`]'s exclusions, in the order they check it: `--seconds 0`
/// (iptables reads 1 to 2^32 - 1), `--reap` without `--seconds`, then the
/// kernel's `recent_mt_check`: `--seconds` or a non-zero `--hitcount` with
/// `--set` or `--remove` (they only mean something to a check), a
/// `--hitcount` of 65536 or more, and a `--name` that cannot name its file
/// in /proc/net/xt_recent (empty, `.`, `..`, or with a `/`).
fn recent_error(rule: &Rule, m: &Match) -> Option<Finding> {
    let given = |name: &str| m.options.iter().find(|o| o.name == name);
    let number = |o: &MatchOption| match o.value {
        crate::model::Value::Number(n) => Some(n),
        _ => None,
    };
    let seconds = given("--seconds");
    if let Some(o) = seconds.filter(|o| number(o) == Some(0)) {
        return finding(
            &codes::INVALID_VALUE,
            o.span_in(rule),
            "`--seconds 0`: iptables takes 1 to 4294967295 seconds and refuses the rule".into(),
        );
    }
    if let (Some(reap), None) = (given("--reap"), seconds) {
        return finding(
            &codes::SYNTAX_ERROR,
            reap.span_in(rule),
            format!(
                "{} without `--seconds`: iptables refuses the rule (option \"--reap\" also requires \"--seconds\")",
                as_written(reap)
            ),
        );
    }
    let hitcount = given("--hitcount").filter(|o| number(o) != Some(0));
    if let Some(operation) = given("--set").or_else(|| given("--remove"))
        && let Some(timing) = seconds.or(hitcount)
    {
        return finding(
            &codes::SYNTAX_ERROR,
            timing.span_in(rule),
            format!(
                "{} with {}: the kernel refuses the rule (only `--rcheck` and `--update` look at times and counts)",
                as_written(timing),
                as_written(operation)
            ),
        );
    }
    if let Some(o) = hitcount.filter(|o| number(o).is_some_and(|n| n >= 65_536)) {
        return finding(
            &codes::INVALID_VALUE,
            o.span_in(rule),
            "`--hitcount` above 65535: the kernel keeps at most 65535 timestamps per address and refuses the rule".into(),
        );
    }
    let name = given("--name")?;
    let text = name.words.first().map_or("", |w| w.text.as_str());
    if text.is_empty() || text == "." || text == ".." || text.contains('/') {
        return finding(
            &codes::INVALID_VALUE,
            name.span_in(rule),
            format!(
                "`--name {}`: the kernel refuses a recent list it cannot name a file in /proc/net/xt_recent after (empty, `.`, `..` or with a `/`)",
                shown(text)
            ),
        );
    }
    None
}

/// The first pair of given options that exclude each other, as iptables
/// finds it: the first option in its table that has a conflict, with the
/// first option it conflicts with.
fn exclusion_error(
    rule: &Rule,
    ex: &Exclusions,
    options: &[MatchOption],
    kind: &str,
) -> Option<Finding> {
    let given = |name: &str| options.iter().find(|o| o.name == name);
    let excludes =
        |a: &str, b: &str| a != b && ex.sets.iter().any(|s| s.contains(&a) && s.contains(&b));
    for (a, a_reported) in ex.options {
        let Some(first) = given(a) else { continue };
        for (b, b_reported) in ex.options {
            let Some(second) = given(b).filter(|_| excludes(a, b)) else {
                continue;
            };
            let later = if second.span_in(rule).start > first.span_in(rule).start {
                second
            } else {
                first
            };
            return finding(
                &codes::SYNTAX_ERROR,
                later.span_in(rule),
                format!(
                    "{} and {} in one {} {kind}: iptables refuses the rule (option \"{a_reported}\" cannot be used together with \"{b_reported}\")",
                    as_written(first),
                    as_written(second),
                    ex.extension
                ),
            );
        }
    }
    None
}

/// `CONNMARK` with only masks: `--mask` and friends say how to apply an
/// operation, and without one iptables refuses the rule.
fn connmark_operation_error(span: Span, options: &[MatchOption]) -> Option<Finding> {
    if options.is_empty()
        || options
            .iter()
            .any(|o| CONNMARK_OPERATIONS.contains(&o.name.as_str()))
    {
        return None;
    }
    finding(
        &codes::SYNTAX_ERROR,
        span,
        format!(
            "`CONNMARK` has masks but no operation: it needs one of `{}` (CONNMARK target: No operation specified)",
            CONNMARK_OPERATIONS.join("`, `")
        ),
    )
}

// ---------------------------------------------------------------------------
// -j CHECKSUM
// ---------------------------------------------------------------------------

/// `-j CHECKSUM` takes exactly one option, `--checksum-fill`, once, with no
/// argument and no `!`. iptlint gives an option it cannot place to the last
/// unmodelled extension loaded, so `--checksum-fill` is looked for on all of
/// them. (An option CHECKSUM does not take is never given to it: the rule
/// parser reports it as unknown.)
fn checksum_error(rule: &Rule, span: Span) -> Option<Finding> {
    let target = rule.target.as_ref()?;
    let unmodelled_matches = || rule.matches.iter().filter(|m| !m.modelled);
    let fills: Vec<&MatchOption> = target
        .options
        .iter()
        .chain(unmodelled_matches().flat_map(|m| &m.options))
        .filter(|o| spells_checksum_fill(&o.name))
        .collect();
    if let Some(o) = fills.iter().find(|o| o.negated) {
        return finding(
            &codes::SYNTAX_ERROR,
            o.span_in(rule),
            "`--checksum-fill` cannot be negated with `!`: iptables refuses the rule (CHECKSUM: option \"--checksum-fill\" cannot be inverted)".into(),
        );
    }
    if let Some(o) = fills.iter().find(|o| !o.words.is_empty()) {
        return finding(
            &codes::SYNTAX_ERROR,
            o.span_in(rule),
            format!(
                "`{}` takes no argument: iptables refuses `{}`",
                o.written(),
                shown(&o.words[0].text)
            ),
        );
    }
    if let [_, again, ..] = fills.as_slice() {
        return finding(
            &codes::SYNTAX_ERROR,
            again.span_in(rule),
            format!(
                "`{}` a second time: iptables refuses the rule (option \"--checksum-fill\" can only be used once)",
                again.written()
            ),
        );
    }
    if fills.is_empty() {
        return Some(
            Finding::new(
                &codes::SYNTAX_ERROR,
                span,
                "`CHECKSUM` needs `--checksum-fill`: iptables refuses the rule without it (option \"--checksum-fill\" must be specified)",
            )
            .help("write `-j CHECKSUM --checksum-fill`"),
        );
    }
    None
}

// ---------------------------------------------------------------------------
// -m policy
// ---------------------------------------------------------------------------

/// One element of a policy (`--next` starts the next).
#[derive(Default)]
struct PolicyElement {
    reqid: bool,
    spi: bool,
    tunnel_src: bool,
    tunnel_dst: bool,
    proto: bool,
    /// `--mode`: tunnel (rather than transport), and negated.
    mode: Option<(bool, bool)>,
}

impl PolicyElement {
    fn is_empty(&self) -> bool {
        !(self.reqid
            || self.spi
            || self.tunnel_src
            || self.tunnel_dst
            || self.proto
            || self.mode.is_some())
    }

    /// `--tunnel-src`/`--tunnel-dst` need tunnel mode: `--mode tunnel` or
    /// `! --mode transport`. No `--mode` is transport.
    fn tunnel_outside_tunnel_mode(&self) -> bool {
        let tunnel = match self.mode {
            Some((tunnel, negated)) => tunnel != negated,
            None => false,
        };
        (self.tunnel_src || self.tunnel_dst) && !tunnel
    }
}

/// What `--proto` names, read as `xtables_parse_protocol` reads it: a
/// number from 0 to 255, else a name or alias from `/etc/protocols`
/// (compared exactly: `esp` and `IPSEC-ESP` are known, `Esp` is not).
enum PolicyProtocol {
    /// AH, ESP or IPComp: what a policy element may name.
    Ipsec,
    /// Another protocol.
    Other,
    /// Not a protocol iptables knows.
    Unknown,
}

fn read_policy_protocol(text: &str) -> PolicyProtocol {
    // Debian's /etc/protocols gives the IPsec protocols these aliases.
    const IPSEC_ALIASES: &[&str] = &["IPSEC-ESP", "IPSEC-AH", "IPCOMP"];
    if IPSEC_ALIASES.contains(&text) {
        return PolicyProtocol::Ipsec;
    }
    let number = whole_number(text, 255).or_else(|| {
        // Names are lower case; most aliases are the name in upper case.
        let exact = text == text.to_ascii_lowercase() || text == text.to_ascii_uppercase();
        Protocol::parse(text)
            .ok()
            .filter(|_| exact)
            .and_then(|p| p.number)
            .map(u64::from)
    });
    match number {
        Some(50 | 51 | 108) => PolicyProtocol::Ipsec,
        Some(_) => PolicyProtocol::Other,
        None => PolicyProtocol::Unknown,
    }
}

/// The first problem iptables finds in a `-m policy`.
fn policy_error(rule: &Rule, m: &Match) -> Option<Finding> {
    let policy_option = |name: &str| POLICY_OPTIONS.contains(&name);
    // The checks of the whole match need all its options. An option written
    // some other way (an abbreviation), or a policy option that iptlint gave
    // to another unmodelled extension, leaves that unknown.
    let others_take_policy_options = rule
        .matches
        .iter()
        .filter(|other| !other.modelled && other.module != "policy")
        .flat_map(|other| &other.options)
        .chain(
            rule.target
                .iter()
                .filter(|t| t.kind == TargetKind::Other)
                .flat_map(|t| &t.options),
        )
        .any(|o| policy_option(&o.name));
    let mut whole = !others_take_policy_options;

    let mut dir = false;
    let mut pol_none = false;
    let mut strict = false;
    let mut seen: Vec<&str> = Vec::new();
    let mut elements = vec![PolicyElement::default()];
    let mut next: Option<&MatchOption> = None;
    for o in &m.options {
        let name = o.name.as_str();
        let Some(arity) = unmodelled_arity("policy", name) else {
            whole = false;
            continue;
        };
        let once = matches!(name, "--dir" | "--pol" | "--strict");
        if once && seen.contains(&name) {
            return finding(
                &codes::SYNTAX_ERROR,
                o.span_in(rule),
                format!(
                    "`{name}` a second time: iptables refuses the rule (policy: option \"{name}\" can only be used once)"
                ),
            );
        }
        seen.push(name);
        if o.negated && matches!(name, "--dir" | "--pol" | "--strict" | "--next") {
            return finding(
                &codes::SYNTAX_ERROR,
                o.span_in(rule),
                format!(
                    "`{name}` cannot be negated with `!`: iptables refuses the rule (policy: option \"{name}\" cannot be inverted)"
                ),
            );
        }
        if arity == 0 && !o.words.is_empty() {
            return finding(
                &codes::SYNTAX_ERROR,
                o.span_in(rule),
                format!("`{name}` takes no argument: iptables refuses the rule"),
            );
        }
        let word = o.words.first();
        let text = word.map_or("", |w| w.text.as_str());
        let value_span = word.map_or(o.span_in(rule), |w| w.span_in(rule));
        let element = elements.last_mut().expect("there is always an element");
        let invalid = |what: &str, takes: &str| {
            finding(
                &codes::INVALID_VALUE,
                value_span,
                format!(
                    "`{name}`: `{}` is not a {what}; iptables takes {takes}{}",
                    shown(text),
                    quote_note(text)
                ),
            )
        };
        let double = |what: &str| {
            finding(
                &codes::SYNTAX_ERROR,
                o.span_in(rule),
                format!(
                    "`{name}` twice in one policy element: iptables refuses the rule (policy match: double {what} option); `--next` starts another element"
                ),
            )
        };
        match name {
            "--dir" => match text {
                "in" | "out" => dir = true,
                _ => return invalid("direction", "`in` or `out` (policy_match: invalid dir)"),
            },
            "--pol" => match text {
                "none" => pol_none = true,
                "ipsec" => {}
                _ => return invalid("policy", "`none` or `ipsec` (policy match: invalid policy)"),
            },
            "--strict" => strict = true,
            "--reqid" | "--spi" => {
                if whole_number(text, u64::from(u32::MAX)).is_none() {
                    return invalid(
                        "number",
                        "a number from 0 to 4294967295 (bad value, or out of range)",
                    );
                }
                let slot = if name == "--reqid" {
                    &mut element.reqid
                } else {
                    &mut element.spi
                };
                if std::mem::replace(slot, true) {
                    return double(name);
                }
            }
            "--tunnel-src" | "--tunnel-dst" => {
                let slot = if name == "--tunnel-src" {
                    &mut element.tunnel_src
                } else {
                    &mut element.tunnel_dst
                };
                if std::mem::replace(slot, true) {
                    return double(name);
                }
            }
            "--proto" => {
                let read = read_policy_protocol(text);
                if let PolicyProtocol::Unknown = read {
                    return invalid(
                        "protocol iptables knows",
                        "ah, esp or ipcomp (or 51, 50, 108)",
                    );
                }
                if std::mem::replace(&mut element.proto, true) {
                    return double(name);
                }
                if let PolicyProtocol::Other = read {
                    return invalid(
                        "protocol a policy element can name",
                        "ah, esp or ipcomp (policy match: protocol must be ah/esp/ipcomp)",
                    );
                }
            }
            "--mode" => {
                if element.mode.is_some() {
                    return double(name);
                }
                let tunnel = match text {
                    "tunnel" => true,
                    "transport" => false,
                    _ => {
                        return invalid(
                            "mode",
                            "`tunnel` or `transport` (policy match: invalid mode)",
                        );
                    }
                };
                element.mode = Some((tunnel, o.negated));
            }
            _ => {
                // `--next`
                if elements.len() == POLICY_MAX_ELEMENTS {
                    return finding(
                        &codes::SYNTAX_ERROR,
                        o.span_in(rule),
                        format!(
                            "a fifth policy element: iptables keeps at most {POLICY_MAX_ELEMENTS} (policy match: maximum policy depth reached)"
                        ),
                    );
                }
                next.get_or_insert(o);
                elements.push(PolicyElement::default());
            }
        }
    }
    if !whole {
        return None;
    }
    let structure = |message: String| finding(&codes::SYNTAX_ERROR, m.span_in(rule), message);
    if !dir {
        return Some(
            Finding::new(
                &codes::SYNTAX_ERROR,
                m.span_in(rule),
                "`-m policy` needs `--dir in` or `--dir out`: iptables refuses the rule without it (policy match: neither --dir in nor --dir out specified)",
            )
            .help("add `--dir in` (decapsulated on the way in) or `--dir out`"),
        );
    }
    if pol_none {
        if strict {
            return structure(
                "`--pol none` with `--strict`: there is no policy to match strictly (policy match: policy none but --strict given)".into(),
            );
        }
        if next.is_some() {
            return structure(
                "`--pol none` with `--next`: there are no policy elements to list (policy match: policy none but policy given)".into(),
            );
        }
    } else {
        for (i, element) in elements.iter().enumerate() {
            if strict && element.is_empty() {
                return structure(format!(
                    "policy element {i} is empty: with `--strict` each element needs one of `--reqid`, `--spi`, `--tunnel-src`, `--tunnel-dst`, `--proto` or `--mode` (policy match: empty policy element {i})"
                ));
            }
            if element.tunnel_outside_tunnel_mode() {
                return structure(format!(
                    "policy element {i} has `--tunnel-src`/`--tunnel-dst` but is not in tunnel mode: iptables refuses the rule (policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode)"
                ));
            }
        }
    }
    if let Some(next) = next
        && !strict
    {
        return Some(
            Finding::new(
                &codes::SYNTAX_ERROR,
                next.span_in(rule),
                "`--next` without `--strict`: iptables refuses the rule (policy: option \"--next\" also requires \"--strict\")",
            )
            .help("add `--strict`: elements in order only make sense for a policy matched as a whole"),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{icmp_type_reason, strtod, strtoul, whole_number};

    #[test]
    fn numbers_read_as_strtoul_with_base_zero() {
        assert_eq!(strtoul("8"), Some((Some(8), "")));
        assert_eq!(strtoul("0x10/"), Some((Some(16), "/")));
        assert_eq!(strtoul("010"), Some((Some(8), "")));
        assert_eq!(strtoul("08"), Some((Some(0), "8")));
        assert_eq!(strtoul("0x"), Some((Some(0), "x")));
        assert_eq!(strtoul(" +5 "), Some((Some(5), " ")));
        assert_eq!(strtoul("-1"), None);
        assert_eq!(strtoul("x"), None);
        assert_eq!(strtoul(""), None);
        assert_eq!(
            whole_number("4294967295", u32::MAX.into()),
            Some(4294967295)
        );
        assert_eq!(whole_number("4294967296", u32::MAX.into()), None);
        assert_eq!(whole_number("99999999999999999999999", u64::MAX), None);
    }

    // Each case was loaded with the real iptables-restore and
    // ip6tables-restore 1.8.9.
    #[test]
    fn icmp_types_iptables_accepts() {
        for text in [
            "8",
            "echo-request",
            "Echo-Request",
            "ECHO-REQ",
            "pi",
            "any",
            "255",
            "255/0",
            "0x8",
            "0xff",
            "010",
            "3/010",
            "+8",
            " 8",
            "8/0",
            "3/1:2",
            "3/2:1",
            "3/+1",
        ] {
            assert_eq!(icmp_type_reason(text, false), None, "{text}");
        }
        for text in [
            "128",
            "echo-request",
            "neighbor-sol",
            "255",
            "0x80",
            "0200",
            "3/1:2",
        ] {
            assert_eq!(icmp_type_reason(text, true), None, "{text}");
        }
    }

    // Each case was loaded with the real iptables-restore 1.8.9.
    #[test]
    fn probabilities_read_as_strtod() {
        let loads = |p: &str| strtod(p).is_some_and(|p| p.is_nan() || (0.0..=1.0).contains(&p));
        for p in [
            "0.5",
            "1",
            "0",
            "-0",
            " 0.5",
            "0x0.8p0",
            "0x1p-1",
            "nan",
            "NAN",
            "5e-1",
            ".5",
            "1e0",
            "+0.5",
            "0.00000000001",
            "-0.0",
            "1e-400",
            "1.",
            "nan(12)",
        ] {
            assert!(loads(p), "{p:?}");
        }
        for p in [
            "1.5",
            "inf",
            "infinity",
            "0.5 ",
            "",
            "0.5x",
            "0.5 -j ACCEPT\n",
            "1.0000000001",
            "n0.5",
            "--1",
            "+-1",
            "0x",
            "0x.p1",
        ] {
            assert!(!loads(p), "{p:?}");
        }
    }

    #[test]
    fn icmp_types_iptables_refuses() {
        for text in [
            "8 -j ACCEPT\n",
            "8\n",
            "8x",
            "8/0x",
            "8/",
            "256",
            "3/256",
            "3/1:300",
            "x",
            "echo",
            "",
            "08",
            "-1",
            "-0",
            "0x",
            "1:5",
            "1:",
            "1:5x",
            "3/1:",
            "3/1:2x",
            "any/3",
            "echo-request/0",
            "po",
            "4294967304",
        ] {
            assert!(icmp_type_reason(text, false).is_some(), "{text:?}");
        }
        for text in [
            "any",
            "1:5",
            "1/x",
            "1/2x",
            "256",
            "n",
            "ne",
            "p",
            "08",
            "128 -j ACCEPT\n",
        ] {
            assert!(icmp_type_reason(text, true).is_some(), "{text:?}");
        }
    }
}
