//! Matches and targets iptlint's model keeps raw (their words unparsed),
//! read here from the words and translated where nft tests exactly the same
//! thing; the reasons for the ones that are declined on purpose are here too.
//!
//! The kernel's code is the reference, not iptables-translate: several of
//! its translations differ from what the kernel does (noted where they do).
//! Like the rest of the translator (the tcp match, for one), what a match
//! does with a header cut short (xtables may drop the packet, nft skips the
//! rule) is not modelled; matches that also refuse a header whose length
//! field claims more than the packet holds (rt, hbh, dst) are declined.

use crate::model::{Family, Match, MatchOption, Rule, TableName, Target, parse_u32};

use super::rule::{Cases, Expr, Scope, flags_expr, opt_words, rule_proto};

/// The translation of a match this file knows, `None` for any other.
pub fn ext_match(m: &Match, rule: &Rule, scope: &Scope<'_>) -> Option<Result<Cases, String>> {
    let out = match m.module.as_str() {
        "ecn" => ecn(m, rule, scope),
        "time" => time(m),
        "frag" => frag(m, scope.family),
        "realm" => realm(m, scope.family),
        "connbytes" => connbytes(m),
        "connlabel" => connlabel(m),
        "policy" => policy(m),
        "quota" => Err(
            "xt_quota lets through a packet that uses up exactly the rest; \
             nft's quota counts it as over on older kernels and within on newer \
             ones (a 2025 fix), so no nft text is exact on every kernel"
                .into(),
        ),
        "rt" | "hbh" | "dst" => Err(format!(
            "`-m {0}` never matches a header longer than the packet (and counts \
             `--{0}-len` in bytes); nft reads the header's fields as they are",
            m.module
        )),
        "cluster" => Err(
            "`-m cluster` hashes the original source of the connection (of its \
             master for a related one) and sets the packet type to host; iptlint \
             has no nft jhash form shown to compute the same"
                .into(),
        ),
        "helper" => Err(
            "`-m helper` tests the helper of the connection's master (the \
             connection that expected it); nft's `ct helper` tests the \
             connection's own"
                .into(),
        ),
        "cgroup" => Err("`-m cgroup` reads only the full socket the packet carries \
             (`skb->sk`); iptlint has not shown nft's `meta cgroup` reads the same"
            .into()),
        "connlimit" => Err("`-m connlimit` counts connections per masked address; \
             nft's `ct count` in a rule counts them per rule"
            .into()),
        "hashlimit" => Err(
            "`-m hashlimit` buckets (expiry, garbage collection, byte mode) have no \
             exact nft meter equivalent"
                .into(),
        ),
        "rpfilter" => Err(
            "`-m rpfilter` special cases (loopback, multicast, --accept-local) have \
             no exact nft fib form"
                .into(),
        ),
        _ => return None,
    };
    Some(out.map(|e| vec![e]))
}

fn one_word<'a>(m: &Match, o: &'a MatchOption) -> Result<&'a str, String> {
    match o.words.as_slice() {
        [w] => Ok(w.text.as_str()),
        _ => Err(format!("`-m {} {}` takes one value", m.module, o.written())),
    }
}

fn no_word(m: &Match, o: &MatchOption) -> Result<(), String> {
    if o.words.is_empty() {
        Ok(())
    } else {
        Err(format!("`-m {} {}` takes no value", m.module, o.written()))
    }
}

fn op(negated: bool) -> &'static str {
    if negated { "!= " } else { "" }
}

/// `-m ecn`: the IP header's two ECN bits, or the TCP header's ECE and CWR.
fn ecn(m: &Match, rule: &Rule, scope: &Scope<'_>) -> Result<Vec<Expr>, String> {
    let mut out = Vec::new();
    for o in &m.options {
        match o.name.as_str() {
            "--ecn-ip-ect" => {
                let v = parse_u32(one_word(m, o)?)?;
                if v > 3 {
                    return Err(format!("`--ecn-ip-ect {v}`: the field has two bits"));
                }
                let sel = if scope.family == Family::Ipv4 {
                    "ip ecn"
                } else {
                    "ip6 ecn"
                };
                out.push(Expr::plain(format!("{sel} {}{v}", op(o.negated))));
            }
            "--ecn-tcp-ece" | "--ecn-tcp-cwr" => {
                no_word(m, o)?;
                if rule_proto(rule) != Some("tcp") {
                    return Err(format!(
                        "`{}` without `-p tcp`: the kernel refuses the rule",
                        o.written()
                    ));
                }
                // xt_ecn reads the TCP header of a later fragment too (what
                // is there); nft's `tcp flags` never matches one. The two
                // agree where no later fragment gets to the rule.
                let no_fragments =
                    scope.table == TableName::Nat || rule.matches.iter().any(|x| x.module == "tcp");
                if !no_fragments {
                    return Err(format!(
                        "`{}` reads a later fragment's payload as a TCP header; nft \
                         does not (add `-m tcp` to exclude fragments)",
                        o.written()
                    ));
                }
                let flag = if o.name == "--ecn-tcp-ece" {
                    "ecn"
                } else {
                    "cwr"
                };
                let comp: &[&str] = if o.negated { &[] } else { &[flag] };
                out.push(flags_expr(&[flag], comp, false));
            }
            _ => return Err(format!("`-m ecn {}` is not known", o.written())),
        }
    }
    if out.is_empty() {
        return Err("`-m ecn` without an option".into());
    }
    Ok(out)
}

/// The largest date xt_time keeps (`date_stop` defaults to `INT_MAX`).
const TIME_DATE_MAX: u64 = i32::MAX as u64;
const DAY: u32 = 86_400;

/// `-m time`, as xt_time runs on current kernels: the time is the current
/// time in whole seconds (not the packet's arrival time), in UTC unless
/// `--kerneltz`. Dates and the time of day have exact nft forms in UTC,
/// written as numbers so that `nft`'s own time zone does not shift them.
/// `meta day` counts days in the kernel's time zone (`sys_tz`), which is
/// UTC only where nothing set it, so `--weekdays` in UTC has no exact form;
/// and with `--kerneltz` the dates and hours shift by `sys_tz` while nft's
/// `meta time` and `meta hour` do not.
fn time(m: &Match) -> Result<Vec<Expr>, String> {
    let mut date_start: u64 = 0;
    let mut date_stop: u64 = TIME_DATE_MAX;
    let mut day_start: u32 = 0;
    let mut day_stop: u32 = DAY - 1;
    let mut weekdays: u8 = 0xFE; // bit 1 Monday ... bit 7 Sunday
    let mut contiguous = false;
    for o in &m.options {
        if o.negated && o.name != "--weekdays" && o.name != "--monthdays" {
            return Err(format!("`! {}` is not an iptables option", o.written()));
        }
        match o.name.as_str() {
            "--datestart" => date_start = time_date(one_word(m, o)?)?,
            "--datestop" => date_stop = time_date(one_word(m, o)?)?,
            "--timestart" => day_start = time_of_day(one_word(m, o)?)?,
            "--timestop" => day_stop = time_of_day(one_word(m, o)?)?,
            "--weekdays" => {
                weekdays = time_weekdays(one_word(m, o)?)?;
                if o.negated {
                    weekdays ^= 0xFE;
                }
            }
            "--monthdays" => return Err("`--monthdays`: nft has no day of the month".into()),
            "--kerneltz" | "--localtz" => {
                return Err(format!(
                    "`{}` counts time in the kernel's time zone (sys_tz); nft's \
                     `meta time` and `meta hour` count in UTC",
                    o.written()
                ));
            }
            "--utc" => no_word(m, o)?,
            "--contiguous" => {
                no_word(m, o)?;
                contiguous = true;
            }
            _ => return Err(format!("`-m time {}` is not known", o.written())),
        }
    }
    if weekdays & 0xFE != 0xFE {
        return Err(
            "`--weekdays` counts days in UTC; nft's `meta day` counts them in the \
             kernel's time zone (sys_tz)"
                .into(),
        );
    }
    // `--contiguous` only moves the day a weekday test sees: with every
    // weekday it changes nothing.
    let _ = contiguous;
    let mut out = Vec::new();
    // xt_time: `stamp < date_start || stamp > date_stop` fails, with stamp
    // the current time in whole seconds; nft's `meta time` has nanoseconds.
    if date_start > date_stop {
        return Err("`--datestart` after `--datestop` matches no packet".into());
    }
    if date_start > 0 {
        out.push(Expr::plain(format!("meta time >= {date_start}")));
    }
    out.push(Expr::plain(format!("meta time < {}", date_stop + 1)));
    // The time of day, in seconds after midnight UTC: a range when start <
    // stop, its complement's complement when it wraps past midnight, and
    // every time when start == stop (xt_time's `else` branch rejects
    // nothing then).
    if day_start < day_stop {
        if (day_start, day_stop) != (0, DAY - 1) {
            out.push(Expr::plain(format!("meta hour {day_start}-{day_stop}")));
        }
    } else if day_start > day_stop + 1 {
        out.push(Expr::plain(format!(
            "meta hour != {}-{}",
            day_stop + 1,
            day_start - 1
        )));
    }
    Ok(out)
}

/// libxt_time's date: `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` in UTC, years 1970 to
/// 2038, out-of-range days rolled over as mktime does.
pub fn time_date(text: &str) -> Result<u64, String> {
    let bad = || format!("date `{text}` is not YYYY[-MM[-DD[Thh[:mm[:ss]]]]]");
    let (date, clock) = match text.split_once('T') {
        Some((d, c)) => (d, Some(c)),
        None => (text, None),
    };
    let num = |s: &str| -> Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 4 {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let d: Vec<&str> = date.split('-').collect();
    if d.len() > 3 || (clock.is_some() && d.len() != 3) {
        return Err(bad());
    }
    let year = num(d[0])?;
    let month = d.get(1).map(|s| num(s)).transpose()?.unwrap_or(1);
    let day = d.get(2).map(|s| num(s)).transpose()?.unwrap_or(1);
    if !(1970..=2038).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let mut secs = 0;
    if let Some(c) = clock {
        let t: Vec<&str> = c.split(':').collect();
        if t.len() > 3 {
            return Err(bad());
        }
        let limits = [23, 59, 59];
        let scale = [3600, 60, 1];
        for (i, part) in t.iter().enumerate() {
            let v = num(part)?;
            if v > limits[i] {
                return Err(bad());
            }
            secs += v * scale[i];
        }
    }
    let days = days_from_civil(year, month, 1) + day - 1;
    let t = days * DAY as u64 + secs;
    if t > u32::MAX as u64 {
        return Err(format!("date `{text}` is past what xt_time keeps"));
    }
    Ok(t)
}

/// Days from 1970-01-01 to the first given day (proleptic Gregorian).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// libxt_time's time of day: `hh:mm[:ss]`.
fn time_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("time `{text}` is not hh:mm[:ss]");
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut secs = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let v: u32 = p.parse().map_err(|_| bad())?;
        if v > [23, 59, 59][i] {
            return Err(bad());
        }
        secs += v * [3600, 60, 1][i];
    }
    Ok(secs)
}

/// libxt_time's weekday list: numbers 1 (Monday) to 7, or names compared
/// on their first two letters, as a mask with bit 1 for Monday.
fn time_weekdays(text: &str) -> Result<u8, String> {
    const NAMES: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
    let mut mask = 0u8;
    for w in text.split(',') {
        if let Ok(n) = w.parse::<u8>() {
            if !(1..=7).contains(&n) {
                return Err(format!("weekday `{w}` is not 1 to 7"));
            }
            mask |= 1 << n;
            continue;
        }
        let i = NAMES
            .iter()
            .position(|n| w.len() >= 2 && w.starts_with(n))
            .ok_or_else(|| format!("weekday `{w}` is not known"))?;
        mask |= 1 << (i + 1);
    }
    Ok(mask)
}

/// `-m frag` (IPv6): the fragment header found as the kernel finds it for
/// both (`ipv6_find_hdr`). `--fragres` means the reserved fields are zero.
fn frag(m: &Match, fam: Family) -> Result<Vec<Expr>, String> {
    if fam != Family::Ipv6 {
        return Err("`-m frag` is an IPv6 match".into());
    }
    let mut out = Vec::new();
    for o in &m.options {
        match o.name.as_str() {
            "--fragid" => {
                let w = one_word(m, o)?;
                let (lo, hi) = match w.split_once(':') {
                    Some((a, b)) => (
                        if a.is_empty() { 0 } else { parse_u32(a)? },
                        if b.is_empty() {
                            u32::MAX
                        } else {
                            parse_u32(b)?
                        },
                    ),
                    None => (parse_u32(w)?, parse_u32(w)?),
                };
                if lo > hi {
                    return Err(format!("`--fragid {w}`: the range is empty"));
                }
                if (lo, hi) == (0, u32::MAX) {
                    if o.negated {
                        return Err("`! --fragid 0:4294967295` matches no packet".into());
                    }
                    continue;
                }
                let v = if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                };
                out.push(Expr::plain(format!("frag id {}{v}", op(o.negated))));
            }
            "--fragres" | "--fragfirst" | "--fragmore" | "--fraglast" => {
                no_word(m, o)?;
                if o.negated {
                    return Err(format!("`! {}` is not an iptables option", o.written()));
                }
                out.push(Expr::plain(
                    match o.name.as_str() {
                        "--fragres" => "frag reserved 0 frag reserved2 0",
                        "--fragfirst" => "frag frag-off 0",
                        "--fragmore" => "frag more-fragments 1",
                        _ => "frag more-fragments 0",
                    }
                    .into(),
                ));
            }
            _ => {
                return Err(format!(
                    "`-m frag {}` has no exact nft form in iptlint",
                    o.written()
                ));
            }
        }
    }
    if out.is_empty() {
        out.push(Expr::plain("exthdr frag exists".into()));
    }
    Ok(out)
}

/// `-m realm` (IPv4): the route's classid, `value[/mask]`, as nft's `meta
/// rtclassid`. Both need the packet's route; xt_realm is only allowed
/// where there is one, and nft skips the rule where there is none.
fn realm(m: &Match, fam: Family) -> Result<Vec<Expr>, String> {
    if fam != Family::Ipv4 {
        return Err("`-m realm` is an IPv4 match".into());
    }
    let mut out = Vec::new();
    for o in &m.options {
        if o.name != "--realm" {
            return Err(format!("`-m realm {}` is not known", o.written()));
        }
        let w = one_word(m, o)?;
        let (v, mask) = match w.split_once('/') {
            Some((v, mk)) => (v, parse_u32(mk)?),
            None => (w, u32::MAX),
        };
        let v = parse_u32(v).map_err(|_| {
            format!("realm `{w}`: a name from rt_realms is not resolved by iptlint")
        })?;
        let cmp = if o.negated { "!=" } else { "==" };
        out.push(Expr::plain(if mask == u32::MAX {
            format!("meta rtclassid {}{v:#x}", op(o.negated))
        } else {
            format!("meta rtclassid & {mask:#x} {cmp} {v:#x}")
        }));
    }
    if out.is_empty() {
        return Err("`-m realm` without `--realm`".into());
    }
    Ok(out)
}

/// `-m connbytes`. nft's `ct packets`/`bytes`/`avgpkt` turn accounting on
/// as the match does; a connection made before that has no counters, which
/// xt_connbytes never matches and nft reads as 0: exact only where the
/// condition excludes 0.
fn connbytes(m: &Match) -> Result<Vec<Expr>, String> {
    let mut range: Option<(u64, u64)> = None;
    let mut dir = None;
    let mut mode = None;
    for o in &m.options {
        match o.name.as_str() {
            "--connbytes" => {
                let w = one_word(m, o)?;
                let num = |s: &str| -> Result<u64, String> {
                    s.parse()
                        .map_err(|_| format!("`--connbytes {w}` is not understood"))
                };
                let (from, to) = match w.split_once(':') {
                    Some((a, b)) => (num(a)?, num(b)?),
                    None => (num(w)?, u64::MAX),
                };
                if to < from {
                    return Err(format!(
                        "`--connbytes {w}`: iptables refuses a reversed range"
                    ));
                }
                // libxt_connbytes swaps the bounds for `!`; the kernel reads
                // `to < from` as "outside", and equal bounds stay "equal".
                range = Some(if o.negated { (to, from) } else { (from, to) });
            }
            "--connbytes-dir" => {
                dir = Some(match one_word(m, o)? {
                    "original" => "original ",
                    "reply" => "reply ",
                    "both" => "",
                    d => return Err(format!("`--connbytes-dir {d}` is not known")),
                })
            }
            "--connbytes-mode" => {
                mode = Some(match one_word(m, o)? {
                    "packets" => "packets",
                    "bytes" => "bytes",
                    "avgpkt" => "avgpkt",
                    d => return Err(format!("`--connbytes-mode {d}` is not known")),
                })
            }
            _ => return Err(format!("`-m connbytes {}` is not known", o.written())),
        }
    }
    let (from, to) = range.ok_or("`-m connbytes` without `--connbytes`")?;
    let dir = dir.ok_or("`-m connbytes` without `--connbytes-dir`")?;
    let mode = mode.ok_or("`-m connbytes` without `--connbytes-mode`")?;
    let sel = format!("ct {dir}{mode}");
    let zero = "a connection without counters (made before accounting was on) \
                reads 0 in nft and never matches in xt_connbytes";
    let cond = if to >= from {
        if from == 0 {
            return Err(format!("`--connbytes` from 0: {zero}"));
        }
        if to == u64::MAX {
            format!(">= {from}")
        } else if from == to {
            from.to_string()
        } else {
            format!("{from}-{to}")
        }
    } else {
        // Matches `what < to || what > from`.
        if to > 0 {
            return Err(format!("`! --connbytes` below {to}: {zero}"));
        }
        if from == u64::MAX {
            return Err("`! --connbytes 0` matches no connection".into());
        }
        format!("> {from}")
    };
    Ok(vec![Expr::plain(format!("{sel} {cond}"))])
}

/// `-m connlabel --label N`: the label bit of the connection. Without a
/// connection or its labels xt_connlabel returns the inversion, which nft
/// cannot say (it skips the rule), so `!` is declined; `--set` writes.
fn connlabel(m: &Match) -> Result<Vec<Expr>, String> {
    let mut out = Vec::new();
    for o in &m.options {
        match o.name.as_str() {
            "--label" => {
                if o.negated {
                    return Err(
                        "`! --label` also matches packets without a connection; nft's \
                         `ct label` skips them"
                            .into(),
                    );
                }
                let w = one_word(m, o)?;
                let bit = w.parse::<u8>().ok().filter(|b| *b < 128).ok_or_else(|| {
                    format!("label `{w}`: a name from connlabel.conf is not resolved by iptlint")
                })?;
                out.push(Expr::plain(format!("ct label {bit}")));
            }
            "--set" => {
                return Err("`--set` sets the label as it tests it; nft needs two rules".into());
            }
            _ => return Err(format!("`-m connlabel {}` is not known", o.written())),
        }
    }
    if out.is_empty() {
        return Err("`-m connlabel` without `--label`".into());
    }
    Ok(out)
}

/// `-m policy --dir in --pol none`: xt_policy matches when the packet has no
/// security path (no xfrm state decoded it), as nft's `meta secpath
/// missing` tests. `--pol ipsec` compares the path's states with the
/// policy's elements, which nft cannot; `--dir out` reads the route's xfrm.
fn policy(m: &Match) -> Result<Vec<Expr>, String> {
    let word = |name: &str| -> Result<Option<&str>, String> {
        match m.options.iter().find(|o| o.name == name) {
            Some(o) if o.negated => Err(format!("`! {}` is not an iptables option", o.written())),
            Some(o) => one_word(m, o).map(Some),
            None => Ok(None),
        }
    };
    if let Some(o) = m
        .options
        .iter()
        .find(|o| o.name != "--dir" && o.name != "--pol")
    {
        return Err(format!(
            "`-m policy {}` compares IPsec states; nft has no such test",
            o.written()
        ));
    }
    match (word("--dir")?, word("--pol")?) {
        (Some("in"), Some("none")) => Ok(vec![Expr::plain("meta secpath missing".into())]),
        (Some("in"), Some("ipsec")) => Err(
            "`--pol ipsec` compares the security path's states with the policy's \
             elements; iptlint has not shown `meta secpath exists` equal to that"
                .into(),
        ),
        (Some("out"), _) => Err("`--dir out` reads the route's xfrm bundle; not translated".into()),
        _ => Err("`-m policy` needs `--dir in|out` and `--pol none|ipsec`".into()),
    }
}

/// `-p dccp -m dccp --dccp-types`: the 4-bit type against the listed
/// types; `INVALID` is type 10 alone (the kernel tests bit `1 << type`).
pub fn dccp_types(o: &MatchOption) -> Result<Expr, String> {
    const NAMES: [&str; 11] = [
        "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
        "SYNCACK", "INVALID",
    ];
    let words = opt_words(o);
    let [list] = words.as_slice() else {
        return Err("`--dccp-types` takes one list".into());
    };
    let mut types: Vec<usize> = Vec::new();
    for t in list.split(',') {
        let i = NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("DCCP type `{t}` is not known"))?;
        if !types.contains(&i) {
            types.push(i);
        }
    }
    types.sort_unstable();
    let names: Vec<String> = types
        .iter()
        .map(|&i| {
            if i == 10 {
                "10".to_string()
            } else {
                NAMES[i].to_ascii_lowercase()
            }
        })
        .collect();
    let set = if names.len() == 1 {
        names[0].clone()
    } else {
        format!("{{ {} }}", names.join(", "))
    };
    let mut e = Expr::plain(format!("dccp type {}{set}", op(o.negated)));
    e.implies = Some(33);
    Ok(e)
}

/// `-j TEE --gateway ADDR`: nft's `dup to ADDR` runs the same kernel code
/// (nf_dup_ipv4/6) with no output interface. `--oif` is declined: xt_TEE
/// follows the interface by name as it comes and goes, nft's `device`
/// is fixed when the rule loads.
pub fn tee(t: &Target, fam: Family) -> Result<String, String> {
    let mut gw = None;
    for o in &t.options {
        match o.name.as_str() {
            "--gateway" => {
                let words = opt_words(o);
                let [w] = words.as_slice() else {
                    return Err("`--gateway` takes one address".into());
                };
                let a: std::net::IpAddr = w
                    .parse()
                    .map_err(|_| format!("TEE gateway `{w}` is not an address"))?;
                if a.is_ipv4() != (fam == Family::Ipv4) {
                    return Err(format!("TEE gateway `{w}` is not of this dump's family"));
                }
                gw = Some(a);
            }
            "--oif" => {
                return Err(
                    "TEE `--oif` follows the interface by name; nft's `dup ... device` \
                     binds the index it has when the rule loads"
                        .into(),
                );
            }
            _ => return Err(format!("TEE `{}` is not known", o.written())),
        }
    }
    let gw = gw.ok_or("TEE without `--gateway`")?;
    Ok(format!("dup to {gw}"))
}

/// `-j TOS` (mangle only): `tos = (tos & ~mask) ^ value` over the whole
/// byte, said as the DSCP and ECN parts nft can set (each with its own
/// checksum update). A part the operation keeps is not written; a part it
/// changes other than by setting it whole is declined.
pub fn tos(t: &Target, scope: &Scope<'_>) -> Result<Vec<String>, String> {
    if scope.table != TableName::Mangle {
        return Err("TOS outside the mangle table: the kernel refuses the rule".into());
    }
    let [o] = t.options.as_slice() else {
        return Err("TOS takes one operation".into());
    };
    let words = opt_words(o);
    let [w] = words.as_slice() else {
        return Err(format!("TOS `{}` takes one value", o.written()));
    };
    let value_of = |s: &str| -> Result<u32, String> {
        // iptables-save writes numbers; the names' masks are left alone.
        let v = parse_u32(s).map_err(|_| format!("TOS value `{s}` is not a number"))?;
        if v > 0xFF {
            return Err(format!("TOS value `{s}` is above 0xff"));
        }
        Ok(v)
    };
    let (value, mask) = match o.name.as_str() {
        "--set-tos" => match w.split_once('/') {
            Some((v, mk)) => {
                let mk = parse_u32(mk)?;
                if mk > 0xFF {
                    return Err(format!("TOS mask `{mk:#x}` is above 0xff"));
                }
                (value_of(v)?, mk)
            }
            None => (value_of(w)?, 0xFF),
        },
        "--and-tos" => (0, !value_of(w)? & 0xFF),
        "--or-tos" => {
            let v = value_of(w)?;
            (v, v)
        }
        "--xor-tos" => (value_of(w)?, 0),
        _ => return Err(format!("TOS `{}` is not known", o.written())),
    };
    let l3 = match scope.family {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ip6",
    };
    let mut out = Vec::new();
    for (name, part_mask, shift) in [("dscp", 0xFCu32, 2u32), ("ecn", 0x03, 0)] {
        let m = mask & part_mask;
        let v = value & part_mask;
        if m == 0 && v == 0 {
            continue;
        }
        // Set whole (mask covers the part) or kept (neither touches it);
        // anything else flips or clears single bits.
        if m != part_mask {
            return Err(format!(
                "TOS changes part of the {name} bits; nft sets the {name} field whole"
            ));
        }
        out.push(format!("{l3} {name} set {:#x}", v >> shift));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_libxt_time_reads_them() {
        assert_eq!(time_date("1970").unwrap(), 0);
        assert_eq!(time_date("2021").unwrap(), 1_609_459_200);
        assert_eq!(time_date("2021-01-29T00:00:00").unwrap(), 1_611_878_400);
        // A leap day, and mktime's roll-over of a day past the month's end.
        assert_eq!(time_date("2024-02-29").unwrap(), 1_709_164_800);
        assert_eq!(
            time_date("2023-02-29").unwrap(),
            time_date("2023-03-01").unwrap()
        );
        assert_eq!(time_date("2038-01-19T03:14:07").unwrap(), i32::MAX as u64);
        assert_eq!(time_date("2020-06-01T12").unwrap(), 1_591_012_800);
        for bad in [
            "1969",
            "2039",
            "2020-13",
            "2020-00",
            "2020-01-32",
            "2020-1-1T24:00",
            "20x0",
            "",
        ] {
            assert!(time_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_of_day_and_weekdays() {
        assert_eq!(time_of_day("12:00").unwrap(), 43_200);
        assert_eq!(time_of_day("23:59:59").unwrap(), 86_399);
        assert!(time_of_day("12").is_err());
        assert!(time_of_day("24:00").is_err());
        // Bit 1 is Monday; names are compared on two letters, as libxt_time does.
        assert_eq!(time_weekdays("Mon,Sun").unwrap(), 0b1000_0010);
        assert_eq!(time_weekdays("Sa,Su").unwrap(), 0b1100_0000);
        assert_eq!(time_weekdays("1,7").unwrap(), 0b1000_0010);
        assert!(time_weekdays("0").is_err());
        assert!(time_weekdays("mon").is_err());
    }
}
