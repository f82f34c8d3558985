//! Turns the words of a rule specification into a typed [`Rule`], the way
//! iptables' option loop does: generic options, `-m` loading a match module,
//! `-p` loading its protocol's match implicitly, `-j`/`-g` choosing the target,
//! and every other option going to the loaded extension that takes it.

use crate::codes::{self, Lint};
use crate::diagnostic::Finding;
use crate::model::Generic;
use crate::model::{
    AddrRange, AddrSpec, CtState, ExtensionSpec, Family, Interface, JumpKind, MarkMask, Match,
    MatchOption, NatRange, NatSpec, Negatable, Net, NumRange, OptionSpec, PortRange, Protocol,
    Rule, Span, Target, TargetKind, Text, Value, ValueKind, Word, Words, also_required_options,
    match_spec, parse_nat_ports, parse_u32, protocol_match, required_options, target_spec,
};

use super::push_small;
use super::tokens::{Token, TokenKind};

/// Extension matches iptables 1.8.9 and xtables-addons ship that iptlint does
/// not model: they load, and analyses treat them as unknown.
const OTHER_MATCHES: &[&str] = &[
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "connbytes",
    "connlabel",
    "connlimit",
    "cpu",
    "devgroup",
    "dst",
    "ecn",
    "esp",
    "eui64",
    "frag",
    "hashlimit",
    "hbh",
    "helper",
    "ipcomp",
    "ipv6header",
    "ipvs",
    "mh",
    "nfacct",
    "osf",
    "policy",
    "quota",
    "rateest",
    "realm",
    "rpfilter",
    "rt",
    "socket",
    "string",
    "tcpmss",
    "time",
    "u32",
    "udplite",
    "condition",
    "dhcpmac",
    "fuzzy",
    "geoip",
    "iface",
    "ipp2p",
    "ipv4options",
    "lscan",
    "pknock",
    "psd",
    "quota2",
    "account",
    "gradm",
    "ipmark",
];

/// Extension targets iptlint does not model. (iptables 1.8.9 has no
/// `MIRROR` or `SAME` any more: `-j MIRROR` jumps to a chain of that name.)
const OTHER_TARGETS: &[&str] = &[
    "CHECKSUM",
    "CLUSTERIP",
    "CONNSECMARK",
    "DNPT",
    "DSCP",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "SECMARK",
    "SNPT",
    "SYNPROXY",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TTL",
    "ULOG",
    "CONTINUE",
    "TARPIT",
    "DELUDE",
    "CHAOS",
    "ACCOUNT",
    "DHCPMAC",
    "ECHO",
    "IPMARK",
    "LOGMARK",
    "SYSRQ",
    "STEAL",
];

/// iptables' own long options (iptables 1.8.9), by what getopt returns for
/// them (`--src` is `--source`): the names an abbreviation may stand for
/// besides the loaded extensions' options.
const GLOBAL_LONG_OPTIONS: &[(&str, &[&str])] = &[
    ("-A", &["--append"]),
    ("-D", &["--delete"]),
    ("-C", &["--check"]),
    ("-I", &["--insert"]),
    ("-R", &["--replace"]),
    ("-L", &["--list"]),
    ("-S", &["--list-rules"]),
    ("-F", &["--flush"]),
    ("-Z", &["--zero"]),
    ("-N", &["--new-chain"]),
    ("-X", &["--delete-chain"]),
    ("-E", &["--rename-chain"]),
    ("-P", &["--policy"]),
    ("-s", &["--source", "--src"]),
    ("-d", &["--destination", "--dst"]),
    ("-p", &["--protocol"]),
    ("-i", &["--in-interface"]),
    ("-j", &["--jump"]),
    ("-t", &["--table"]),
    ("-m", &["--match"]),
    ("-n", &["--numeric"]),
    ("-o", &["--out-interface"]),
    ("-v", &["--verbose"]),
    ("-w", &["--wait"]),
    ("-W", &["--wait-interval"]),
    ("-x", &["--exact"]),
    ("-f", &["--fragments"]),
    ("-V", &["--version"]),
    ("-h", &["--help"]),
    ("-0", &["--line-numbers"]),
    ("-M", &["--modprobe"]),
    ("-c", &["--set-counters"]),
    ("-g", &["--goto"]),
    ("-4", &["--ipv4"]),
    ("-6", &["--ipv6"]),
];

/// The option of iptables' own a long option abbreviates, by its short
/// name and full name (`--app` is `-A`, `--append`), when getopt reads it so
/// among iptables' own options alone: the prefix of exactly one of them
/// (`--src` and `--source` are one). `--del` could be `--delete` or
/// `--delete-chain`, and iptables refuses it as an unknown option. Only
/// iptables' own options are in getopt's table before the first `-m`, `-p`
/// or `-j` loads an extension's.
pub(super) fn global_abbreviation(word: &str) -> Option<(&'static str, &'static str)> {
    let prefix = word.strip_prefix("--").filter(|p| !p.is_empty())?;
    let mut found: Option<(&'static str, &'static str)> = None;
    for (identity, names) in GLOBAL_LONG_OPTIONS {
        if let Some(full) = names.iter().find(|n| n[2..].starts_with(prefix)) {
            if found.is_some_and(|(f, _)| f != *identity) {
                return None;
            }
            found = Some((identity, full));
        }
    }
    found
}

/// A word after a chain command's arguments: `-N`, `-X` and `-F` take only
/// the chain, `-P` and `-E` one word more, `-Z` a rule number ("Invalid rule
/// number" for any other word). iptables refuses anything further ("Bad
/// argument").
pub(super) fn extra_chain_command_word(command: &str, args: &[Token]) -> Option<Finding> {
    // getopt counts only the words no option took as its argument, and which
    // words an option takes depends on the extensions loaded (`-Z INPUT -m
    // owner --uid-owner 0` loads): only the words before the first option
    // are certainly free.
    let mut values = args.iter().take_while(|t| t.is_value());
    let takes = match command {
        "-P" | "-E" => 1,
        "-Z" => {
            let number = values.next()?;
            if !number.text.bytes().all(|b| b.is_ascii_digit()) || number.text.is_empty() {
                return Some(Finding::new(
                    &codes::SYNTAX_ERROR,
                    number.span,
                    format!(
                        "`-Z CHAIN` takes a rule number after the chain, not `{}`: iptables refuses the line (Invalid rule number)",
                        number.text
                    ),
                ));
            }
            0
        }
        _ => 0,
    };
    let extra = values.nth(takes)?;
    Some(Finding::new(
        &codes::SYNTAX_ERROR,
        extra.span,
        format!(
            "`{command}` takes no more words: iptables refuses the line (Bad argument `{}')",
            extra.text
        ),
    ))
}

/// What `-m NAME` or `-j NAME` (by any name getopt takes for them) adds
/// to getopt's table: whether one of the extension's options starts with
/// `prefix`, `None` when iptlint does not know its options. `-g` and `-p`
/// add nothing (iptables loads the protocol's match only for an option
/// getopt does not know).
pub(super) fn loaded_option_starts_with(loader: &str, name: &str, prefix: &str) -> Option<bool> {
    use super::option_checks::unmodelled_options;
    let short = generic_option(loader).or_else(|| global_abbreviation(loader).map(|(s, _)| s));
    let spec = match short {
        Some("-m") => match_spec(name),
        Some("-j") => target_spec(name),
        _ => return Some(false),
    };
    let extension_known = match short {
        Some("-m") => spec.is_some() || OTHER_MATCHES.contains(&name),
        // A chain, or ACCEPT, DROP, RETURN, QUEUE: the standard target.
        _ => spec.is_some() || OTHER_TARGETS.contains(&name),
    };
    if let Some(spec) = spec {
        return Some(
            spec.options
                .iter()
                .any(|o| o.names.iter().any(|n| n.starts_with(prefix))),
        );
    }
    if !extension_known {
        // No such match (refused anyway) or no target extension: a chain.
        return Some(false);
    }
    let (_, names) = unmodelled_options(name)?;
    Some(names.iter().any(|n| n.starts_with(prefix)))
}

/// Whether a short option name is one of iptables' own that belongs in a
/// rule (not a command).
pub(super) fn is_rule_option(short: &str) -> bool {
    RULE_OPTIONS.contains(&short)
}

/// The global options that belong in a rule (the others are commands or
/// options of the iptables command line).
const RULE_OPTIONS: &[&str] = &[
    "-s", "-d", "-p", "-i", "-o", "-j", "-m", "-f", "-c", "-g", "-4", "-6", "-v",
];

/// A target extension iptables knows by this name (`-N DNAT` clashes with it).
pub fn is_target_extension(name: &str) -> bool {
    target_spec(name).is_some() || OTHER_TARGETS.contains(&name)
}

/// What getopt makes of a long option's name (see
/// `RuleParser::expand_abbreviation`).
enum Abbreviation {
    /// The name as written: exact, or nothing iptlint can expand.
    Unknown,
    /// The option the name abbreviates.
    Full(&'static str),
    /// It abbreviates two options or more, which getopt refuses: two of
    /// them, as `--name` or `--name` of an extension.
    Ambiguous(String, String),
}

/// An argument as the parser reads it, with its whole span. The model's
/// [`Word`] keeps its span relative to the rule's line, which a word more
/// than 65,535 bytes into the line cannot be; what the parser reports about
/// an argument points at it exactly all the same.
struct Arg {
    text: Text,
    span: Span,
}

/// An option's arguments; nearly always one, kept inline (see [`Words`]).
type Args = smallvec::SmallVec<[Arg; 1]>;

/// Where the next unknown `--option` goes.
#[derive(Clone, Copy)]
enum Owner {
    Match(usize),
    Target,
}

pub struct RuleParser<'a> {
    tokens: &'a mut [Token],
    pos: usize,
    rule: Rule,
    owner: Option<Owner>,
    /// How many matches were loaded when the target was: which extension
    /// was loaded last decides who takes an option both know.
    matches_before_target: usize,
    /// Target names that are user chains of the table (see `LineCtx`).
    chain_targets: &'a [crate::model::Text],
    findings: &'a mut Vec<Finding>,
}

/// Why iptables refuses a `-j`/`-g` name as it reads it (its
/// `parse_target`): empty, with white space (an unterminated quote brings
/// the line's end into it), or longer than an extension name may be.
pub(crate) fn invalid_target_name(name: &str) -> Option<String> {
    // XT_EXTENSION_MAXNAMELEN, 29 with its NUL.
    const MAX: usize = 28;
    if name.is_empty() {
        return Some(
            "an empty target name: iptables refuses the rule (Invalid target name (too short))"
                .into(),
        );
    }
    let shown = name.replace('\n', "\\n");
    if name
        .bytes()
        .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
    {
        return Some(format!(
            "target name `{shown}` has white space in it: iptables refuses the rule (Invalid target name)"
        ));
    }
    (name.len() > MAX).then(|| {
        format!(
            "target name `{shown}` is longer than {MAX} characters: iptables refuses the rule (Invalid target name ({MAX} chars max))"
        )
    })
}

/// Parses a rule specification. `line_span` covers the whole line.
pub fn parse_rule(
    tokens: &mut [Token],
    line_span: Span,
    chain_span: Span,
    chain_targets: &[crate::model::Text],
    findings: &mut Vec<Finding>,
) -> Rule {
    let mut rule = Rule::new(line_span);
    rule.set_chain_span(chain_span);
    let mut parser = RuleParser {
        tokens,
        pos: 0,
        rule,
        owner: None,
        matches_before_target: 0,
        chain_targets,
        findings,
    };
    parser.run();
    parser.rule
}

impl RuleParser<'_> {
    /// Moves token `i` out (every token is read once), leaving an empty one.
    fn take(&mut self, i: usize) -> Token {
        let empty = Token {
            kind: TokenKind::Bang,
            text: String::new(),
            span: Span::default(),
        };
        std::mem::replace(&mut self.tokens[i], empty)
    }

    fn error(&mut self, lint: &'static Lint, span: Span, message: String) {
        self.findings.push(Finding::new(lint, span, message));
    }

    fn run(&mut self) {
        while self.pos < self.tokens.len() {
            let token = self.take(self.pos);
            self.pos += 1;
            match token.kind {
                TokenKind::Bang => {
                    let negated_span = token.span;
                    match self.tokens.get(self.pos) {
                        Some(next) if matches!(next.kind, TokenKind::Option { .. }) => {
                            let next = self.take(self.pos);
                            self.pos += 1;
                            self.option(&next, Some(negated_span));
                        }
                        Some(next) if let Some(options) = super::short_options::split(next) => {
                            let next = self.take(self.pos);
                            self.pos += 1;
                            self.short_options(&next, &options, Some(negated_span));
                        }
                        _ => self.error(
                            &codes::SYNTAX_ERROR,
                            negated_span,
                            "`!` must stand right before the option it negates".into(),
                        ),
                    }
                }
                TokenKind::Option { .. } => self.option(&token, None),
                TokenKind::Value if let Some(options) = super::short_options::split(&token) => {
                    self.short_options(&token, &options, None);
                }
                TokenKind::Value => self.error(
                    &codes::SYNTAX_ERROR,
                    token.span,
                    format!(
                        "unexpected argument `{}`: no option before it takes an argument here",
                        token.text
                    ),
                ),
            }
        }
        self.check_required_options();
        super::option_checks::check_rule(&self.rule, self.findings);
        // `-m tcp` needs `-p tcp`: iptables refuses the rule otherwise.
        let protocol = self
            .rule
            .protocol
            .as_ref()
            .filter(|p| !p.negated)
            .and_then(|p| p.value.number);
        for m in &self.rule.matches {
            let needs = match m.module.as_str() {
                "tcp" => Some(6),
                "udp" => Some(17),
                "sctp" => Some(132),
                "dccp" => Some(33),
                "icmp" => Some(1),
                "icmp6" => Some(58),
                // The kernel's esp match names its protocol for both
                // families; `ah` is IPv4's (see `family_findings`).
                "esp" => Some(50),
                _ => None,
            };
            if let Some(n) = needs
                && protocol != Some(n)
                && !m.implicit
            {
                let name = if n == 58 {
                    crate::model::Text::from("icmpv6")
                } else {
                    m.module.clone()
                };
                self.findings.push(needs_protocol(&self.rule, m, &name));
            }
        }
    }

    /// A word of short options (`-4fj`, `-ptcp`), read as its options; a
    /// `!` before it negates the first, as getopt hands them over in order.
    fn short_options(&mut self, word: &Token, options: &[Token], mut bang: Option<Span>) {
        let before = self.findings.len();
        for option in options {
            self.option(option, bang.take());
        }
        if let Some(note) = super::short_options::whole_word_note(word, options) {
            for f in &mut self.findings[before..] {
                f.help = Some(note.clone());
            }
        }
    }

    /// A match or target without the option it cannot do without
    /// (`-m comment` alone, `-j DNAT` without `--to-destination`), and
    /// `-m multiport` without a protocol that has ports.
    fn check_required_options(&mut self) {
        let mut missing = Vec::new();
        let target = self
            .rule
            .target
            .as_ref()
            // An unmodelled target may be listed too (DSCP).
            .filter(|t| matches!(t.kind, TargetKind::Extension | TargetKind::Other));
        let used = self
            .rule
            .matches
            .iter()
            .map(|m| (m.module.as_str(), m.span_in(&self.rule), &m.options))
            .chain(target.map(|t| (t.name.as_str(), self.rule.target_span(), &t.options)));
        for (name, span, options) in used {
            let given = |o: &&str| options.iter().any(|given| given.name == *o);
            for each in also_required_options(name) {
                if !given(each) {
                    missing.push(Finding::new(
                        &codes::SYNTAX_ERROR,
                        span,
                        format!("`{name}` needs `{each}`: iptables refuses the rule without it"),
                    ));
                }
            }
            let Some(required) = required_options(name) else {
                continue;
            };
            if (required.is_empty() && options.is_empty())
                || (!required.is_empty() && !required.iter().any(given))
            {
                let what = match required {
                    [] => "an option".to_string(),
                    [one] => format!("`{one}`"),
                    many => format!("one of `{}`", many.join("`, `")),
                };
                missing.push(Finding::new(
                    &codes::SYNTAX_ERROR,
                    span,
                    format!("`{name}` needs {what}: iptables refuses the rule without it"),
                ));
            }
        }
        let ports = matches!(
            self.rule
                .protocol
                .as_ref()
                .filter(|p| !p.negated)
                .and_then(|p| p.value.number),
            Some(6 | 17 | 33 | 132 | 136)
        );
        // iptables checks when it reads the multiport ports: `-p` must come first.
        let multiport = self.rule.find_match("multiport");
        let before = multiport.is_some_and(|m| {
            let ports = m
                .options
                .first()
                .map_or(m.span_in(&self.rule), |o| o.span_in(&self.rule));
            self.rule
                .generic_span(Generic::Protocol)
                .is_none_or(|p| p.start > ports.start)
        });
        if (!ports || before)
            && let Some(m) = multiport
        {
            missing.push(
                Finding::new(
                    &codes::OPTION_NEEDS_PROTOCOL,
                    m.span_in(&self.rule),
                    "`-m multiport` needs `-p tcp`, `-p udp`, `-p udplite`, `-p sctp` or `-p dccp`",
                )
                .help("add `-p tcp` (or the protocol meant) before `-m multiport`"),
            );
        }
        // TCPMSS and a TCP reset only make sense for TCP; the kernel checks `-p tcp`.
        let tcp = self
            .rule
            .protocol
            .as_ref()
            .is_some_and(|p| !p.negated && p.value.number == Some(6));
        if !tcp && let Some(t) = self.rule.target.as_ref() {
            let reset = t.options.iter().find(|o| {
                o.name == "--reject-with"
                    && o.words.first().is_some_and(|w| {
                        // Abbreviations count: `tcp` is tcp-reset.
                        let w = w.text.to_ascii_lowercase();
                        !w.is_empty() && ("tcp-reset".starts_with(&w) || "tcp-rst".starts_with(&w))
                    })
            });
            let what = match (t.name.as_str(), reset) {
                ("TCPMSS", _) => Some(("`-j TCPMSS`", self.rule.target_span())),
                ("REJECT", Some(o)) => Some(("`--reject-with tcp-reset`", o.span_in(&self.rule))),
                _ => None,
            };
            if let Some((what, span)) = what {
                missing.push(
                    Finding::new(
                        &codes::OPTION_NEEDS_PROTOCOL,
                        span,
                        format!(
                            "{what} needs `-p tcp`: the kernel refuses the rule for other protocols"
                        ),
                    )
                    .help("add `-p tcp`"),
                );
            }
        }
        // The kernel's TPROXY checks that the rule tests `-p tcp` or `-p udp`
        // ("Can be used only with -p tcp or -p udp"), not negated.
        let tcp_or_udp = self
            .rule
            .protocol
            .as_ref()
            .is_some_and(|p| !p.negated && matches!(p.value.number, Some(6 | 17)));
        if !tcp_or_udp
            && self
                .rule
                .target
                .as_ref()
                .is_some_and(|t| t.name == "TPROXY")
        {
            missing.push(
                Finding::new(
                    &codes::OPTION_NEEDS_PROTOCOL,
                    self.rule.target_span(),
                    "`-j TPROXY` needs `-p tcp` or `-p udp`: the kernel refuses the rule for other protocols",
                )
                .help("add `-p tcp` or `-p udp`"),
            );
        }
        // `--syn` is `--tcp-flags FIN,SYN,RST,ACK SYN`: one tcp match takes
        // only one of them.
        for m in self.rule.matches.iter().filter(|m| m.module == "tcp") {
            let syn = m.options.iter().find(|o| o.name == "--syn");
            let flags = m.options.iter().find(|o| o.name == "--tcp-flags");
            if let (Some(syn), Some(flags)) = (syn, flags) {
                let later = if syn.span_in(&self.rule).start > flags.span_in(&self.rule).start {
                    syn
                } else {
                    flags
                };
                missing.push(Finding::new(
                    &codes::SYNTAX_ERROR,
                    later.span_in(&self.rule),
                    "`--syn` and `--tcp-flags` in one tcp match: iptables refuses the rule (Only one of `--syn' or `--tcp-flags' allowed)",
                ));
            }
        }
        // Ports in a NAT target need a protocol, any protocol (`-p icmp` will do).
        let any_protocol = self
            .rule
            .protocol
            .as_ref()
            .is_some_and(|p| p.value.number != Some(0));
        if !any_protocol
            && let Some(t) = self.rule.target.as_ref()
            && let Some(o) = t.options.iter().find(|o| match &o.value {
                Value::Nat(n) => n.range().ports.is_some(),
                _ => o.name == "--to-ports",
            })
        {
            missing.push(
                Finding::new(
                    &codes::OPTION_NEEDS_PROTOCOL,
                    o.span_in(&self.rule),
                    format!(
                        "`{}` with a port needs a protocol: iptables refuses the rule (Need TCP, UDP, SCTP or DCCP with port specification)",
                        o.name
                    ),
                )
                .help("add `-p tcp` or `-p udp`"),
            );
        }
        self.findings.extend(missing);
    }

    /// Moves the next token out as a word when it is a value.
    fn take_word(&mut self) -> Option<Arg> {
        let token = self.tokens.get_mut(self.pos).filter(|t| t.is_value())?;
        self.pos += 1;
        Some(Arg {
            text: std::mem::take(&mut token.text).into(),
            span: token.span,
        })
    }

    /// The arguments of an option: `count` value tokens (or the `=` value).
    /// Reports old-style negation (`-s ! X`) and returns whether it was seen.
    fn take_values(&mut self, option: &Token, count: usize) -> Option<(Args, bool)> {
        let mut words = Args::with_capacity(count);
        words.extend(inline_word(option));
        let mut old_negation = false;
        while words.len() < count {
            match self.tokens.get(self.pos) {
                Some(t) if t.is_value() => {
                    let word = self.take_word().expect("the next token is a value");
                    words.push(word);
                }
                // getopt gives an option that needs an argument the next word,
                // whatever it looks like: `--log-prefix --log-tcp-options` logs
                // with the prefix "--log-tcp-options".
                Some(Token {
                    kind: TokenKind::Option { inline },
                    text,
                    span,
                }) => {
                    let text = match inline {
                        Some((value, _)) => format!("{text}={value}"),
                        None => text.clone(),
                    };
                    words.push(Arg {
                        text: text.into(),
                        span: *span,
                    });
                    self.pos += 1;
                }
                // `-i ! eth0`, the negation iptables once took after the
                // option: getopt now gives `-i` the argument `!` and
                // iptables refuses the stray `eth0`. Said as such.
                Some(t)
                    if t.kind == TokenKind::Bang
                        && words.is_empty()
                        && !old_negation
                        && self.tokens.get(self.pos + 1).is_some_and(Token::is_value) =>
                {
                    old_negation = true;
                    let span = t.span;
                    self.pos += 1;
                    self.findings.push(
                        Finding::new(
                            &codes::OLD_NEGATION,
                            span,
                            format!(
                                "`{} ! {}`: iptables no longer accepts `!` after the option; it takes `!` as the argument and refuses `{}`",
                                option.text,
                                self.tokens[self.pos].text,
                                self.tokens[self.pos].text
                            ),
                        )
                        .help(format!("write `! {} ...` instead", option.text)),
                    );
                }
                // A `!` with no word after it is simply the argument:
                // `-i ! -o x` loads, with an input interface named `!`.
                Some(t) if t.kind == TokenKind::Bang => {
                    words.push(Arg {
                        text: "!".into(),
                        span: t.span,
                    });
                    self.pos += 1;
                }
                _ => {
                    let what = if count == 1 {
                        "an argument".to_string()
                    } else {
                        format!("{count} arguments")
                    };
                    let at = self
                        .tokens
                        .get(self.pos)
                        .map(|t| format!(", found `{}`", t.text))
                        .unwrap_or_default();
                    self.error(
                        &codes::SYNTAX_ERROR,
                        option.span,
                        format!("`{}` needs {what}{at}", option.text),
                    );
                    return None;
                }
            }
        }
        Some((words, old_negation))
    }

    fn option(&mut self, token: &Token, bang: Option<Span>) {
        match generic_option(&token.text) {
            Some(generic) => self.generic_option(token, generic, bang),
            None => self.extension_option(token, bang),
        }
    }

    /// `-s`, `-p`, `-j` and the other options of iptables itself, `generic`
    /// being the short name of `token`'s option.
    fn generic_option(&mut self, token: &Token, generic: &'static str, bang: Option<Span>) {
        let name = token.text.as_str();
        let arity = match generic {
            "-f" | "-4" | "-6" | "-v" => 0,
            _ => 1,
        };
        let Some((words, old_neg)) = self.take_values(token, arity) else {
            return;
        };
        let negated = bang.is_some() || old_neg;
        let not_negatable = matches!(generic, "-j" | "-g" | "-m" | "-c" | "-4" | "-6" | "-v");
        if negated && not_negatable {
            self.error(
                &codes::SYNTAX_ERROR,
                token.span,
                format!("`{name}` cannot be negated with `!`"),
            );
        }
        let span = bang.map_or(token.span, |b| b.to(token.span));
        let span = words.last().map_or(span, |w| span.to(w.span));
        let seen = match generic {
            "-s" => self.rule.source.is_some(),
            "-d" => self.rule.destination.is_some(),
            "-p" => self.rule.protocol.is_some(),
            "-i" => self.rule.in_interface().is_some(),
            "-o" => self.rule.out_interface().is_some(),
            "-f" => self.rule.fragment().is_some(),
            _ => false,
        };
        if seen {
            self.error(
                &codes::SYNTAX_ERROR,
                token.span,
                format!("`{name}` a second time: iptables refuses the rule (multiple {generic} flags not allowed)"),
            );
        }
        match generic {
            "-s" | "-d" => {
                let value = self.addresses(&words[0]);
                let slot = Some(Negatable::new(negated, value));
                let which = if generic == "-s" {
                    self.rule.source = slot;
                    Generic::Source
                } else {
                    self.rule.destination = slot;
                    Generic::Destination
                };
                self.rule.set_generic_span(which, Some(span));
            }
            "-p" => match Protocol::parse(&words[0].text) {
                Ok(p) if negated && p.number == Some(0) => self.error(
                    &codes::INVALID_VALUE,
                    span,
                    format!(
                        "`! {name} {}` excludes every protocol: iptables refuses the rule (rule would never match protocol)",
                        words[0].text
                    ),
                ),
                Ok(p) => {
                    self.rule
                        .set_protocol(Some(Negatable::new(negated, p)), &words[0].text);
                    self.rule.set_generic_span(Generic::Protocol, Some(span));
                }
                Err(e) => self.error(&codes::INVALID_VALUE, words[0].span, e),
            },
            // iptables refuses an empty name here ("Empty interface is
            // likely to be undesired"); physdev takes one.
            "-i" | "-o" if words[0].text.is_empty() => self.error(
                &codes::INVALID_VALUE,
                words[0].span,
                format!("`{generic} \"\"`: iptables refuses an empty interface name (Empty interface is likely to be undesired); leave `{generic}` out to match every interface"),
            ),
            "-i" | "-o" => match Interface::parse(&words[0].text) {
                Ok(i) => {
                    let slot = Some(Negatable::new(negated, i));
                    let which = if generic == "-i" {
                        self.rule.set_in_interface(slot);
                        Generic::InInterface
                    } else {
                        self.rule.set_out_interface(slot);
                        Generic::OutInterface
                    };
                    self.rule.set_generic_span(which, Some(span));
                }
                Err(e) => self.error(&codes::INVALID_VALUE, words[0].span, e),
            },
            "-f" => self.rule.set_fragment(Some(Negatable::new(negated, ()))),
            "-4" => self.rule.set_only_family(Some(Family::Ipv4)),
            "-6" => self.rule.set_only_family(Some(Family::Ipv6)),
            "-v" => {}
            "-c" => self.set_counters(token, &words[0]),
            "-m" => self.load_match(&words[0], token.span, false),
            "-j" | "-g" => self.set_target(&words[0], token.span, generic == "-g"),
            _ => unreachable!("every generic option is handled"),
        }
    }

    /// `-c PACKETS BYTES` or `-c PACKETS,BYTES`, as iptables reads them: the
    /// bytes after the first comma past the first character, or else the
    /// next word unless it starts with `-` or `!`; each read as `%llu`.
    fn set_counters(&mut self, token: &Token, packets: &Arg) {
        let text = packets.text.as_str();
        let comma = text
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == ',')
            .map(|(i, _)| i);
        let bytes: Option<(String, Span)> = match comma {
            Some(i) => Some((text[i + 1..].to_string(), packets.span)),
            None => match self.tokens.get(self.pos) {
                Some(t) if t.is_value() && !t.text.starts_with(['-', '!']) => {
                    let w = self.take_word().expect("the next token is a value");
                    Some((w.text.to_string(), w.span))
                }
                _ => None,
            },
        };
        let Some((bytes, bytes_span)) = bytes else {
            return self.error(
                &codes::SYNTAX_ERROR,
                token.span,
                "`-c` needs a packet and a byte counter: iptables refuses the rule (-c requires packet and byte counter)".into(),
            );
        };
        match (scan_counter(text), scan_counter(&bytes)) {
            (Some(packets), Some(bytes)) => self
                .rule
                .set_counters(Some(crate::model::Counters { packets, bytes })),
            (None, _) => self.error(
                &codes::INVALID_VALUE,
                packets.span,
                format!(
                    "`{text}`: the packet counter is not a number (-c packet counter not numeric)"
                ),
            ),
            (_, None) => self.error(
                &codes::INVALID_VALUE,
                bytes_span,
                format!(
                    "`{bytes}`: the byte counter is not a number (-c byte counter not numeric)"
                ),
            ),
        }
    }

    fn addresses(&mut self, word: &Arg) -> crate::model::List<AddrSpec> {
        let mut out = crate::model::List::new();
        for part in word.text.split(',') {
            match Net::parse(part) {
                Ok(net) => push_small(&mut out, AddrSpec::net(net)),
                Err(e) => {
                    // A host name's labels start with a letter or digit
                    // (`-s1.2.3.4` is the address "-s1.2.3.4", which the
                    // resolver refuses).
                    let hostname = !part.is_empty()
                        && !part.starts_with('-')
                        && part.bytes().any(|b| b.is_ascii_alphabetic())
                        && !part.contains(':')
                        && !part.contains('/')
                        && part.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'
                        });
                    if hostname {
                        push_small(&mut out, AddrSpec::host(part.into()));
                    } else {
                        self.error(&codes::INVALID_VALUE, word.span, e);
                    }
                }
            }
        }
        out
    }

    fn load_match(&mut self, word: &Arg, span: Span, implicit: bool) {
        let module = word.text.as_str();
        let spec = match_spec(module);
        let modelled = spec.is_some();
        if !modelled && !OTHER_MATCHES.contains(&module) {
            self.error(
                &codes::UNKNOWN_EXTENSION,
                word.span,
                format!("iptables has no match module `{module}`: it would fail to load"),
            );
        }
        let span = if implicit { span } else { span.to(word.span) };
        let mut loaded = Match {
            // A known name is borrowed from the table, not copied.
            module: spec.map_or_else(|| module.into(), |s| Text::from_static(s.name)),
            at: Default::default(),
            implicit,
            modelled,
            options: crate::model::List::new(),
        };
        loaded.set_span_in(span, self.rule.span);
        push_small(&mut self.rule.matches, loaded);
        self.owner = Some(Owner::Match(self.rule.matches.len() - 1));
    }

    fn set_target(&mut self, word: &Arg, span: Span, goto: bool) {
        if self.rule.target.is_some() {
            self.error(
                &codes::SYNTAX_ERROR,
                span,
                "a rule can have only one `-j`/`-g` target".into(),
            );
            return;
        }
        let name = word.text.clone();
        if let Some(why) = invalid_target_name(&name) {
            // iptables refuses it as it reads the line, before any later
            // `-F` could flush the rule.
            self.error(&codes::SYNTAX_ERROR, word.span, why);
        }
        let kind = if goto || self.chain_targets.contains(&name) {
            TargetKind::Chain
        } else {
            match name.as_str() {
                "ACCEPT" => TargetKind::Accept,
                "DROP" => TargetKind::Drop,
                "RETURN" => TargetKind::Return,
                "QUEUE" => TargetKind::Queue,
                n if target_spec(n).is_some() => TargetKind::Extension,
                n if OTHER_TARGETS.contains(&n) => TargetKind::Other,
                _ => TargetKind::Chain,
            }
        };
        if kind == TargetKind::Other && name == "ULOG" {
            self.findings.push(
                Finding::new(
                    &codes::UNKNOWN_EXTENSION,
                    span.to(word.span),
                    "the kernel has had no ULOG target since Linux 3.17: iptables knows the name, the kernel refuses the rule",
                )
                .help("log with `-j NFLOG` (ulogd reads NFLOG too)"),
            );
        }
        if kind == TargetKind::Other && name == "CLUSTERIP" {
            // Linux 6.3 removed the target; iptables 1.8.9 still reads its
            // options and then finds no kernel module. Kernels before 6.3
            // (RHEL 9's, Ubuntu 22.04's) still load it, so this is a
            // warning: an error would be false on those hosts.
            let mut finding = Finding::new(
                &codes::UNKNOWN_EXTENSION,
                span.to(word.span),
                "Linux 6.3 removed the CLUSTERIP target: a host on 6.3 or later refuses the rule (older kernels load it, deprecated)",
            )
            .help("balance with `-m cluster` and a MARK or a multicast MAC (see iptables-extensions(8), cluster)");
            finding.severity = crate::diagnostic::Severity::Warning;
            self.findings.push(finding);
        }
        self.rule.target = Some(Target {
            name,
            at: Default::default(),
            jump: if goto { JumpKind::Goto } else { JumpKind::Jump },
            kind,
            options: crate::model::List::new(),
        });
        self.rule.set_target_span(span.to(word.span));
        self.matches_before_target = self.rule.matches.len();
        self.owner = Some(Owner::Target);
    }

    /// The loaded modelled extension that takes `--name` by that exact name:
    /// the one loaded last. iptables puts each newly loaded extension's
    /// options before the older ones in getopt's table, so of two that know
    /// a name the newer wins: `-j CT --helper ftp -m helper --helper ftp`
    /// gives the second `--helper` to the helper match. When the newest that
    /// knows it is an unmodelled extension, `resolve_owner` gives it.
    fn resolve_exact(&self, name: &str) -> Option<(Owner, &'static OptionSpec)> {
        // Load order: match `i` at 2i, the target between the matches
        // loaded before it and those after.
        let target_at = 2 * self.matches_before_target as isize - 1;
        let target = self
            .rule
            .target
            .as_ref()
            .filter(|t| t.kind == TargetKind::Extension)
            .and_then(|t| Some((target_at, target_spec(&t.name)?.option(name)?)));
        let newest_match = self
            .rule
            .matches
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| Some((i, 2 * i as isize, match_spec(&m.module)?.option(name)?)));
        let newest_unmodelled = self
            .rule
            .matches
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                !m.modelled && super::option_checks::unmodelled_arity(&m.module, name).is_some()
            })
            .map(|(i, _)| 2 * i as isize)
            .max();
        let (loaded_at, found) = match (target, newest_match) {
            (Some((t_at, spec)), Some((_, m_at, _))) if t_at > m_at => {
                (t_at, (Owner::Target, spec))
            }
            (_, Some((i, m_at, spec))) => (m_at, (Owner::Match(i), spec)),
            (Some((t_at, spec)), None) => (t_at, (Owner::Target, spec)),
            (None, None) => return None,
        };
        if newest_unmodelled.is_some_and(|u| u > loaded_at) {
            return None;
        }
        Some(found)
    }

    /// Finds who takes `--name`: the most recently loaded extension that knows
    /// it, then the target, then the protocol's implicit match; an unmodelled
    /// extension takes whatever follows it.
    fn resolve_owner(
        &mut self,
        name: &str,
        span: Span,
    ) -> Option<(Owner, Option<&'static OptionSpec>)> {
        if let Some((owner, spec)) = self.resolve_exact(name) {
            return Some((owner, Some(spec)));
        }
        let proto = self
            .rule
            .protocol
            .as_ref()
            .filter(|p| !p.negated)
            .and_then(|p| p.value.number);
        if let Some(module) = proto.and_then(protocol_match)
            && let Some(spec) = match_spec(module).and_then(|s| s.option(name))
        {
            let i = self.load_implicit_match(module, span);
            return Some((Owner::Match(i), Some(spec)));
        }
        // An option of an extension iptlint does not model. Of those whose
        // options iptlint knows (`policy`, `CHECKSUM`), only one that takes
        // the name can have it.
        let knows =
            |extension: &str| super::option_checks::unmodelled_arity(extension, name).is_some();
        let takes = |extension: &str| {
            super::option_checks::unmodelled_options(extension).is_none() || knows(extension)
        };
        // One that takes the name for certain comes first: an unmodelled
        // extension loaded after it most likely does not take that name.
        if let Some(t) = self.rule.target.as_ref()
            && t.kind == TargetKind::Other
            && knows(&t.name)
        {
            return Some((Owner::Target, None));
        }
        if let Some(i) = self
            .rule
            .matches
            .iter()
            .rposition(|m| !m.modelled && knows(&m.module))
        {
            return Some((Owner::Match(i), None));
        }
        let other_target = self
            .rule
            .target
            .as_ref()
            .is_some_and(|t| t.kind == TargetKind::Other && takes(&t.name));
        match self.owner {
            Some(Owner::Match(i))
                if !self.rule.matches[i].modelled && takes(&self.rule.matches[i].module) =>
            {
                Some((Owner::Match(i), None))
            }
            Some(Owner::Target) if other_target => Some((Owner::Target, None)),
            // iptables asks every loaded extension, not only the last one: an
            // option after `-m udp` can still belong to an unmodelled target
            // or match loaded before (`-j CHECKSUM -m udp ... --checksum-fill`).
            _ if other_target => Some((Owner::Target, None)),
            _ => match self
                .rule
                .matches
                .iter()
                .rposition(|m| !m.modelled && takes(&m.module))
            {
                Some(i) => Some((Owner::Match(i), None)),
                None => self.implicit_unmodelled_match(name, span),
            },
        }
    }

    /// `-p esp`, `-p ah` and `-p mh` load the match of that name for an
    /// option nothing else takes, as `-p tcp` loads `tcp`; iptlint does not
    /// model them, so their options are kept raw. iptables names the match
    /// after the protocol as written, or for a number after its first name
    /// in libxtables' own table: 50 is `esp`, 51 `ah`, but 135 is `ipv6-mh`,
    /// which is no match, so only `-p mh` (any case) loads `mh`.
    fn implicit_unmodelled_match(
        &mut self,
        name: &str,
        span: Span,
    ) -> Option<(Owner, Option<&'static OptionSpec>)> {
        let p = self.rule.protocol.as_ref().filter(|p| !p.negated)?;
        let module = match p.value.number? {
            50 => "esp",
            51 => "ah",
            135 if self
                .rule
                .protocol_written()
                .is_some_and(|w| w.eq_ignore_ascii_case("mh")) =>
            {
                "mh"
            }
            _ => return None,
        };
        if self.rule.matches.iter().any(|m| m.module == module) {
            return None;
        }
        // The match is loaded for an option it takes (`--espspi`), not for
        // `--dport`.
        if super::option_checks::unmodelled_options(module)
            .is_some_and(|(_, names)| !names.iter().any(|n| n.starts_with(name)))
        {
            return None;
        }
        let i = self.load_implicit_match(module, span);
        (!self.rule.matches[i].modelled).then_some((Owner::Match(i), None))
    }

    /// Loads `module` as `-p` loads it (the current owner of options stays)
    /// and returns its index among the rule's matches.
    fn load_implicit_match(&mut self, module: &str, span: Span) -> usize {
        let saved = self.owner;
        self.load_match(
            &Arg {
                text: module.into(),
                span,
            },
            span,
            true,
        );
        self.owner = saved;
        self.rule.matches.len() - 1
    }

    /// What getopt makes of a long option that neither iptables nor a loaded
    /// extension takes by that exact name: `getopt_long` takes any
    /// abbreviation of exactly one option (`--proto` is `--protocol`), among
    /// iptables' own options and those of every extension loaded so far. So
    /// after `-m multiport`, `--dport` is multiport's `--dports`, not the
    /// tcp match's `--dport`. When no loaded option or several start so,
    /// iptables loads the protocol's match (`-p tcp`) and asks again.
    ///
    /// `Unknown` when the name is exact, abbreviates nothing iptlint knows,
    /// is one of iptables' commands, or when an extension iptlint does not
    /// know the options of is loaded (the name might be its option).
    fn expand_abbreviation(&self, name: &str) -> Abbreviation {
        use super::option_checks::unmodelled_options;
        if !name.starts_with("--") || name.len() <= 2 {
            return Abbreviation::Unknown;
        }
        // An extension whose options iptlint does not know: the name may be
        // one of them.
        let unknown_table = |extension: &str| unmodelled_options(extension).is_none();
        if self
            .rule
            .matches
            .iter()
            .any(|m| !m.modelled && unknown_table(&m.module))
            || self.rule.target.as_ref().is_some_and(|t| {
                (t.kind == TargetKind::Other && unknown_table(&t.name))
                    || (t.kind == TargetKind::Extension && target_spec(&t.name).is_none())
            })
        {
            return Abbreviation::Unknown;
        }
        // The options getopt knows now, by what it returns for each: the
        // extension (empty for iptables' own) and the canonical name. A
        // second instance of a match adds nothing: iptables merges each
        // module's options once, and the newest instance takes them.
        type Table = Vec<(&'static str, &'static str, &'static [&'static str])>;
        let mut table: Table = GLOBAL_LONG_OPTIONS
            .iter()
            .map(|(identity, names)| ("", *identity, *names))
            .collect();
        let spec_options =
            |table: &mut Table, owner: &'static str, spec: &'static ExtensionSpec| {
                table.extend(spec.options.iter().map(|o| (owner, o.canonical(), o.names)));
            };
        let mut modules: Vec<&str> = Vec::new();
        for m in &self.rule.matches {
            let module = m.module.as_str();
            if modules.contains(&module) {
                continue;
            }
            modules.push(module);
            if let Some(spec) = match_spec(module) {
                spec_options(&mut table, spec.name, spec);
            } else if let Some((extension, names)) = unmodelled_options(module) {
                table.extend(
                    names
                        .iter()
                        .map(|n| (extension, *n, std::slice::from_ref(n))),
                );
            }
        }
        if let Some(t) = self.rule.target.as_ref() {
            if let Some(spec) = target_spec(&t.name).filter(|_| t.kind == TargetKind::Extension) {
                spec_options(&mut table, spec.name, spec);
            } else if let Some((extension, names)) =
                unmodelled_options(&t.name).filter(|_| t.kind == TargetKind::Other)
            {
                table.extend(
                    names
                        .iter()
                        .map(|n| (extension, *n, std::slice::from_ref(n))),
                );
            }
        }
        let exact = |table: &Table| table.iter().any(|(_, _, names)| names.contains(&name));
        let shown = |owner: &str, full: &str| match owner {
            "" => format!("`{full}`"),
            owner => format!("`{full}` of `{owner}`"),
        };
        let pick = |table: &Table| -> Abbreviation {
            let mut found: Option<(&str, &str, &'static str)> = None;
            for (owner, canonical, names) in table {
                let Some(full) = names.iter().find(|n| n.starts_with(name)) else {
                    continue;
                };
                match found {
                    Some((o, c, first)) if (o, c) != (*owner, *canonical) => {
                        return Abbreviation::Ambiguous(shown(o, first), shown(owner, full));
                    }
                    Some(_) => {}
                    None => found = Some((owner, canonical, full)),
                }
            }
            match found {
                Some((_, _, full)) => Self::rule_option(full),
                None => Abbreviation::Unknown,
            }
        };
        if exact(&table) {
            return Abbreviation::Unknown;
        }
        let first = pick(&table);
        if let Abbreviation::Full(_) = first {
            return first;
        }
        // Nothing or several: iptables loads the protocol's match and asks again.
        let module = self
            .rule
            .protocol
            .as_ref()
            .filter(|p| !p.negated)
            .and_then(|p| p.value.number)
            .and_then(protocol_match)
            .filter(|m| !modules.contains(m));
        match module.and_then(match_spec) {
            Some(spec) => {
                spec_options(&mut table, spec.name, spec);
                if exact(&table) {
                    // The protocol's match takes it: the usual path loads it.
                    return Abbreviation::Unknown;
                }
                pick(&table)
            }
            None => first,
        }
    }

    /// A full name found for an abbreviation, unless it is one of iptables'
    /// commands or options a rule does not take (left to the usual report).
    fn rule_option(full: &'static str) -> Abbreviation {
        let command = GLOBAL_LONG_OPTIONS
            .iter()
            .any(|(identity, names)| names.contains(&full) && !RULE_OPTIONS.contains(identity));
        if command {
            Abbreviation::Unknown
        } else {
            Abbreviation::Full(full)
        }
    }

    /// The option names iptlint knows of an unmodelled extension (none
    /// when it knows none).
    fn unmodelled_names(&self, owner: Owner) -> &'static [&'static str] {
        let extension = match owner {
            Owner::Match(i) => Some(self.rule.matches[i].module.as_str()),
            Owner::Target => self.rule.target.as_ref().map(|t| t.name.as_str()),
        };
        extension
            .and_then(super::option_checks::unmodelled_options)
            .map_or(&[], |(_, names)| names)
    }

    /// The arity of an unmodelled extension's option, where iptlint knows it.
    fn unmodelled_arity(&self, owner: Owner, option: &str) -> Option<usize> {
        let extension = match owner {
            Owner::Match(i) => self.rule.matches[i].module.as_str(),
            Owner::Target => self.rule.target.as_ref()?.name.as_str(),
        };
        super::option_checks::unmodelled_arity(extension, option)
    }

    fn extension_option(&mut self, token: &Token, bang: Option<Span>) {
        let mut name = token.text.as_str();
        let resolved = match self.resolve_exact(name) {
            Some((owner, spec)) => Some((owner, Some(spec))),
            None => {
                match self.expand_abbreviation(name) {
                    Abbreviation::Unknown => {}
                    Abbreviation::Full(full) => match generic_option(full) {
                        Some(generic) => return self.generic_option(token, generic, bang),
                        None => name = full,
                    },
                    Abbreviation::Ambiguous(a, b) => {
                        return self.ambiguous_option(token, &a, &b);
                    }
                }
                self.resolve_owner(name, token.span)
            }
        };
        let Some((owner, spec)) = resolved else {
            return self.orphan_option(token);
        };
        let (words, old_neg) = match spec {
            Some(spec) => match self.take_values(token, spec.kind.arity()) {
                Some(v) => v,
                None => return,
            },
            None if let Some(arity) = self.unmodelled_arity(owner, name) => {
                match self.take_values(token, arity) {
                    Some(v) => v,
                    None => return,
                }
            }
            None => {
                // An option iptlint does not model takes one argument if one
                // follows (getopt's optional argument); only the SET target's
                // set options take two. A further word is a stray argument,
                // which iptables refuses (Bad argument).
                let most = if matches!(name, "--add-set" | "--del-set" | "--map-set") {
                    2
                } else {
                    1
                };
                let mut words: Args = inline_word(token).into_iter().collect();
                while words.len() < most {
                    match self.take_word() {
                        Some(w) => words.push(w),
                        None => break,
                    }
                }
                (words, false)
            }
        };
        let value = match spec {
            Some(spec) => match typed_value(spec.kind, &words) {
                // An unterminated quote takes the line's newline into the prefix.
                Ok(Value::Text)
                    if words.first().is_some_and(|w| w.text.contains('\n'))
                        && matches!(spec.canonical(), "--log-prefix" | "--nflog-prefix") =>
                {
                    self.error(
                        &codes::INVALID_VALUE,
                        token.span,
                        format!("`{name}`: a newline in the prefix; iptables refuses it (Newlines not allowed in --log-prefix)"),
                    );
                    Value::Text
                }
                Ok(Value::Text)
                    if words.first().is_some_and(|w| w.text.is_empty())
                        && matches!(spec.canonical(), "--log-prefix" | "--nflog-prefix") =>
                {
                    self.error(
                        &codes::INVALID_VALUE,
                        words.first().map_or(token.span, |w| w.span),
                        format!("`{name}`: an empty prefix; iptables refuses it (Argument must have a minimum length of 1 characters): leave the option out for no prefix"),
                    );
                    Value::Text
                }
                Ok(v) => v,
                Err((e, span)) => {
                    self.error(&codes::INVALID_VALUE, span, format!("`{name}`: {e}"));
                    Value::Raw
                }
            },
            None => Value::Raw,
        };
        let start = bang.unwrap_or(token.span);
        let span = words
            .last()
            .map_or(start.to(token.span), |w| start.to(w.span));
        let name = spec.map_or(name, |s| s.canonical());
        // Names from iptlint's tables are borrowed, not copied: a name
        // longer than 15 bytes (`--to-destination`) would otherwise be
        // allocated for every rule that has it.
        let known = match spec {
            Some(spec) => spec.names,
            None => self.unmodelled_names(owner),
        };
        let rule_span = self.rule.span;
        let mut option = MatchOption {
            alias: (token.text != name).then(|| Box::new(known_or_copied(&token.text, known))),
            name: known_or_copied(name, known),
            negated: bang.is_some() || old_neg,
            at: Default::default(),
            words: words
                .into_iter()
                .map(|a| Word::new(a.text, a.span, rule_span))
                .collect::<Words>(),
            value,
        };
        option.set_span_in(span, rule_span);
        // A modelled extension's option may appear once per match or target.
        let siblings = match owner {
            Owner::Match(i) => Some(&self.rule.matches[i].options),
            Owner::Target => self.rule.target.as_ref().map(|t| &t.options),
        };
        if spec.is_some() && siblings.is_some_and(|o| o.iter().any(|o| o.name == option.name)) {
            self.error(
                &codes::SYNTAX_ERROR,
                token.span,
                format!(
                    "{} a second time: iptables refuses the rule (option \"{}\" can only be used once)",
                    as_read(&token.text, name),
                    option.name
                ),
            );
        }
        match owner {
            Owner::Match(i) => push_small(&mut self.rule.matches[i].options, option),
            Owner::Target => {
                if let Some(t) = self.rule.target.as_mut() {
                    push_small(&mut t.options, option)
                }
            }
        }
    }

    /// An abbreviation of two options or more: getopt refuses it, and so
    /// does iptables ("unknown option"). Its arguments are skipped.
    fn ambiguous_option(&mut self, token: &Token, a: &str, b: &str) {
        if let TokenKind::Option { inline: None } = token.kind {
            while self.tokens.get(self.pos).is_some_and(|t| t.is_value()) {
                self.pos += 1;
            }
        }
        self.findings.push(
            Finding::new(
                &codes::UNKNOWN_OPTION,
                token.span,
                format!(
                    "`{}` is ambiguous: it abbreviates both {a} and {b}, so iptables refuses it (unknown option)",
                    token.text
                ),
            )
            .help(format!("write the option in full, {a} or {b}")),
        );
    }

    /// An option nobody loaded takes: either a protocol option without its
    /// `-p`, or an unknown option.
    fn orphan_option(&mut self, token: &Token) {
        let name = token.text.as_str();
        let wants: Vec<&str> = ["tcp", "udp", "sctp", "dccp", "icmp", "icmp6"]
            .into_iter()
            .filter(|m| match_spec(m).is_some_and(|s| s.option(name).is_some()))
            .collect();
        // Skip the option's arguments so they are not reported again.
        if let TokenKind::Option { inline: None } = token.kind {
            while self.tokens.get(self.pos).is_some_and(|t| t.is_value()) {
                self.pos += 1;
            }
        }
        if !wants.is_empty() {
            let protos = wants
                .iter()
                .map(|m| format!("`-p {}`", if *m == "icmp6" { "icmpv6" } else { m }))
                .collect::<Vec<_>>();
            self.findings.push(
                Finding::new(
                    &codes::OPTION_NEEDS_PROTOCOL,
                    token.span,
                    format!("`{name}` needs a protocol: {}", protos.join(" or ")),
                )
                .help(format!("add {} before `{name}`", protos[0])),
            );
        } else {
            self.findings.push(
                Finding::new(&codes::UNKNOWN_OPTION, token.span, format!("unknown option `{name}`"))
                    .help("no match loaded with `-m` and no target takes this option; is a `-m MODULE` missing?"),
            );
        }
    }
}

/// `text` borrowed from `known` (names from iptlint's own tables) when it
/// is one of them, else copied.
fn known_or_copied(text: &str, known: &'static [&'static str]) -> Text {
    known
        .iter()
        .find(|k| **k == text)
        .map_or_else(|| text.into(), |k| Text::from_static(k))
}

/// `-m NAME` without the `-p PROTOCOL` its kernel match requires.
fn needs_protocol(rule: &Rule, m: &Match, protocol: &str) -> Finding {
    Finding::new(
        &codes::OPTION_NEEDS_PROTOCOL,
        m.span_in(rule),
        format!("`-m {}` only works with `-p {protocol}`", m.module),
    )
    .help(format!("add `-p {protocol}` before `-m {}`", m.module))
}

/// What a rule's family decides once the dump's family is known: IPv4's
/// `ah` match requires `-p ah` (the kernel refuses the rule otherwise),
/// while ip6tables' `ah` matches the AH extension header behind any
/// protocol.
pub(super) fn family_findings(family: Family, rule: &Rule) -> Vec<Finding> {
    if family != Family::Ipv4 {
        return Vec::new();
    }
    let ah = rule
        .protocol
        .as_ref()
        .is_some_and(|p| !p.negated && p.value.number == Some(51));
    rule.matches
        .iter()
        .filter(|m| m.module == "ah" && !m.implicit && !ah)
        .map(|m| needs_protocol(rule, m, "ah"))
        .collect()
}

/// `--tcp-flags` lists: flag names in any case, commas, empty items
/// ignored, as the tcp match reads them.
fn check_tcp_flags(w: &Arg) -> Result<(), (String, Span)> {
    const FLAGS: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ALL", "NONE"];
    for part in w.text.split(',').filter(|p| !p.is_empty()) {
        if !FLAGS.iter().any(|f| f.eq_ignore_ascii_case(part)) {
            return Err((
                format!(
                    "`{part}` is not a TCP flag iptables knows ({}): it refuses the rule",
                    FLAGS.join(", ")
                ),
                w.span,
            ));
        }
    }
    Ok(())
}

/// A `--limit` rate: `N[/second|minute|hour|day]`, the unit any non-empty
/// prefix, in any case. The limit match reads N as C's `atoi` does
/// (leading digits, an optional sign, wrapping to 32 bits), refuses 0, and
/// refuses a rate whose interval `10000 * seconds / N` rounds to zero.
fn check_rate(text: &str) -> Result<(), String> {
    let (number, unit) = match text.split_once('/') {
        Some((n, u)) => (n, Some(u)),
        None => (text, None),
    };
    let seconds: u32 = match unit {
        None => 1,
        Some(u) => {
            let u = u.to_ascii_lowercase();
            match [
                ("second", 1),
                ("minute", 60),
                ("hour", 3600),
                ("day", 86_400),
            ]
            .into_iter()
            .find(|(name, _)| !u.is_empty() && name.starts_with(&u))
            {
                Some((_, s)) => s,
                None => {
                    return Err(format!(
                        "bad rate `{text}`: the unit is second, minute, hour or day (or a prefix)"
                    ));
                }
            }
        }
    };
    let (negative, digits) = signed_digits(number.trim_start());
    let value: i64 = digits.bytes().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    let value = if negative { -value } else { value };
    let per = value as i32 as u32;
    if per == 0 {
        return Err(format!("bad rate `{text}`: iptables reads it as 0"));
    }
    if 10_000 * seconds / per == 0 {
        return Err(format!(
            "rate `{text}` is too fast: the kernel counts at most 10000 per second"
        ));
    }
    Ok(())
}

/// An optional sign and the run of decimal digits after it, as C's number
/// scanners read them (what follows the digits is left).
fn signed_digits(text: &str) -> (bool, &str) {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (negative, &rest[..end])
}

/// A counter as `sscanf("%llu")` reads it: white space, an optional sign,
/// then at least one digit; what follows is ignored, a minus wraps.
fn scan_counter(text: &str) -> Option<u64> {
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = signed_digits(rest);
    if digits.is_empty() {
        return None;
    }
    let value = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// An option's name as written, and as getopt reads it when it abbreviates.
fn as_read(written: &str, full: &str) -> String {
    if written == full {
        format!("`{full}`")
    } else {
        format!("`{written}` (getopt reads `{full}`)")
    }
}

/// The short name of one of iptables' own rule options, by any of its names.
fn generic_option(name: &str) -> Option<&'static str> {
    Some(match name {
        "-s" | "--source" | "--src" => "-s",
        "-d" | "--destination" | "--dst" => "-d",
        "-p" | "--protocol" => "-p",
        "-i" | "--in-interface" => "-i",
        "-o" | "--out-interface" => "-o",
        "-f" | "--fragment" | "--fragments" => "-f",
        "-j" | "--jump" => "-j",
        "-g" | "--goto" => "-g",
        "-m" | "--match" => "-m",
        "-c" | "--set-counters" => "-c",
        "-4" | "--ipv4" => "-4",
        "-6" | "--ipv6" => "-6",
        // iptables-restore prints the rule it reads and loads it as usual.
        "-v" | "--verbose" => "-v",
        _ => return None,
    })
}

/// The value of `--option=value`, as a word.
fn inline_word(option: &Token) -> Option<Arg> {
    match &option.kind {
        TokenKind::Option {
            inline: Some((text, span)),
        } => Some(Arg {
            text: text.as_str().into(),
            span: *span,
        }),
        _ => None,
    }
}

fn one(words: &[Arg]) -> &Arg {
    &words[0]
}

/// Reads an option's words as the value its kind says.
fn typed_value(kind: ValueKind, words: &[Arg]) -> Result<Value, (String, Span)> {
    fn err(w: &Arg) -> impl Fn(String) -> (String, Span) + '_ {
        move |e| (e, w.span)
    }
    Ok(match kind {
        ValueKind::Flag => Value::None,
        ValueKind::Net => Value::Net(Box::new(
            Net::parse(&one(words).text).map_err(err(one(words)))?,
        )),
        ValueKind::PortRange => Value::Ports(crate::model::list![
            PortRange::parse(&one(words).text).map_err(err(one(words)))?,
        ]),
        ValueKind::PortList => {
            let w = one(words);
            let mut ports = Vec::new();
            let mut slots = 0;
            for part in w.text.split(',') {
                let range = PortRange::parse(part).map_err(err(w))?;
                // multiport wants both ends of a range, the first lower.
                if let Some((a, b)) = part.split_once(':') {
                    if a.is_empty() || b.is_empty() {
                        return Err((
                            format!("`{part}`: a multiport range needs both ends"),
                            w.span,
                        ));
                    }
                    if range.lo >= range.hi {
                        return Err((
                            format!(
                                "`{part}`: a multiport range must run upwards (invalid portrange specified)"
                            ),
                            w.span,
                        ));
                    }
                }
                slots += if part.contains(':') { 2 } else { 1 };
                ports.push(range);
            }
            if slots > 15 {
                return Err((
                    "too many ports: at most 15, and a range counts as two".into(),
                    w.span,
                ));
            }
            Value::Ports(ports.into())
        }
        ValueKind::Interface => {
            Value::Interface(Interface::parse(&one(words).text).map_err(err(one(words)))?)
        }
        ValueKind::States | ValueKind::PlainStates => {
            let w = one(words);
            let mut states = Vec::new();
            for part in w.text.split(',') {
                let state = CtState::parse(part).map_err(err(w))?;
                if kind == ValueKind::PlainStates && matches!(state, CtState::Snat | CtState::Dnat)
                {
                    return Err((
                        format!(
                            "`{part}` is a conntrack status, not a state: `-m state` refuses it (use `-m conntrack --ctstate {part}`)"
                        ),
                        w.span,
                    ));
                }
                states.push(state);
            }
            Value::States(states.into())
        }
        ValueKind::TcpFlags => {
            for w in words {
                check_tcp_flags(w)?;
            }
            Value::Words(words.iter().map(|w| w.text.clone()).collect())
        }
        ValueKind::Rate => {
            let w = one(words);
            check_rate(&w.text).map_err(err(w))?;
            Value::Text
        }
        ValueKind::NatPorts => {
            let w = one(words);
            if w.text.contains(':') {
                return Err((
                    format!(
                        "`{}`: write the port range with a dash (`1024-2048`); iptables refuses a colon",
                        w.text
                    ),
                    w.span,
                ));
            }
            Value::Ports(crate::model::list![
                parse_nat_ports(&w.text).map_err(err(w))?
            ])
        }
        ValueKind::NumberUpTo(max) => {
            let w = one(words);
            // Read as strtoul with base 0 reads it, like every number option.
            match parse_u32(&w.text) {
                Ok(n) if n <= max => Value::Number(n),
                _ => {
                    return Err((
                        format!("`{}` is not a number from 0 to {max}", w.text),
                        w.span,
                    ));
                }
            }
        }
        ValueKind::Mark => Value::Mark(MarkMask::parse(&one(words).text).map_err(err(one(words)))?),
        ValueKind::Number => Value::Number(parse_u32(&one(words).text).map_err(err(one(words)))?),
        ValueKind::Range => {
            Value::Range(NumRange::parse(&one(words).text).map_err(err(one(words)))?)
        }
        ValueKind::AddrRange => Value::AddrRange(Box::new(
            AddrRange::parse(&one(words).text).map_err(err(one(words)))?,
        )),
        ValueKind::Nat => Value::Nat(NatSpec::new(
            NatRange::parse(&one(words).text).map_err(err(one(words)))?,
        )),
        ValueKind::ServicePort => {
            let w = one(words);
            let digits = w.text.strip_prefix('+').unwrap_or(&w.text);
            let port = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // strtoul (saturating at 2^64 - 1) into a 16-bit field.
                (digits.parse::<u64>().unwrap_or(u64::MAX) % 65536) as u16
            } else {
                crate::model::parse_port(&w.text).map_err(|_| {
                    (
                        format!("`{}` is not a port number or known service name (iptables: Port does not resolve to anything)", w.text),
                        w.span,
                    )
                })?
            };
            Value::Ports(crate::model::list![PortRange { lo: port, hi: port }])
        }
        // The text stays in the option's word.
        ValueKind::Text | ValueKind::Word => Value::Text,
        ValueKind::Choice(choices) => {
            let w = one(words);
            if !choices.contains(&w.text.as_str()) {
                return Err((
                    format!("`{}` is not one of {}", w.text, choices.join(", ")),
                    w.span,
                ));
            }
            Value::Text
        }
        ValueKind::WordList(allowed) => {
            let w = one(words);
            let mut out = crate::model::List::new();
            for part in w.text.split(',') {
                let upper = part.to_ascii_uppercase();
                if !allowed.contains(&upper.as_str()) {
                    return Err((
                        format!("`{part}` is not one of {}", allowed.join(", ")),
                        w.span,
                    ));
                }
                out.push(upper.into());
            }
            Value::Words(out)
        }
        ValueKind::Pair => Value::Words(words.iter().map(|w| w.text.clone()).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::check_rate;

    // Each case was loaded with the real iptables-restore 1.8.9.
    #[test]
    fn rates_the_limit_match_accepts() {
        for rate in [
            "5",
            "5/s",
            "5/sec",
            "5/second",
            "5/SEC",
            "5/m",
            "5/min",
            "5/h",
            "5/hour",
            "5/d",
            "5/day",
            "10000/s",
            "600000/min",
            "5abc/sec",
            "05/sec",
            "1/d",
        ] {
            assert_eq!(check_rate(rate), Ok(()), "{rate}");
        }
    }

    #[test]
    fn rates_the_limit_match_refuses() {
        for rate in [
            "5/secs",
            "5/ms",
            "5/",
            "5/minutes",
            "5/fortnight",
            "0/sec",
            "0x10/sec",
            "4294967296/s",
            "10001/s",
            "600001/min",
            "-5/sec",
            "abc",
        ] {
            assert!(check_rate(rate).is_err(), "{rate}");
        }
    }
}
