//! Reading iptables-restore text into the model.
//!
//! The pest grammar (`grammar/iptables.pest`) splits each line into a table
//! header, chain declaration, `COMMIT`, comment or command words. The builder
//! here applies the lines in order, the way iptables-restore does, and
//! [`rule_spec`] gives the words of a rule their meaning. Every problem becomes
//! a [`Finding`]; parsing never stops at the first one.

mod rule_spec;
mod tokens;

use std::collections::HashMap;

use pest::Parser;
use pest::iterators::Pair;

use crate::codes;
use crate::diagnostic::Finding;
use crate::model::{
    AddrSpec, Chain, CommentLine, Counters, Family, Policy, Rule, Ruleset, Span, Table, TableName,
    Value,
};
use tokens::{Token, TokenKind};

/// The pest parser; its `Rule` names grammar rules, so it lives apart from the
/// model's `Rule`.
pub mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/iptables.pest"]
    pub struct IptablesParser;
}
use grammar::{IptablesParser, Rule as G};

/// The model of one file and every problem found while reading it.
#[derive(Debug)]
pub struct Parsed {
    pub ruleset: Ruleset,
    pub findings: Vec<Finding>,
}

/// Parses iptables-restore text. `family` comes from the caller when known
/// (file name, `--family`); otherwise the addresses in the file decide.
pub fn parse(text: &str, family: Option<Family>) -> Parsed {
    let mut builder = Builder::default();
    let mut offset = 0usize;
    let mut crlf_lines = 0usize;
    let mut first_crlf: Option<Span> = None;
    let mut line_no = 0u32;
    for raw_line in text.split_inclusive('\n') {
        line_no += 1;
        let mut line = raw_line.strip_suffix('\n').unwrap_or(raw_line);
        if let Some(stripped) = line.strip_suffix('\r') {
            crlf_lines += 1;
            if first_crlf.is_none() {
                let at = offset + stripped.len();
                first_crlf = Some(Span {
                    start: at as u32,
                    end: at as u32 + 1,
                    line: line_no,
                    column: column(stripped, stripped.len()),
                });
            }
            line = stripped;
        }
        builder.line(line, offset, line_no);
        offset += raw_line.len();
    }
    // iptables-restore reports a missing COMMIT on the line after the last one.
    let eof = Span {
        start: text.len() as u32,
        end: text.len() as u32,
        line: line_no + 1,
        column: 1,
    };
    let eof = if text.is_empty() || text.ends_with('\n') {
        eof
    } else {
        Span {
            line: line_no,
            column: column(
                text.rsplit('\n').next().unwrap_or(""),
                text.rsplit('\n').next().unwrap_or("").len(),
            ),
            ..eof
        }
    };
    builder.finish(eof);
    if let Some(span) = first_crlf {
        builder.findings.push(
            Finding::new(
                &codes::CRLF_LINE,
                span,
                format!("{crlf_lines} line(s) end with CRLF: iptables-restore keeps the carriage return as part of the last word (`*filter` becomes table `filter\\r`)"),
            )
            .help("convert the file to LF line endings (dos2unix)"),
        );
    }
    let mut ruleset = Ruleset {
        family: Family::Ipv4,
        tables: builder.tables,
        comments: builder.comments,
    };
    ruleset.family = family.unwrap_or_else(|| guess_family(&ruleset));
    let mut findings = builder.findings;
    check_families(&mut ruleset, &mut findings);
    Parsed { ruleset, findings }
}

/// 1-based character column of byte `at` in `line`.
fn column(line: &str, at: usize) -> u32 {
    let prefix = &line[..at.min(line.len())];
    let n = if prefix.is_ascii() {
        prefix.len()
    } else {
        prefix.chars().count()
    };
    n as u32 + 1
}

/// IPv6 when the file's addresses are IPv6 and none are IPv4.
fn guess_family(ruleset: &Ruleset) -> Family {
    let (mut v4, mut v6) = (0usize, 0usize);
    for rule in ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
    {
        for a in rule
            .source
            .iter()
            .chain(rule.destination.iter())
            .flat_map(|n| &n.value)
        {
            if let AddrSpec::Net(net) = a {
                match net.family() {
                    Family::Ipv4 => v4 += 1,
                    Family::Ipv6 => v6 += 1,
                }
            }
        }
        if rule
            .protocol
            .as_ref()
            .is_some_and(|p| p.value.number == Some(58))
        {
            v6 += 1;
        }
    }
    if v6 > 0 && v4 == 0 {
        Family::Ipv6
    } else {
        Family::Ipv4
    }
}

/// Drops rules meant only for the other family (`-6` in an iptables dump),
/// as iptables-restore does, and reports addresses of the wrong family.
fn check_families(ruleset: &mut Ruleset, findings: &mut Vec<Finding>) {
    let family = ruleset.family;
    let tool = if family == Family::Ipv4 {
        "iptables"
    } else {
        "ip6tables"
    };
    for table in &mut ruleset.tables {
        for chain in &mut table.chains {
            chain
                .rules
                .retain(|r| r.only_family.is_none_or(|f| f == family));
            for (index, rule) in chain.rules.iter().enumerate() {
                let mut nets = Vec::new();
                for (slot, span) in [
                    (&rule.source, rule.generic_spans.source),
                    (&rule.destination, rule.generic_spans.destination),
                ] {
                    if let Some(slot) = slot {
                        nets.extend(slot.value.iter().filter_map(|a| match a {
                            AddrSpec::Net(n) => Some((*n, span.unwrap_or(rule.span))),
                            AddrSpec::Host(_) => None,
                        }));
                    }
                }
                for m in &rule.matches {
                    for o in &m.options {
                        if let Value::Net(n) = o.value {
                            nets.push((n, o.span));
                        }
                    }
                }
                for (net, span) in nets {
                    if net.family() != family {
                        findings.push(
                            Finding::new(
                                &codes::FAMILY_MISMATCH,
                                span,
                                format!(
                                    "`{net}` is an {} address, but this is an {tool} dump",
                                    net.family().as_str().replace("ipv", "IPv")
                                ),
                            )
                            .at_rule(table.name, &chain.name, Some(index + 1))
                            .help("use `--family` if iptlint guessed the family wrong"),
                        );
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Builder {
    tables: Vec<Table>,
    comments: Vec<CommentLine>,
    findings: Vec<Finding>,
    open: Option<OpenTable>,
    /// After `-h`, iptables-restore has exited: the rest is never applied.
    stopped: bool,
}

struct OpenTable {
    table: Table,
    index: HashMap<String, usize>,
}

impl OpenTable {
    /// A table starts with its builtin chains: the kernel always has them.
    fn new(name: TableName, span: Span) -> OpenTable {
        let mut open = OpenTable {
            table: Table {
                name,
                span,
                chains: Vec::new(),
                commit: None,
            },
            index: HashMap::new(),
        };
        for builtin in name.builtin_chains() {
            open.chain_mut(builtin, span, true);
        }
        open
    }

    fn chain_mut(&mut self, name: &str, span: Span, declare: bool) -> &mut Chain {
        let idx = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let builtin = self.table.name.builtin_chains().contains(&name);
                self.table.chains.push(Chain {
                    name: name.to_string(),
                    span,
                    builtin,
                    declared: declare,
                    policy: None,
                    counters: None,
                    rules: Vec::new(),
                });
                self.index
                    .insert(name.to_string(), self.table.chains.len() - 1);
                self.table.chains.len() - 1
            }
        };
        let chain = &mut self.table.chains[idx];
        if declare && !chain.declared {
            chain.declared = true;
            chain.span = span;
        }
        chain
    }

    fn reindex(&mut self) {
        self.index = self
            .table
            .chains
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
    }
}

/// Where a line starts in the file, to turn positions in the line into spans.
#[derive(Clone, Copy)]
struct LineCtx<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
}

impl LineCtx<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: (self.offset + start) as u32,
            end: (self.offset + end) as u32,
            line: self.line,
            column: column(self.text, start),
        }
    }

    fn pair_span(&self, pair: &Pair<'_, G>) -> Span {
        let s = pair.as_span();
        self.span(s.start(), s.end())
    }

    fn whole(&self) -> Span {
        let start = self.text.len() - self.text.trim_start().len();
        self.span(start, self.text.trim_end().len().max(start))
    }
}

impl Builder {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.findings
            .push(Finding::new(&codes::SYNTAX_ERROR, span, message));
    }

    fn line(&mut self, text: &str, offset: usize, line: u32) {
        let ctx = LineCtx { text, offset, line };
        if text.is_empty() || self.stopped {
            return;
        }
        let parsed = match IptablesParser::parse(G::line, text) {
            Ok(mut pairs) => pairs.next().expect("the line rule always yields a pair"),
            Err(e) => {
                let finding = describe_pest_error(&ctx, &e);
                self.findings.push(finding);
                return;
            }
        };
        let Some(content) = parsed.into_inner().find(|p| p.as_rule() != G::EOI) else {
            // Only spaces: iptables-restore says "no command specified".
            self.error(
                ctx.span(0, text.len()),
                "a line of only spaces: iptables-restore refuses it (no command specified)",
            );
            return;
        };
        let indented = text.starts_with([' ', '\t']);
        if indented && content.as_rule() != G::command_line {
            self.error(
                ctx.span(0, text.len() - text.trim_start().len()),
                "iptables-restore allows indentation only before a command; remove the leading spaces",
            );
            return;
        }
        match content.as_rule() {
            G::comment => {
                let body = content.into_inner().next().map_or("", |p| p.as_str());
                self.comments.push(CommentLine {
                    text: body.to_string(),
                    span: ctx.whole(),
                });
            }
            G::table_header => self.table_header(&ctx, content),
            G::chain_decl => self.chain_decl(&ctx, content),
            G::commit => self.commit(&ctx),
            G::command_line => self.command_line(&ctx, content),
            other => unreachable!("line yields only line kinds, got {other:?}"),
        }
    }

    fn table_header(&mut self, ctx: &LineCtx<'_>, pair: Pair<'_, G>) {
        let name_pair = pair.into_inner().next().expect("table_header has a name");
        let span = ctx.pair_span(&name_pair);
        if let Some(open) = &self.open {
            let previous = open.table.name;
            self.error(
                ctx.whole(),
                format!(
                    "`*{}` starts before table `{previous}` was closed with COMMIT",
                    name_pair.as_str()
                ),
            );
            return;
        }
        let Some(name) = TableName::parse(name_pair.as_str()) else {
            self.findings.push(
                Finding::new(
                    &codes::SYNTAX_ERROR,
                    span,
                    format!("unknown table `{}`", name_pair.as_str()),
                )
                .help("the tables are raw, mangle, nat, filter and security"),
            );
            // Read the block anyway, as a filter table, so later lines still get checked.
            self.open = Some(OpenTable::new(TableName::Filter, ctx.whole()));
            return;
        };
        self.open = Some(OpenTable::new(name, ctx.whole()));
    }

    fn require_table(&mut self, ctx: &LineCtx<'_>, what: &str) -> bool {
        if self.open.is_none() {
            self.error(
                ctx.whole(),
                format!("{what} outside a table: start the table with a line like `*filter`"),
            );
            return false;
        }
        true
    }

    fn chain_decl(&mut self, ctx: &LineCtx<'_>, pair: Pair<'_, G>) {
        if !self.require_table(ctx, "a chain declaration") {
            return;
        }
        let mut inner = pair.into_inner();
        let name = inner.next().expect("chain_decl has a name");
        let policy_pair = inner.next().expect("chain_decl has a policy");
        let counters = inner.next().map(|c| parse_counters(&c));
        let policy = match policy_pair.as_str() {
            "ACCEPT" => Some(Policy::Accept),
            "DROP" => Some(Policy::Drop),
            "-" => None,
            other => {
                let is_builtin = self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.table.name.builtin_chains().contains(&name.as_str()));
                if is_builtin {
                    self.findings.push(
                        Finding::new(
                            &codes::INVALID_VALUE,
                            ctx.pair_span(&policy_pair),
                            format!("`{other}` is not a chain policy"),
                        )
                        .help(
                            "a builtin chain's policy is ACCEPT or DROP; `-` keeps the current one",
                        ),
                    );
                }
                None
            }
        };
        let span = ctx.whole();
        let open = self.open.as_mut().expect("checked above");
        let chain = open.chain_mut(name.as_str(), span, true);
        chain.policy = policy;
        chain.counters = counters;
    }

    fn commit(&mut self, ctx: &LineCtx<'_>) {
        match self.open.take() {
            Some(mut open) => {
                open.table.commit = Some(ctx.whole());
                self.close(open.table);
            }
            None => self.error(ctx.whole(), "COMMIT without a table to commit"),
        }
    }

    /// A table that appears twice replaces the first: iptables-restore flushes
    /// a table when its block starts.
    fn close(&mut self, mut table: Table) {
        // Builtin chains first in hook order, then declared user chains, then
        // chains only ever used: the order iptables-save prints, whatever
        // order the file used, so that printing and parsing again is stable.
        let builtins = table.name.builtin_chains();
        table
            .chains
            .sort_by_key(|c| match builtins.iter().position(|b| *b == c.name) {
                Some(i) => i,
                None if c.declared => builtins.len(),
                None => builtins.len() + 1,
            });
        self.tables.retain(|t| t.name != table.name);
        self.tables.push(table);
    }

    fn finish(&mut self, eof: Span) {
        if self.stopped {
            if let Some(open) = self.open.take() {
                self.close(open.table);
            }
            return;
        }
        if let Some(open) = self.open.take() {
            let name = open.table.name;
            let header = open.table.span;
            self.findings.push(
                Finding::new(
                    &codes::SYNTAX_ERROR,
                    eof,
                    format!("the file ends without COMMIT for table `{name}`"),
                )
                .related(header, "the table starts here")
                .help("add a line `COMMIT` at the end of the table"),
            );
            self.close(open.table);
        }
    }

    fn command_line(&mut self, ctx: &LineCtx<'_>, pair: Pair<'_, G>) {
        let mut counters = None;
        let mut tokens = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                G::counters => counters = Some(parse_counters(&p)),
                _ => tokens.push(self.token(ctx, p)),
            }
        }
        if !self.require_table(ctx, "a command") {
            return;
        }
        // getopt lets `-4`/`-6` stand before the command.
        let Some(cmd_at) = tokens.iter().position(|t| {
            !matches!(t.text.as_str(), "-4" | "-6" | "--ipv4" | "--ipv6") || t.is_value()
        }) else {
            self.error(
                ctx.whole(),
                "no command: expected `-A CHAIN ...` or another command",
            );
            return;
        };
        let command = tokens[cmd_at].clone();
        let mut rest: Vec<Token> = tokens[..cmd_at].to_vec();
        rest.extend_from_slice(&tokens[cmd_at + 1..]);
        let cmd = match (&command.kind, command.text.as_str()) {
            (TokenKind::Option { .. }, "-A" | "--append") => "-A",
            (TokenKind::Option { .. }, "-I" | "--insert") => "-I",
            (TokenKind::Option { .. }, "-D" | "--delete") => "-D",
            (TokenKind::Option { .. }, "-R" | "--replace") => "-R",
            (TokenKind::Option { .. }, "-N" | "--new-chain") => "-N",
            (TokenKind::Option { .. }, "-X" | "--delete-chain") => "-X",
            (TokenKind::Option { .. }, "-F" | "--flush") => "-F",
            (TokenKind::Option { .. }, "-Z" | "--zero") => "-Z",
            (TokenKind::Option { .. }, "-P" | "--policy") => "-P",
            (TokenKind::Option { .. }, "-E" | "--rename-chain") => "-E",
            (
                TokenKind::Option { .. },
                "-C" | "--check" | "-L" | "--list" | "-S" | "--list-rules",
            ) => "-C",
            (TokenKind::Option { .. }, "-h" | "--help") => {
                self.findings.push(
                    Finding::new(&codes::RESTORE_STOPS_EARLY, command.span, "`-h` makes iptables-restore print its help and exit: no line after this one is applied")
                        .help("remove this line"),
                );
                self.stopped = true;
                return;
            }
            _ => {
                self.findings.push(
                    Finding::new(
                        &codes::SYNTAX_ERROR,
                        command.span,
                        format!(
                            "expected a command such as `-A CHAIN`, found `{}`",
                            command.text
                        ),
                    )
                    .help("each rule line starts with -A, -I, -D, -R, -N, -X, -F, -Z, -P or -E"),
                );
                return;
            }
        };
        // The chain argument: inline (`--append=INPUT`) or the next word.
        let (chain_name, chain_span, mut args) = match (&command.kind, rest.get(cmd_at)) {
            (
                TokenKind::Option {
                    inline: Some((text, span)),
                },
                _,
            ) => (Some(text.clone()), *span, rest.split_off(cmd_at)),
            (_, Some(t)) if t.is_value() => {
                let t = t.clone();
                let mut after = rest.split_off(cmd_at);
                after.remove(0);
                (Some(t.text), t.span, after)
            }
            _ => (None, command.span, rest.split_off(cmd_at)),
        };
        args.splice(0..0, rest);
        let optional_chain = matches!(cmd, "-X" | "-F" | "-Z" | "-C");
        let Some(chain_name) = chain_name else {
            if optional_chain {
                if cmd != "-C" {
                    self.whole_table_command(cmd);
                }
                return;
            }
            self.findings.push(Finding::new(
                &codes::SYNTAX_ERROR,
                command.span,
                format!("expected a chain name after `{}`", command.text),
            ));
            return;
        };
        let line_span = ctx.whole();
        let table_name = self.open.as_ref().expect("checked").table.name;
        match cmd {
            // Checks and listings change nothing; the rule is still read for errors.
            "-C" => {
                rule_spec::parse_rule(&args, line_span, chain_span, &mut self.findings);
            }
            "-A" | "-I" | "-R" | "-D" => {
                let mut number = None;
                if cmd != "-A"
                    && let Some(first) = args.first()
                    && first.is_value()
                    && first.text.bytes().all(|b| b.is_ascii_digit())
                {
                    number = Some((
                        first.text.parse::<usize>().unwrap_or(usize::MAX),
                        first.span,
                    ));
                    args.remove(0);
                }
                if cmd == "-D" && number.is_some() && args.is_empty() {
                    self.delete_rule(&chain_name, chain_span, number, None);
                    return;
                }
                if matches!(cmd, "-R") && number.is_none() {
                    self.error(chain_span, "`-R` needs a rule number after the chain name");
                    return;
                }
                let before = self.findings.len();
                let mut rule =
                    rule_spec::parse_rule(&args, line_span, chain_span, &mut self.findings);
                if rule.counters.is_none() {
                    rule.counters = counters;
                }
                let open = self.open.as_mut().expect("checked");
                let chain = open.chain_mut(&chain_name, chain_span, false);
                let index = match cmd {
                    "-A" => {
                        chain.rules.push(rule);
                        chain.rules.len()
                    }
                    "-I" => {
                        let n = number.map_or(1, |(n, _)| n);
                        if n == 0 || n > chain.rules.len() + 1 {
                            let span = number.map_or(chain_span, |(_, s)| s);
                            self.findings.push(Finding::new(&codes::RULE_POSITION, span, format!("cannot insert at position {n}: chain `{chain_name}` has {} rule(s)", chain.rules.len())));
                            return;
                        }
                        chain.rules.insert(n - 1, rule);
                        n
                    }
                    "-R" => {
                        let (n, span) = number.expect("checked");
                        if n == 0 || n > chain.rules.len() {
                            self.findings.push(Finding::new(
                                &codes::RULE_POSITION,
                                span,
                                format!(
                                    "cannot replace rule {n}: chain `{chain_name}` has {} rule(s)",
                                    chain.rules.len()
                                ),
                            ));
                            return;
                        }
                        chain.rules[n - 1] = rule;
                        n
                    }
                    _ => {
                        self.delete_rule(&chain_name, chain_span, None, Some(rule));
                        return;
                    }
                };
                for f in &mut self.findings[before..] {
                    if f.table.is_none() {
                        f.table = Some(table_name);
                        f.chain = Some(chain_name.clone());
                        f.rule = Some(index);
                    }
                }
                if !args.is_empty() || cmd == "-A" {
                    // Nothing else to do: the rule is in place.
                }
            }
            "-N" => {
                let open = self.open.as_mut().expect("checked");
                open.chain_mut(&chain_name, line_span, true);
            }
            "-P" => {
                let policy = args
                    .first()
                    .filter(|t| t.is_value())
                    .map(|t| (t.text.clone(), t.span));
                let open = self.open.as_mut().expect("checked");
                let builtin = open
                    .table
                    .name
                    .builtin_chains()
                    .contains(&chain_name.as_str());
                match policy.as_ref().map(|(p, s)| (p.as_str(), *s)) {
                    Some(("ACCEPT", _)) | Some(("DROP", _)) if builtin => {
                        let p = if policy.as_ref().is_some_and(|(p, _)| p == "ACCEPT") {
                            Policy::Accept
                        } else {
                            Policy::Drop
                        };
                        open.chain_mut(&chain_name, chain_span, false).policy = Some(p);
                    }
                    Some((p, span)) => {
                        let msg = if builtin {
                            format!("`{p}` is not a chain policy")
                        } else {
                            format!(
                                "`-P` sets the policy of builtin chains only; `{chain_name}` is not one"
                            )
                        };
                        self.findings
                            .push(Finding::new(&codes::INVALID_VALUE, span, msg));
                    }
                    None => self.error(
                        chain_span,
                        format!("`-P {chain_name}` needs a policy (ACCEPT or DROP)"),
                    ),
                }
            }
            "-F" | "-Z" | "-X" => {
                let open = self.open.as_mut().expect("checked");
                match open.index.get(&chain_name).copied() {
                    Some(i) if cmd == "-F" => open.table.chains[i].rules.clear(),
                    Some(i) if cmd == "-X" => {
                        open.table.chains.remove(i);
                        open.reindex();
                    }
                    Some(_) => {}
                    None => self.findings.push(Finding::new(
                        &codes::SYNTAX_ERROR,
                        chain_span,
                        format!("chain `{chain_name}` does not exist"),
                    )),
                }
            }
            "-E" => {
                let new_name = args
                    .first()
                    .filter(|t| t.is_value())
                    .map(|t| t.text.clone());
                let open = self.open.as_mut().expect("checked");
                match (open.index.get(&chain_name).copied(), new_name) {
                    (Some(i), Some(new_name)) => {
                        open.table.chains[i].name = new_name;
                        open.reindex();
                    }
                    (None, _) => self.findings.push(Finding::new(
                        &codes::SYNTAX_ERROR,
                        chain_span,
                        format!("chain `{chain_name}` does not exist"),
                    )),
                    (_, None) => self.error(chain_span, "`-E` needs the new chain name"),
                }
            }
            _ => unreachable!("all commands handled"),
        }
    }

    /// `-F`, `-X`, `-Z` without a chain.
    fn whole_table_command(&mut self, cmd: &str) {
        let open = self.open.as_mut().expect("checked");
        match cmd {
            "-F" => open.table.chains.iter_mut().for_each(|c| c.rules.clear()),
            "-X" => {
                open.table.chains.retain(|c| c.builtin);
                open.reindex();
            }
            _ => {}
        }
    }

    fn delete_rule(
        &mut self,
        chain_name: &str,
        span: Span,
        number: Option<(usize, Span)>,
        spec: Option<Rule>,
    ) {
        let open = self.open.as_mut().expect("checked");
        let Some(&i) = open.index.get(chain_name) else {
            self.findings.push(Finding::new(
                &codes::SYNTAX_ERROR,
                span,
                format!("chain `{chain_name}` does not exist"),
            ));
            return;
        };
        let rules = &mut open.table.chains[i].rules;
        let position = match (number, spec) {
            (Some((n, _)), _) => (n >= 1 && n <= rules.len()).then(|| n - 1),
            (None, Some(spec)) => rules.iter().position(|r| {
                Rule {
                    counters: spec.counters,
                    ..r.clone()
                } == spec
            }),
            (None, None) => None,
        };
        match position {
            Some(p) => {
                rules.remove(p);
            }
            None => self.findings.push(Finding::new(
                &codes::RULE_POSITION,
                span,
                "`-D`: the chain has no such rule to delete",
            )),
        }
    }

    fn token(&mut self, ctx: &LineCtx<'_>, pair: Pair<'_, G>) -> Token {
        let span = ctx.pair_span(&pair);
        match pair.as_rule() {
            G::bang => Token {
                kind: TokenKind::Bang,
                text: "!".into(),
                span,
            },
            G::bare => Token {
                kind: TokenKind::Value,
                text: pair.as_str().to_string(),
                span,
            },
            G::option => {
                let mut inner = pair.into_inner();
                let name = inner
                    .next()
                    .expect("option has a name")
                    .as_str()
                    .to_string();
                let inline = inner
                    .next()
                    .map(|v| (v.as_str().to_string(), ctx.pair_span(&v)));
                Token {
                    kind: TokenKind::Option { inline },
                    text: name,
                    span,
                }
            }
            G::dq_string | G::sq_string => {
                let single = pair.as_rule() == G::sq_string;
                // Without spaces inside, iptables-restore keeps `'word'` quotes and all.
                let pair_text = pair.as_str().to_string();
                let mut inner = pair.into_inner();
                let body = inner.next().map_or("", |p| p.as_str());
                let closed = inner
                    .next()
                    .is_some_and(|p| matches!(p.as_rule(), G::dq_close | G::sq_close));
                let text = if single {
                    pair_text.clone()
                } else {
                    tokens::unescape_double_quoted(body)
                };
                if single && body.contains([' ', '\t']) {
                    self.findings.push(
                        Finding::new(&codes::SINGLE_QUOTE, span, "iptables-restore does not treat `'` as a quote: the words are split at the spaces and the quotes kept")
                            .help("use double quotes: \"...\""),
                    );
                } else if !closed {
                    self.findings.push(
                        Finding::new(&codes::UNTERMINATED_QUOTE, span, "this quote is never closed: iptables-restore takes the rest of the line, options and target included, as one argument")
                            .help("close the quote where the argument ends"),
                    );
                }
                Token {
                    kind: TokenKind::Value,
                    text,
                    span,
                }
            }
            other => unreachable!("command_line yields only argument tokens, got {other:?}"),
        }
    }
}

fn parse_counters(pair: &Pair<'_, G>) -> Counters {
    let mut nums = pair
        .clone()
        .into_inner()
        .map(|p| p.as_str().parse::<u64>().unwrap_or(u64::MAX));
    Counters {
        packets: nums.next().unwrap_or(0),
        bytes: nums.next().unwrap_or(0),
    }
}

/// Turns a pest error into words: what was expected, and after what.
fn describe_pest_error(ctx: &LineCtx<'_>, error: &pest::error::Error<G>) -> Finding {
    let pos = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let text = ctx.text;
    let found = text[pos..].split_whitespace().next();
    let expected: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut v: Vec<&str> = positives.iter().filter_map(|r| rule_phrase(*r)).collect();
            v.dedup();
            v
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let before = text[..pos].split_whitespace().last();
    let mut message = match (expected.is_empty(), found) {
        (false, _) => format!("expected {}", expected.join(" or ")),
        (true, Some(f)) => format!("unexpected `{f}`"),
        (true, None) => "unexpected end of line".to_string(),
    };
    if let Some(b) = before.filter(|_| !expected.is_empty()) {
        message.push_str(&format!(" after `{b}`"));
    }
    if let (false, Some(f)) = (expected.is_empty(), found) {
        message.push_str(&format!(", found `{f}`"));
    }
    let end = pos + found.map_or(0, str::len);
    let start = text.len() - text.trim_start().len();
    let mut finding = Finding::new(&codes::SYNTAX_ERROR, ctx.span(pos, end.max(pos)), message);
    if text[start..].starts_with(':') {
        let words: Vec<&str> = text[start + 1..].split_whitespace().collect();
        let at_end = ctx.span(text.trim_end().len(), text.trim_end().len());
        match words.len() {
            0 => {
                (finding.message, finding.span) = ("expected a chain name after `:`".into(), at_end)
            }
            1 => {
                (finding.message, finding.span) = (
                    format!(
                        "expected a policy (ACCEPT, DROP or -) after the chain name `{}`",
                        words[0]
                    ),
                    at_end,
                )
            }
            _ => {}
        }
        finding = finding.help("a chain line looks like `:NAME POLICY [packets:bytes]`, POLICY being ACCEPT, DROP or -");
    } else if text[start..].starts_with('*') {
        finding = finding.help("a table line looks like `*filter`");
    } else if text[pos..].starts_with(|c: char| c.is_control()) {
        finding.message = format!(
            "control character {:?} in the line",
            text[pos..].chars().next().unwrap_or('\0')
        );
    }
    finding
}

fn rule_phrase(rule: G) -> Option<&'static str> {
    Some(match rule {
        G::table_name => "a table name",
        G::chain_name => "a chain name",
        G::policy => "a policy (ACCEPT, DROP or -)",
        G::counters => "counters like [0:0]",
        G::number => "a number",
        G::EOI => "the end of the line",
        _ => return None,
    })
}
