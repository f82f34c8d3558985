//! Reading iptables-restore text into the model.
//!
//! The pest grammar (`grammar/iptables.pest`) splits each line into a table
//! header, chain declaration, `COMMIT`, comment or command words. The builder
//! here applies the lines in order, the way iptables-restore does, and
//! [`rule_spec`] gives the words of a rule their meaning. Every problem becomes
//! a [`Finding`]; parsing never stops at the first one.

mod option_checks;
mod plain_words;
mod rule_identity;
mod rule_spec;
pub(crate) use rule_spec::invalid_target_name;
mod short_options;
mod tokens;

use crate::model::Generic;
use foldhash::HashMap;
use std::hash::BuildHasher;

use pest::Parser;
use pest::iterators::Pair;
use rayon::prelude::*;

use crate::codes;
use crate::diagnostic::Finding;
use crate::model::{
    Chain, CommentLine, Counters, Family, JumpKind, MatchOption, Policy, Rule, Ruleset, Span,
    Table, TableName, TargetKind, Value,
};
use std::net::IpAddr;
use tokens::{Token, TokenKind};

/// The pest parser; its `Rule` names grammar rules, so it lives apart from the
/// model's `Rule`.
pub mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/iptables.pest"]
    pub struct IptablesParser;
}
use grammar::{IptablesParser, Rule as G};

/// Pushes onto a vector that is usually short without the usual jump to a
/// capacity of 4: a rule has one or two matches with one or two options, a
/// kube-proxy KUBE-SEP chain has two rules, and at 500,000 rules that unused
/// capacity was a third of the model's memory. Past 8 elements, the usual
/// doubling keeps long chains linear.
pub(crate) fn push_small<V: SmallPush>(vec: &mut V, item: V::Item) {
    vec.push_small(item);
}

/// The vectors [`push_small`] grows: the model's `List`s and a chain's rules.
pub(crate) trait SmallPush {
    type Item;
    fn push_small(&mut self, item: Self::Item);
}

impl<T> SmallPush for Vec<T> {
    type Item = T;
    fn push_small(&mut self, item: T) {
        if self.len() < 8 && self.len() == self.capacity() {
            self.reserve_exact(1);
        }
        self.push(item);
    }
}

impl<T> SmallPush for crate::model::List<T> {
    type Item = T;
    fn push_small(&mut self, item: T) {
        if self.len() < 8 && self.len() == self.capacity() {
            self.reserve_exact(1);
        }
        self.push(item);
    }
}

/// How many lines are read in parallel before they are applied.
const LINES_PER_CHUNK: usize = 4 * 1024;

/// iptables-restore reads a line with `fgets` into a 10,240-byte buffer: at
/// most this many bytes at a time. The rest of a longer line is read as a
/// line of its own (and counted as one in its error messages).
pub const MAX_LINE_BYTES: usize = 10_239;

/// The longest word iptables-restore takes (`Parameter too long!` from 1,024
/// bytes on, counted after quotes and escapes are removed).
pub const MAX_WORD_BYTES: usize = 1_023;

/// The most words a command line may have, counters excluded (`Parser cannot
/// handle more arguments`): its argv holds 255 entries, the program name and
/// `-t TABLE` come first, and one stays empty.
pub const MAX_WORDS: usize = 251;

/// The model of one file and every problem found while reading it.
#[derive(Debug)]
pub struct Parsed {
    pub ruleset: Ruleset,
    pub findings: Vec<Finding>,
    /// Table blocks that a later block of the same table replaced. Each was
    /// loaded at its COMMIT (so the kernel still judged it) and then
    /// flushed; they are not part of `ruleset`.
    pub replaced: Vec<Table>,
}

/// Parses iptables-restore text. `family` comes from the caller when known
/// (file name, `--family`); otherwise the addresses in the file decide.
pub fn parse(text: &str, family: Option<Family>) -> Parsed {
    parse_releasing(text, family, &mut |_| {})
}

/// [`parse`], telling `release` about each byte range of `text` it is done
/// reading, so that a caller holding the text in a memory-mapped file can
/// let its pages go: the whole text after the quick scan that counts lines
/// (the chunks read it again, one at a time), then each chunk of lines once
/// the builder has applied it. Ranges of chunks come in file order and
/// together cover the text.
///
/// Nothing parsed borrows from `text` (names and words are copied into the
/// model's own `Text`), so a released range is never needed for the result.
/// Releasing is a hint all the same, not a promise to read no more: the line
/// counts of the scan keep table and chain names that point into the text,
/// and the rare lookup of one (a chain growing past 8 rules, a table
/// header) may read its page again.
pub fn parse_releasing(
    text: &str,
    family: Option<Family>,
    release: &mut dyn FnMut(std::ops::Range<usize>),
) -> Parsed {
    let mut builder = Builder::new(text);
    release(0..text.len());
    let mut offset = 0usize;
    let mut crlf_lines = 0usize;
    let mut first_crlf: Option<Span> = None;
    let mut line_no = 0u32;
    // Lines are read (grammar and words) in parallel, a chunk at a time so
    // that memory stays bounded, and applied in order by the builder.
    let mut chunk: Vec<(&str, usize, u32, u32)> = Vec::with_capacity(LINES_PER_CHUNK);
    let mut raw_lines = text.split_inclusive('\n').peekable();
    while raw_lines.peek().is_some() {
        let chunk_start = offset;
        chunk.clear();
        for raw_line in raw_lines.by_ref().take(LINES_PER_CHUNK) {
            line_no += 1;
            let mut line = raw_line.strip_suffix('\n').unwrap_or(raw_line);
            // A line longer than iptables-restore's buffer is read in pieces,
            // each a line of its own; this also bounds the work per piece.
            let mut piece_offset = offset;
            let mut piece_column = 0u32;
            while line.len() > MAX_LINE_BYTES {
                let mut cut = MAX_LINE_BYTES;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                let (piece, rest) = line.split_at(cut);
                chunk.push((piece, piece_offset, line_no, piece_column));
                piece_offset += cut;
                piece_column += column(piece, piece.len()) - 1;
                line = rest;
            }
            if let Some(stripped) = line.strip_suffix('\r') {
                crlf_lines += 1;
                if first_crlf.is_none() {
                    let at = piece_offset + stripped.len();
                    first_crlf = Some(Span {
                        start: at as u32,
                        end: at as u32 + 1,
                        line: line_no,
                        column: piece_column + column(stripped, stripped.len()),
                    });
                }
                line = stripped;
            }
            chunk.push((line, piece_offset, line_no, piece_column));
            offset += raw_line.len();
        }
        let read: Vec<ReadLine> = chunk
            .par_iter()
            .with_min_len(256)
            .map(|&(line, offset, line_no, column_before)| {
                let ctx = LineCtx {
                    text: line,
                    offset,
                    line: line_no,
                    column_before,
                    chain_targets: &[],
                    ascii: false,
                };
                let mut read = read_line(ctx);
                if column_before > 0 {
                    for f in read.findings_mut() {
                        f.message = format!(
                            "iptables-restore reads at most {MAX_LINE_BYTES} bytes of a line at a time, and reads the rest of this longer line, from column {}, as a line of its own: {}",
                            column_before + 1,
                            f.message
                        );
                    }
                }
                read
            })
            .collect();
        for line in read {
            builder.apply(line);
        }
        release(chunk_start..offset);
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
        tables: std::mem::take(&mut builder.tables),
        comments: std::mem::take(&mut builder.comments),
    };
    ruleset.family = family.unwrap_or_else(|| guess_family(&ruleset));
    let mut findings = std::mem::take(&mut builder.findings);
    check_families(&mut ruleset, &mut findings);
    Parsed {
        ruleset,
        findings,
        replaced: builder.replaced,
    }
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
            if let Some(net) = a.as_net() {
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
        for (_, of, _) in target_addresses(rule) {
            match of {
                Family::Ipv4 => v4 += 1,
                Family::Ipv6 => v6 += 1,
            }
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
                .retain(|r| r.only_family().is_none_or(|f| f == family));
            for (index, rule) in chain.rules.iter().enumerate() {
                let mut nets = Vec::new();
                for (slot, span) in [
                    (&rule.source, rule.generic_span(Generic::Source)),
                    (&rule.destination, rule.generic_span(Generic::Destination)),
                ] {
                    if let Some(slot) = slot {
                        nets.extend(
                            slot.value
                                .iter()
                                .filter_map(|a| Some((a.as_net()?, span.unwrap_or(rule.span)))),
                        );
                    }
                }
                for m in &rule.matches {
                    for o in &m.options {
                        if let Value::Net(n) = &o.value {
                            nets.push((**n, o.span_in(rule)));
                        }
                    }
                }
                for finding in rule_spec::family_findings(family, rule) {
                    findings.push(finding.at_rule(table.name, &chain.name, Some(index + 1)));
                }
                for (message, span) in family_only(family, rule) {
                    findings.push(
                        Finding::new(&codes::FAMILY_MISMATCH, span, message)
                            .at_rule(table.name, &chain.name, Some(index + 1))
                            .help("use `--family` if iptlint guessed the family wrong"),
                    );
                }
                let addresses = nets
                    .into_iter()
                    .map(|(net, span)| (net.to_string(), net.family(), span))
                    .chain(target_addresses(rule));
                for (address, its_family, span) in addresses {
                    if its_family != family {
                        findings.push(
                            Finding::new(
                                &codes::FAMILY_MISMATCH,
                                span,
                                format!(
                                    "`{address}` is an {} address, but this is an {tool} dump",
                                    its_family.as_str().replace("ipv", "IPv")
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

/// The addresses a target rewrites to: `--to-destination` and `--to-source`
/// of DNAT and SNAT (both ends of a range), NETMAP's `--to` and TPROXY's
/// `--on-ip`. Each family's iptables reads them as its own addresses only
/// (`Bad IP address`, getaddrinfo's "Address family for hostname not
/// supported").
fn target_addresses(rule: &Rule) -> impl Iterator<Item = (String, Family, Span)> + '_ {
    rule.target
        .iter()
        .flat_map(|t| &t.options)
        .filter_map(move |o| {
            let (text, of) = match &o.value {
                // A range's ends are of one family (`AddrRange` checks).
                Value::Nat(nat) if let Some(r) = nat.range().addrs => {
                    (r.lo.to_string(), Family::of(r.lo))
                }
                Value::Net(n) => (n.to_string(), n.family()),
                _ if o.name == "--on-ip" => {
                    let addr: IpAddr = o.words.first()?.text.parse().ok()?;
                    (addr.to_string(), Family::of(addr))
                }
                _ => return None,
            };
            Some((text, of, o.span_in(rule)))
        })
}

/// What one family's iptables has and the other's lacks: `-f` and the `icmp`
/// and `ttl` matches are IPv4 only, `icmp6` and `hl` IPv6 only, and each has
/// its own REJECT types; an `iprange` range must be of the dump's family.
fn family_only(family: Family, rule: &Rule) -> Vec<(String, Span)> {
    const REJECT_V4: &[&str] = &[
        "icmp-net-unreachable",
        "net-unreach",
        "icmp-host-unreachable",
        "host-unreach",
        "icmp-port-unreachable",
        "port-unreach",
        "icmp-proto-unreachable",
        "proto-unreach",
        "icmp-net-prohibited",
        "net-prohib",
        "icmp-host-prohibited",
        "host-prohib",
        "icmp-admin-prohibited",
        "admin-prohib",
        "tcp-reset",
        "tcp-rst",
    ];
    const REJECT_V6: &[&str] = &[
        "icmp6-no-route",
        "no-route",
        "icmp6-adm-prohibited",
        "adm-prohibited",
        "icmp6-addr-unreachable",
        "addr-unreach",
        "icmp6-port-unreachable",
        "port-unreach",
        "icmp6-policy-fail",
        "policy-fail",
        "icmp6-reject-route",
        "reject-route",
        "tcp-reset",
    ];
    let v6 = family == Family::Ipv6;
    let tool = if v6 { "ip6tables" } else { "iptables" };
    let mut out = Vec::new();
    if v6 && rule.fragment().is_some() {
        let span = rule.span;
        out.push((
            "`-f` is not supported in IPv6: ip6tables refuses it (use `-m frag`)".to_string(),
            span,
        ));
    }
    for m in &rule.matches {
        let other = match m.module.as_str() {
            "icmp" | "ttl" if v6 => true,
            "icmp6" | "hl" if !v6 => true,
            _ => false,
        };
        if other {
            out.push((
                format!(
                    "{tool} has no `{}` match: it belongs to the other family",
                    m.module
                ),
                m.span_in(rule),
            ));
        }
        for o in &m.options {
            if let Value::AddrRange(r) = &o.value
                && r.lo.is_ipv6() != v6
            {
                out.push((
                    format!(
                        "`{}-{}` is not an address range of this {tool} dump",
                        r.lo, r.hi
                    ),
                    o.span_in(rule),
                ));
            }
        }
    }
    // iptables' NAT targets take an address in brackets (`[fe80::1]:80`) from
    // ip6tables only ("Invalid address format"). An IPv6 address in them is
    // reported as of the wrong family (see `target_addresses`).
    let bracketed = |o: &&MatchOption| match &o.value {
        Value::Nat(nat) => {
            nat.range().addrs.is_none_or(|r| r.lo.is_ipv4())
                && o.words.iter().any(|w| w.text.contains('['))
        }
        _ => false,
    };
    if !v6 && let Some(o) = rule.target.iter().flat_map(|t| &t.options).find(bracketed) {
        out.push((
            format!(
                "`{}`: iptables takes no address in brackets (Invalid address format); brackets are for ip6tables' IPv6 addresses",
                o.words.first().map_or("", |w| w.text.as_str())
            ),
            o.span_in(rule),
        ));
    }
    if let Some(target) = rule.target.as_ref().filter(|t| t.name == "REJECT")
        && let Some(with) = target.options.iter().find(|o| o.name == "--reject-with")
        && let Some(word) = with.words.first()
    {
        let known = if v6 { REJECT_V6 } else { REJECT_V4 };
        // iptables takes any abbreviation, in any case: `tcp` is tcp-reset,
        // `icmp-host` icmp-host-unreachable, even an empty word.
        let typed = word.text.to_ascii_lowercase();
        if !known.iter().any(|k| k.starts_with(&typed)) {
            out.push((
                format!(
                    "`{}` is not a reject type of {tool}: it takes {}",
                    word.text,
                    known.join(", ")
                ),
                word.span_in(rule),
            ));
        }
    }
    out
}

struct Builder<'s> {
    /// The whole input, to read a line again when what it means depends on
    /// the chains declared before it.
    source: &'s str,
    tables: Vec<Table>,
    replaced: Vec<Table>,
    comments: Vec<CommentLine>,
    findings: Vec<Finding>,
    open: Option<OpenTable>,
    /// After `-h`, iptables-restore has exited: the rest is never applied.
    stopped: bool,
    /// How many `-A` and `:` lines each table has: see [`count_lines`].
    counts: LineCounts<'s>,
}

/// A chain's rule list consults the counts once it holds this many rules;
/// the first few it grows as any list does.
const MIN_ASKED_CAPACITY: usize = 8;

/// What [`count_lines`] counts.
struct LineCounts<'s> {
    /// `-A CHAIN` lines per (table, chain).
    appends: HashMap<(&'s str, &'s str), u32>,
    /// `:CHAIN` lines per table, so that a table's chain list is allocated
    /// once too: a kube-proxy nat table declares 40,000 chains, and doubling
    /// left up to a third of the list unused at the parse's peak.
    declarations: HashMap<&'s str, u32>,
}

/// Counts the `-A CHAIN` and `:CHAIN` lines of each `*table` block, by a quick scan of the
/// text before parsing, so that a long chain's rule vector is allocated once
/// at its final length. Growing it by doubling holds the old and the new
/// vector at once: for a 100,000-rule INPUT chain that was three times the
/// chain's size at the moment of the last copy, the peak of the whole parse.
/// The count is a hint: a line it misreads only costs a reallocation.
fn count_lines(text: &str) -> LineCounts<'_> {
    let mut counts: HashMap<(&str, &str), u32> = HashMap::default();
    let mut declarations: HashMap<&str, u32> = HashMap::default();
    let mut table = "";
    for line in text.lines() {
        let mut line = line.trim_start();
        if let Some(name) = line.strip_prefix('*') {
            table = name.trim_end();
            continue;
        }
        if line.starts_with(':') {
            *declarations.entry(table).or_default() += 1;
            continue;
        }
        if line.starts_with('[')
            && let Some(end) = line.find(']')
        {
            line = line[end + 1..].trim_start();
        }
        if let Some(rest) = line.strip_prefix("-A ")
            && let Some(chain) = rest.split_ascii_whitespace().next()
        {
            *counts.entry((table, chain)).or_default() += 1;
        }
    }
    // Only a chain that reaches the capacity of 8 rules asks (see the
    // `-A` case of `Builder::command`); the others would only hold the
    // map's 40,000 kube-proxy entries through the whole parse.
    counts.retain(|_, n| *n as usize > MIN_ASKED_CAPACITY);
    counts.shrink_to_fit();
    LineCounts {
        appends: counts,
        declarations,
    }
}

impl<'s> Builder<'s> {
    fn new(source: &'s str) -> Builder<'s> {
        Builder {
            source,
            counts: count_lines(source),
            tables: Vec::new(),
            replaced: Vec::new(),
            comments: Vec::new(),
            findings: Vec::new(),
            open: None,
            stopped: false,
        }
    }
}

struct OpenTable {
    table: Table,
    index: ChainIndex,
    /// Positions of the chains `-X` deleted. They stay in the list, out of
    /// the index, until the table closes, so that the others keep their
    /// positions: removing each from the middle of the list and indexing
    /// the rest again made a restore file of many `-X` lines (kube-proxy
    /// deletes stale chains so) quadratic.
    deleted: Vec<usize>,
}

/// Chain name → position in the table's chain list. It keeps positions
/// only, and hashes the names where they already are, in the list: a
/// kube-proxy nat table has 40,000 chains, and a map keyed by copies of
/// their names held every name twice at the parse's peak.
#[derive(Default)]
struct ChainIndex {
    positions: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl ChainIndex {
    fn get(&self, chains: &[Chain], name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.positions
            .find(hash, |&i| chains[i as usize].name == name)
            .map(|&i| i as usize)
    }

    /// Indexes the chain at `i` under its name.
    fn insert(&mut self, chains: &[Chain], i: usize) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(chains[i].name.as_str());
        self.positions.insert_unique(hash, i as u32, |&j| {
            hasher.hash_one(chains[j as usize].name.as_str())
        });
    }

    fn remove(&mut self, chains: &[Chain], name: &str) {
        let hash = self.hasher.hash_one(name);
        if let Ok(entry) = self
            .positions
            .find_entry(hash, |&i| chains[i as usize].name == name)
        {
            entry.remove();
        }
    }

    fn rebuild(&mut self, chains: &[Chain]) {
        self.positions.clear();
        for i in 0..chains.len() {
            self.insert(chains, i);
        }
    }
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
            index: ChainIndex::default(),
            deleted: Vec::new(),
        };
        for builtin in name.builtin_chains() {
            open.chain_mut(builtin, span, true);
        }
        open
    }

    fn chain_mut(&mut self, name: &str, span: Span, declare: bool) -> &mut Chain {
        let idx = match self.find(name) {
            Some(i) => i,
            None => {
                let builtin = self.table.name.builtin_chains().contains(&name);
                self.table
                    .chains
                    .push(Chain::new(name.into(), span, builtin, declare));
                let i = self.table.chains.len() - 1;
                self.index.insert(&self.table.chains, i);
                i
            }
        };
        let chain = &mut self.table.chains[idx];
        if declare && !chain.declared {
            chain.declared = true;
            chain.span = span;
        }
        chain
    }

    /// The position of the chain with this name.
    fn find(&self, name: &str) -> Option<usize> {
        self.index.get(&self.table.chains, name)
    }

    /// Takes back the chain `chain_mut` just added.
    fn pop_chain(&mut self) {
        if let Some(last) = self.table.chains.last() {
            let name = last.name.clone();
            self.index.remove(&self.table.chains, &name);
            self.table.chains.pop();
        }
    }

    /// `-X CHAIN`: the chain at `i` is gone (see `deleted`).
    fn delete_chain(&mut self, i: usize) {
        let name = self.table.chains[i].name.clone();
        self.index.remove(&self.table.chains, &name);
        self.table.chains[i].rules = crate::model::List::new();
        self.deleted.push(i);
    }

    /// `-E OLD NEW` for the chain at `i`.
    fn rename_chain(&mut self, i: usize, new_name: &str) {
        let old = self.table.chains[i].name.clone();
        self.index.remove(&self.table.chains, &old);
        self.table.chains[i].name = new_name.into();
        self.index.insert(&self.table.chains, i);
    }

    /// Takes the deleted chains out of the list.
    fn drop_deleted(&mut self) {
        if self.deleted.is_empty() {
            return;
        }
        let mut gone = vec![false; self.table.chains.len()];
        for &i in &self.deleted {
            gone[i] = true;
        }
        let mut position = 0;
        self.table.chains.retain(|_| {
            position += 1;
            !gone[position - 1]
        });
        self.deleted.clear();
        self.index.rebuild(&self.table.chains);
    }

    fn into_table(mut self) -> Table {
        self.drop_deleted();
        self.table
    }
}

/// Where a line starts in the file, to turn positions in the line into spans.
#[derive(Clone, Copy)]
pub(super) struct LineCtx<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
    /// Characters of the line before `text`: nonzero for the second and
    /// later pieces of a line longer than [`MAX_LINE_BYTES`].
    column_before: u32,
    /// User chains named like an extension target (`:DNAT - [0:0]`): with
    /// such a chain in the table, iptables reads `-j DNAT` as a jump to it.
    chain_targets: &'a [crate::model::Text],
    /// The line is printable ASCII: a column is a byte offset plus one.
    ascii: bool,
}

impl LineCtx<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        let column = if self.ascii {
            start.min(self.text.len()) as u32 + 1
        } else {
            column(self.text, start)
        };
        Span {
            start: (self.offset + start) as u32,
            end: (self.offset + end) as u32,
            line: self.line,
            column: self.column_before + column,
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

impl Builder<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.findings
            .push(Finding::new(&codes::SYNTAX_ERROR, span, message));
    }

    /// Applies one line read by [`read_line`], in file order.
    fn apply(&mut self, read: ReadLine) {
        if self.stopped {
            return;
        }
        self.findings.extend(read.findings);
        match read.kind {
            LineKind::Nothing => {}
            LineKind::Comment(comment) => self.comments.push(comment),
            LineKind::TableHeader {
                name,
                name_span,
                whole,
            } => self.table_header(&name, name_span, whole),
            LineKind::ChainDecl {
                name,
                policy,
                policy_span,
                counters,
                whole,
            } => self.chain_decl(&name, &policy, policy_span, counters, whole),
            LineKind::Commit(whole) => self.commit(whole),
            LineKind::Command(plan) => self.command(*plan),
        }
    }

    fn table_header(&mut self, name_text: &str, span: Span, whole: Span) {
        if let Some(open) = &self.open {
            let previous = open.table.name;
            self.error(
                whole,
                format!("`*{name_text}` starts before table `{previous}` was closed with COMMIT"),
            );
            return;
        }
        let Some(name) = TableName::parse(name_text) else {
            self.findings.push(
                Finding::new(
                    &codes::SYNTAX_ERROR,
                    span,
                    format!("unknown table `{name_text}`"),
                )
                .help("the tables are raw, mangle, nat, filter and security"),
            );
            // Read the block anyway, as a filter table, so later lines still get checked.
            self.open = Some(OpenTable::new(TableName::Filter, whole));
            return;
        };
        let mut open = OpenTable::new(name, whole);
        let declared = self.counts.declarations.get(name_text).copied();
        let more = declared
            .map_or(0, |n| n as usize)
            .saturating_sub(open.table.chains.len());
        open.table.chains.reserve_exact(more);
        self.open = Some(open);
    }

    fn require_table(&mut self, whole: Span, what: &str) -> bool {
        if self.open.is_none() {
            self.error(
                whole,
                format!("{what} outside a table: start the table with a line like `*filter`"),
            );
            return false;
        }
        true
    }

    fn chain_decl(
        &mut self,
        name: &str,
        policy_text: &str,
        policy_span: Span,
        counters: Option<Counters>,
        whole: Span,
    ) {
        if !self.require_table(whole, "a chain declaration") {
            return;
        }
        let policy = match policy_text {
            "ACCEPT" => Some(Policy::Accept),
            "DROP" => Some(Policy::Drop),
            "-" => None,
            other => {
                let is_builtin = self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.table.name.builtin_chains().contains(&name));
                if is_builtin {
                    self.findings.push(
                        Finding::new(
                            &codes::INVALID_VALUE,
                            policy_span,
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
        let builtin = self
            .open
            .as_ref()
            .is_some_and(|o| o.table.name.builtin_chains().contains(&name));
        if !builtin && let Some(problem) = chain_name_problem(name, false) {
            self.error(whole, problem);
        }
        let open = self.open.as_mut().expect("checked above");
        let chain = open.chain_mut(name, whole, true);
        chain.policy = policy;
        chain.set_counters(counters);
    }

    fn commit(&mut self, whole: Span) {
        match self.open.take() {
            Some(mut open) => {
                open.table.commit = Some(whole);
                self.close(open.into_table());
            }
            None => self.error(whole, "COMMIT without a table to commit"),
        }
    }

    /// A table that appears twice replaces the first: iptables-restore flushes
    /// a table when its block starts.
    fn close(&mut self, mut table: Table) {
        // Builtin chains first in hook order, then declared user chains, then
        // chains only ever used: the order iptables-save prints, whatever
        // order the file used, so that printing and parsing again is stable.
        let builtins = table.name.builtin_chains();
        let place = |c: &Chain| match builtins.iter().position(|b| *b == c.name) {
            Some(i) => i,
            None if c.declared => builtins.len(),
            None => builtins.len() + 1,
        };
        // A dump is nearly always in that order already; a stable sort would
        // copy half the chain list (3 MB for a kube-proxy nat table) at the
        // parse's peak for nothing.
        if !table.chains.is_sorted_by_key(place) {
            table.chains.sort_by_key(place);
        }
        // Give back what a table's growth left over (the prescan's count of
        // `:CHAIN` lines is a hint).
        table.chains.shrink_to_fit();
        if let Some(i) = self.tables.iter().position(|t| t.name == table.name) {
            self.replaced.push(self.tables.remove(i));
        }
        self.tables.push(table);
    }

    fn finish(&mut self, eof: Span) {
        if self.stopped {
            if let Some(open) = self.open.take() {
                self.close(open.into_table());
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
            self.close(open.into_table());
        }
    }

    fn command(&mut self, plan: CommandPlan) {
        if !self.require_table(plan.whole, "a command") {
            return;
        }
        let plan = self.reread_if_chain_target(plan);
        self.findings.extend(plan.findings);
        let (cmd, chain_name, chain_span) = match plan.action {
            Action::Nothing => return,
            Action::Stop => {
                self.stopped = true;
                return;
            }
            Action::WholeTable(cmd) => {
                self.whole_table_command(cmd);
                return;
            }
            Action::Chain { cmd, name, span } => (cmd, name, span),
        };
        let table_name = self.open.as_ref().expect("checked").table.name;
        match cmd {
            "-C" => {
                let open = self.open.as_ref().expect("checked");
                let found = plan.rule.is_some_and(|spec| {
                    open.find(chain_name.as_str()).is_some_and(|i| {
                        open.table.chains[i]
                            .rules
                            .iter()
                            .any(|r| rule_identity::same_rule(r, &spec))
                    })
                });
                if !found {
                    self.findings.push(Finding::new(
                        &codes::RULE_POSITION,
                        chain_span,
                        format!("`-C`: chain `{chain_name}` has no such rule, and iptables-restore fails the line (Bad rule (does a matching rule exist in that chain?))"),
                    ));
                }
            }
            "-A" | "-I" | "-R" | "-D" => {
                let number = plan.number;
                let Some(mut rule) = plan.rule else {
                    // `-D CHAIN N`: delete by position.
                    self.delete_rule(&chain_name, chain_span, number, None);
                    return;
                };
                if rule.counters().is_none() {
                    rule.set_counters(plan.counters);
                }
                let mut rule_findings = plan.rule_findings;
                for f in &mut rule_findings {
                    f.table = Some(table_name);
                    f.chain = Some(chain_name.clone());
                }
                if cmd == "-D" {
                    // The rule of a `-D` is read like any other: its errors count.
                    self.findings.extend(rule_findings);
                    self.delete_rule(&chain_name, chain_span, None, Some(rule));
                    return;
                }
                let open = self.open.as_mut().expect("checked");
                let existed = open.find(chain_name.as_str()).is_some();
                let chain = open.chain_mut(&chain_name, chain_span, false);
                let placed = match cmd {
                    "-A" => {
                        let len = chain.rules.len();
                        if len >= MIN_ASKED_CAPACITY && len == chain.rules.capacity() {
                            let expected = self
                                .counts
                                .appends
                                .get(&(table_name.as_str(), chain_name.as_str()))
                                .map_or(0, |&n| n as usize);
                            if expected > len {
                                chain.rules.reserve_exact(expected - len);
                            }
                        }
                        push_small(&mut chain.rules, rule);
                        Ok(chain.rules.len())
                    }
                    "-I" => {
                        let n = number.map_or(1, |(n, _)| n);
                        if n == 0 || n > chain.rules.len() + 1 {
                            Err((
                                number.map_or(chain_span, |(_, s)| s),
                                format!(
                                    "cannot insert at position {n}: chain `{chain_name}` has {} rule(s)",
                                    chain.rules.len()
                                ),
                            ))
                        } else {
                            chain.rules.insert(n - 1, rule);
                            Ok(n)
                        }
                    }
                    _ => {
                        let (n, span) = number.expect("the plan requires a number for -R");
                        if n == 0 || n > chain.rules.len() {
                            Err((
                                span,
                                format!(
                                    "cannot replace rule {n}: chain `{chain_name}` has {} rule(s)",
                                    chain.rules.len()
                                ),
                            ))
                        } else {
                            chain.rules[n - 1] = rule;
                            Ok(n)
                        }
                    }
                };
                let index = match placed {
                    Ok(index) => index,
                    Err((span, message)) => {
                        // A failed `-I`/`-R` leaves no trace, not even the chain it named.
                        if !existed {
                            open.pop_chain();
                        }
                        self.findings
                            .push(Finding::new(&codes::RULE_POSITION, span, message));
                        self.findings.extend(rule_findings);
                        return;
                    }
                };
                for f in &mut rule_findings {
                    f.rule = Some(index);
                }
                self.findings.extend(rule_findings);
            }
            "-N" => {
                if let Some(problem) = chain_name_problem(&chain_name, true) {
                    self.error(chain_span, problem);
                }
                let open = self.open.as_mut().expect("checked");
                let exists = open
                    .table
                    .name
                    .builtin_chains()
                    .contains(&chain_name.as_str())
                    || open
                        .find(chain_name.as_str())
                        .is_some_and(|i| open.table.chains[i].declared);
                if exists {
                    self.error(
                        chain_span,
                        format!("`-N {chain_name}`: the table already has this chain; iptables-restore refuses the line (Chain already exists)"),
                    );
                }
                let open = self.open.as_mut().expect("checked");
                open.chain_mut(&chain_name, plan.whole, true);
            }
            "-P" => {
                let open = self.open.as_mut().expect("checked");
                let builtin = open
                    .table
                    .name
                    .builtin_chains()
                    .contains(&chain_name.as_str());
                match plan.argument {
                    Some((p, _)) if builtin && (p == "ACCEPT" || p == "DROP") => {
                        let policy = if p == "ACCEPT" {
                            Policy::Accept
                        } else {
                            Policy::Drop
                        };
                        open.chain_mut(&chain_name, chain_span, false).policy = Some(policy);
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
                match open.find(chain_name.as_str()) {
                    Some(i) if cmd == "-F" => open.table.chains[i].rules.clear(),
                    Some(i) if cmd == "-X" => open.delete_chain(i),
                    Some(_) => {}
                    None => self.error(chain_span, format!("chain `{chain_name}` does not exist")),
                }
            }
            "-E" => {
                let open = self.open.as_mut().expect("checked");
                match (open.find(chain_name.as_str()), plan.argument) {
                    (Some(i), Some((new_name, _))) => open.rename_chain(i, &new_name),
                    (None, _) => {
                        self.error(chain_span, format!("chain `{chain_name}` does not exist"))
                    }
                    (_, None) => self.error(chain_span, "`-E` needs the new chain name"),
                }
            }
            _ => unreachable!("the plan names only known commands"),
        }
    }

    /// `-F`, `-X`, `-Z` without a chain.
    /// `-j DNAT` jumps to a user chain `DNAT` when the table has one (the
    /// kernel loads `:DNAT - [0:0]` and `-A PREROUTING -j DNAT` as a jump,
    /// and then refuses `--to-destination`). Lines are read before the
    /// chains are known, so such a line is read again, knowing the chain.
    fn reread_if_chain_target(&self, plan: CommandPlan) -> CommandPlan {
        let Some(target) = plan.rule.as_ref().and_then(|r| r.target.as_ref()) else {
            return plan;
        };
        if !matches!(target.kind, TargetKind::Extension | TargetKind::Other)
            || target.jump != JumpKind::Jump
        {
            return plan;
        }
        let open = self.open.as_ref().expect("checked");
        let is_user_chain = open
            .find(&target.name)
            .is_some_and(|i| !open.table.chains[i].builtin);
        if !is_user_chain {
            return plan;
        }
        let (offset, len, line, column_before) = plan.at;
        let chain_targets = [target.name.clone()];
        let ctx = LineCtx {
            text: &self.source[offset..offset + len],
            offset,
            line,
            column_before,
            chain_targets: &chain_targets,
            ascii: false,
        };
        match read_line(ctx).kind {
            LineKind::Command(again) => *again,
            _ => plan,
        }
    }

    fn whole_table_command(&mut self, cmd: &str) {
        let open = self.open.as_mut().expect("checked");
        match cmd {
            "-F" => open.table.chains.iter_mut().for_each(|c| c.rules.clear()),
            "-X" => {
                open.drop_deleted();
                open.table.chains.retain(|c| c.builtin);
                open.index.rebuild(&open.table.chains);
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
        let Some(i) = open.find(chain_name) else {
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
            (None, Some(spec)) => rules
                .iter()
                .position(|r| rule_identity::same_rule(r, &spec)),
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
}

/// One argument of a command line, unquoted; quoting problems go to `findings`.
pub(super) fn token(ctx: &LineCtx<'_>, pair: Pair<'_, G>, findings: &mut Vec<Finding>) -> Token {
    {
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
                } else if closed {
                    tokens::unescape_double_quoted(body)
                } else {
                    // iptables-restore reads the line with its newline: an open
                    // quote takes the newline into the word.
                    tokens::unescape_double_quoted(body) + "\n"
                };
                if single && body.contains([' ', '\t']) {
                    findings.push(
                        Finding::new(&codes::SINGLE_QUOTE, span, "iptables-restore does not treat `'` as a quote: the words are split at the spaces and the quotes kept")
                            .help("use double quotes: \"...\""),
                    );
                } else if !closed {
                    findings.push(
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

/// What a command line asks for, decided from its words alone so that it can
/// be worked out in parallel; [`Builder::command`] then applies it in order.
pub(super) struct CommandPlan {
    whole: Span,
    counters: Option<Counters>,
    action: Action,
    /// `-I`/`-R`/`-D` position.
    number: Option<(usize, Span)>,
    /// The rule of `-A`/`-I`/`-R`/`-D` (not of `-D CHAIN N`).
    rule: Option<Rule>,
    /// Findings in the rule; they get the table, chain and index on insertion.
    rule_findings: Vec<Finding>,
    /// `-P CHAIN POLICY`, `-E OLD NEW`: the word after the chain.
    argument: Option<(String, Span)>,
    /// Problems in the command itself.
    findings: Vec<Finding>,
    /// Where the line is: (offset, length, line, column_before) of its piece.
    at: (usize, usize, u32, u32),
}

enum Action {
    Nothing,
    /// `-h`: iptables-restore prints help and exits.
    Stop,
    /// `-F`, `-X`, `-Z` without a chain.
    WholeTable(&'static str),
    Chain {
        cmd: &'static str,
        name: String,
        span: Span,
    },
}

/// The command an option word names, in its short form (`-C` also for `-L`
/// and `-S`, which change nothing either).
fn command_name(word: &str) -> Option<&'static str> {
    Some(match word {
        "-A" | "--append" => "-A",
        "-I" | "--insert" => "-I",
        "-D" | "--delete" => "-D",
        "-R" | "--replace" => "-R",
        "-N" | "--new-chain" => "-N",
        "-X" | "--delete-chain" => "-X",
        "-F" | "--flush" => "-F",
        "-Z" | "--zero" => "-Z",
        "-P" | "--policy" => "-P",
        "-E" | "--rename-chain" => "-E",
        "-C" | "--check" | "-L" | "--list" | "-S" | "--list-rules" => "-C",
        "-h" | "--help" => "-h",
        _ => return None,
    })
}

fn plan_command(
    counters: Option<Counters>,
    mut tokens: Vec<Token>,
    ctx: &LineCtx<'_>,
) -> CommandPlan {
    let whole = ctx.whole();
    let mut plan = CommandPlan {
        at: (ctx.offset, ctx.text.len(), ctx.line, ctx.column_before),
        whole,
        counters,
        action: Action::Nothing,
        number: None,
        rule: None,
        rule_findings: Vec::new(),
        argument: None,
        findings: Vec::new(),
    };
    short_options::split_command(&mut tokens);
    // getopt lets `-4`/`-6`, and any other option, stand before the command
    // (`-j ACCEPT -A INPUT` loads).
    let first = tokens.iter().position(|t| {
        !matches!(t.text.as_str(), "-4" | "-6" | "--ipv4" | "--ipv6") || t.is_value()
    });
    let cmd_at = match first {
        Some(i) if !tokens[i].is_value() && command_name(&tokens[i].text).is_none() => {
            let later = tokens.iter().position(|t| {
                matches!(t.kind, TokenKind::Option { .. }) && command_name(&t.text).is_some()
            });
            Some(later.unwrap_or(i))
        }
        other => other,
    };
    let Some(cmd_at) = cmd_at else {
        plan.findings.push(Finding::new(
            &codes::SYNTAX_ERROR,
            whole,
            "no command: expected `-A CHAIN ...` or another command",
        ));
        return plan;
    };
    let command = tokens.remove(cmd_at);
    let is_option = matches!(command.kind, TokenKind::Option { .. });
    let cmd = match command_name(&command.text) {
        _ if !is_option => None,
        Some("-h") => {
            plan.findings.push(
                Finding::new(
                    &codes::RESTORE_STOPS_EARLY,
                    command.span,
                    "`-h` makes iptables-restore print its help and exit: no line after this one is applied",
                )
                .help("remove this line"),
            );
            plan.action = Action::Stop;
            return plan;
        }
        other => other,
    };
    if cmd.is_some()
        && let Some(again) = tokens.iter().find(|t| {
            matches!(t.kind, TokenKind::Option { .. })
                && command_name(&t.text).is_some_and(|c| c != "-h")
        })
    {
        plan.findings.push(Finding::new(
            &codes::SYNTAX_ERROR,
            again.span,
            format!(
                "a second command `{}` after `{}`: iptables refuses the line (Cannot use {} with {})",
                again.text, command.text, again.text, command.text
            ),
        ));
        return plan;
    }
    let Some(cmd) = cmd else {
        plan.findings.push(
            Finding::new(
                &codes::SYNTAX_ERROR,
                command.span,
                format!(
                    "expected a command such as `-A CHAIN`, found `{}`",
                    shown(&command.text)
                ),
            )
            .help("each rule line starts with -A, -I, -D, -R, -N, -X, -F, -Z, -P or -E"),
        );
        return plan;
    };
    // The chain argument: inline (`--append=INPUT`) or the next word.
    let chain = match command.kind {
        TokenKind::Option {
            inline: Some((text, span)),
        } => Some((text, span)),
        _ if tokens.get(cmd_at).is_some_and(Token::is_value) => {
            let t = tokens.remove(cmd_at);
            Some((t.text, t.span))
        }
        _ => None,
    };
    let Some((chain_name, chain_span)) = chain else {
        if matches!(cmd, "-X" | "-F" | "-Z") {
            chain_command_options(
                cmd,
                &command.text,
                &tokens,
                whole,
                command.span,
                ctx,
                &mut plan.findings,
            );
            plan.action = Action::WholeTable(cmd);
        } else if cmd != "-C" {
            plan.findings.push(Finding::new(
                &codes::SYNTAX_ERROR,
                command.span,
                format!("expected a chain name after `{}`", command.text),
            ));
        }
        return plan;
    };
    let mut args = tokens;
    match cmd {
        // Checks and listings change nothing; the rule is still read for errors.
        "-C" => {
            let rule = rule_spec::parse_rule(
                &mut args,
                whole,
                chain_span,
                ctx.chain_targets,
                &mut plan.findings,
            );
            // `-C` looks the rule up and fails the line when the chain does
            // not have it (`-L` and `-S` only print). A rule with errors
            // fails on those first.
            if !matches!(command.text.as_str(), "-C" | "--check") || !plan.findings.is_empty() {
                return plan;
            }
            plan.rule = Some(rule);
        }
        "-A" | "-I" | "-R" | "-D" => {
            if cmd != "-A"
                && let Some(first) = args.get(cmd_at)
                && first.is_value()
                && first.text.bytes().all(|b| b.is_ascii_digit())
            {
                plan.number = Some((
                    first.text.parse::<usize>().unwrap_or(usize::MAX),
                    first.span,
                ));
                args.remove(cmd_at);
            }
            if cmd == "-R" && plan.number.is_none() {
                plan.findings.push(Finding::new(
                    &codes::SYNTAX_ERROR,
                    chain_span,
                    "`-R` needs a rule number after the chain name",
                ));
                return plan;
            }
            let delete_by_number = cmd == "-D" && plan.number.is_some() && args.is_empty();
            if !delete_by_number {
                plan.rule = Some(rule_spec::parse_rule(
                    &mut args,
                    whole,
                    chain_span,
                    ctx.chain_targets,
                    &mut plan.rule_findings,
                ));
            }
        }
        _ => {
            chain_command_options(
                cmd,
                &command.text,
                &args,
                whole,
                chain_span,
                ctx,
                &mut plan.findings,
            );
            plan.argument = args
                .into_iter()
                .find(Token::is_value)
                .map(|t| (t.text, t.span))
        }
    }
    plan.action = Action::Chain {
        cmd,
        name: chain_name,
        span: chain_span,
    };
    plan
}

/// A rule's options with `-N`, `-X`, `-F`, `-Z`, `-P` or `-E` (with or
/// without a chain): those only a rule takes are illegal, the others are
/// read as a rule's.
fn chain_command_options(
    cmd: &str,
    command: &str,
    args: &[Token],
    whole: Span,
    chain_span: Span,
    ctx: &LineCtx<'_>,
    findings: &mut Vec<Finding>,
) {
    let illegal = args.iter().find(|t| {
        matches!(t.kind, TokenKind::Option { .. })
            && matches!(
                t.text.as_str(),
                "-s" | "--source"
                    | "--src"
                    | "-d"
                    | "--destination"
                    | "--dst"
                    | "-p"
                    | "--protocol"
                    | "-i"
                    | "--in-interface"
                    | "-o"
                    | "--out-interface"
                    | "-f"
                    | "--fragment"
                    | "-j"
                    | "--jump"
                    | "-g"
                    | "--goto"
                    | "-c"
                    | "--set-counters"
            )
    });
    if let Some(t) = illegal {
        findings.push(Finding::new(
            &codes::SYNTAX_ERROR,
            t.span,
            format!(
                "`{}` belongs to a rule, not to `{}`: iptables refuses the line (Illegal option `{}' with this command)",
                t.text, command, t.text
            ),
        ));
    }
    findings.extend(rule_spec::extra_chain_command_word(cmd, args));
    if illegal.is_none() {
        // iptables reads the options after the command's own words
        // as it reads a rule's (`-F INPUT -m comment` lacks
        // `--comment`, a stray word is a "Bad argument") but sends
        // nothing to the kernel, which never sees them.
        let free = args.iter().take_while(|t| t.is_value()).count();
        let mut rest = args[free..].to_vec();
        if !rest.is_empty() {
            let mut found = Vec::new();
            rule_spec::parse_rule(&mut rest, whole, chain_span, ctx.chain_targets, &mut found);
            findings.extend(found.into_iter().filter(iptables_itself_refuses));
        }
    }
}

/// Whether a rule finding is iptables' own refusal rather than the kernel's:
/// a chain command's options are read but never reach the kernel, so
/// `-F INPUT -m tcp --dport 22` (no `-p tcp`, the kernel's check) and `-Z
/// INPUT -m recent --set --seconds 5` load. The multiport match checks its
/// protocol itself.
fn iptables_itself_refuses(f: &Finding) -> bool {
    // `needs_protocol`'s message: the kernel checks a match's protocol
    // (`--dport` without `-p` is iptables' "unknown option", kept).
    let kernels = (f.lint.code == codes::OPTION_NEEDS_PROTOCOL.code
        && f.message.contains("` only works with `-p "))
        || f.message.contains("the kernel refuses")
        || f.message.contains("the kernel keeps")
        || f.message.contains("the kernel has no");
    !kernels
}

/// One line, read on its own: what kind of line it is, its words, and the
/// problems visible in the line alone. Pure, so lines are read in parallel.
struct ReadLine {
    kind: LineKind,
    findings: Vec<Finding>,
}

impl ReadLine {
    /// Every finding of the line, also those of its command.
    fn findings_mut(&mut self) -> impl Iterator<Item = &mut Finding> {
        let plan = match &mut self.kind {
            LineKind::Command(plan) => Some(plan),
            _ => None,
        };
        let (command, rule) = match plan {
            Some(plan) => (&mut plan.findings[..], &mut plan.rule_findings[..]),
            None => (&mut [][..], &mut [][..]),
        };
        self.findings.iter_mut().chain(command).chain(rule)
    }
}

pub(super) enum LineKind {
    Nothing,
    Comment(CommentLine),
    TableHeader {
        name: String,
        name_span: Span,
        whole: Span,
    },
    ChainDecl {
        name: String,
        policy: String,
        policy_span: Span,
        counters: Option<Counters>,
        whole: Span,
    },
    Commit(Span),
    Command(Box<CommandPlan>),
}

fn read_line(mut ctx: LineCtx<'_>) -> ReadLine {
    let text = ctx.text;
    let nothing = |findings| ReadLine {
        kind: LineKind::Nothing,
        findings,
    };
    if text.is_empty() {
        return nothing(Vec::new());
    }
    // iptables-restore reads C strings: a NUL ends the line early, and other
    // control characters end up inside words. Say so before the grammar runs.
    // (Printable ASCII, the usual case, is checked a byte at a time.)
    let plain_ascii = text
        .bytes()
        .all(|b| (b' '..0x7f).contains(&b) || b == b'\t');
    ctx.ascii = plain_ascii;
    if !plain_ascii
        && let Some((at, c)) = text
            .char_indices()
            .find(|(_, c)| c.is_control() && *c != '\t')
    {
        return nothing(vec![Finding::new(
            &codes::SYNTAX_ERROR,
            ctx.span(at, at + c.len_utf8()),
            format!("control character {c:?} in the line"),
        )]);
    }
    if let Some((counters, tokens)) = plain_words::split(&ctx) {
        let mut findings = Vec::new();
        check_word_limits(&tokens, &mut findings);
        let plan = plan_command(counters, tokens, &ctx);
        return ReadLine {
            kind: LineKind::Command(Box::new(plan)),
            findings,
        };
    }
    if let Some(decl) = plain_words::chain_decl(&ctx) {
        return ReadLine {
            kind: decl,
            findings: Vec::new(),
        };
    }
    let parsed = match IptablesParser::parse(G::line, text) {
        Ok(mut pairs) => pairs.next().expect("the line rule always yields a pair"),
        Err(e) => return nothing(vec![describe_pest_error(&ctx, &e)]),
    };
    let syntax_error =
        |span, message: &str| vec![Finding::new(&codes::SYNTAX_ERROR, span, message)];
    let Some(content) = parsed.into_inner().find(|p| p.as_rule() != G::EOI) else {
        // Only spaces: iptables-restore says "no command specified".
        return nothing(syntax_error(
            ctx.span(0, text.len()),
            "a line of only spaces: iptables-restore refuses it (no command specified)",
        ));
    };
    if text.starts_with([' ', '\t']) && content.as_rule() != G::command_line {
        return nothing(syntax_error(
            ctx.span(0, text.len() - text.trim_start().len()),
            "iptables-restore allows indentation only before a command; remove the leading spaces",
        ));
    }
    let whole = ctx.whole();
    let mut findings = Vec::new();
    let kind = match content.as_rule() {
        G::comment => {
            let body = content.into_inner().next().map_or("", |p| p.as_str());
            LineKind::Comment(CommentLine {
                text: body.into(),
                span: whole,
            })
        }
        G::table_header => {
            let name = content
                .into_inner()
                .next()
                .expect("table_header has a name");
            LineKind::TableHeader {
                name: name.as_str().to_string(),
                name_span: ctx.pair_span(&name),
                whole,
            }
        }
        G::chain_decl => {
            let mut inner = content.into_inner();
            let name = inner.next().expect("chain_decl has a name");
            let policy = inner.next().expect("chain_decl has a policy");
            let counters = inner
                .next()
                .filter(|c| c.as_rule() == G::counters)
                .map(|c| parse_counters(&c));
            LineKind::ChainDecl {
                name: name.as_str().to_string(),
                policy: policy.as_str().to_string(),
                policy_span: ctx.pair_span(&policy),
                counters,
                whole,
            }
        }
        G::commit => LineKind::Commit(whole),
        G::command_line => {
            let mut counters = None;
            let mut tokens = Vec::new();
            for p in content.into_inner() {
                match p.as_rule() {
                    G::counters => counters = Some(parse_counters(&p)),
                    _ => tokens.push(token(&ctx, p, &mut findings)),
                }
            }
            check_word_limits(&tokens, &mut findings);
            LineKind::Command(Box::new(plan_command(counters, tokens, &ctx)))
        }
        other => unreachable!("line yields only line kinds, got {other:?}"),
    };
    ReadLine { kind, findings }
}

/// iptables-restore's fixed buffers: a word of 1,024 bytes or more, or more
/// than [`MAX_WORDS`] words, and it refuses the line.
fn check_word_limits(tokens: &[Token], findings: &mut Vec<Finding>) {
    for t in tokens {
        let len = match &t.kind {
            TokenKind::Option {
                inline: Some((value, _)),
            } => t.text.len() + 1 + value.len(),
            _ => t.text.len(),
        };
        if len > MAX_WORD_BYTES {
            findings.push(
                Finding::new(
                    &codes::SYNTAX_ERROR,
                    t.span,
                    format!("this word is {len} bytes long: iptables-restore refuses words longer than {MAX_WORD_BYTES} bytes (Parameter too long)"),
                )
                .help("shorten it; a comment need not hold a whole document"),
            );
        }
    }
    if let Some(extra) = tokens.get(MAX_WORDS) {
        findings.push(
            Finding::new(
                &codes::SYNTAX_ERROR,
                extra.span,
                format!(
                    "{} words in one line: iptables-restore takes at most {MAX_WORDS} (Parser cannot handle more arguments)",
                    tokens.len()
                ),
            )
            .help("split the rule, or use multiport or an ipset for long lists"),
        );
    }
}

pub(super) fn parse_counters(pair: &Pair<'_, G>) -> Counters {
    let mut nums = pair
        .clone()
        .into_inner()
        .map(|p| p.as_str().parse::<u64>().unwrap_or(u64::MAX));
    Counters {
        packets: nums.next().unwrap_or(0),
        bytes: nums.next().unwrap_or(0),
    }
}

/// Why iptables-restore (nft backend) refuses a new user chain's name, if it
/// does. A `:NAME` line is checked against the standard verdicts only; `-N`
/// also against every target extension (`-N DNAT` fails, `:DNAT - [0:0]`
/// loads).
fn chain_name_problem(name: &str, new_chain: bool) -> Option<String> {
    const MAX_CHARS: usize = 28;
    if name.len() > MAX_CHARS {
        return Some(format!(
            "chain name `{}` is {} bytes long: iptables allows at most {MAX_CHARS}",
            shown(name),
            name.len()
        ));
    }
    if let Some(c) = name.chars().next().filter(|c| matches!(c, '-' | '!')) {
        return Some(format!(
            "chain name `{name}` starts with `{c}`: the nft backend refuses it (chain name not allowed to start with `{c}`)"
        ));
    }
    let verdict = matches!(name, "ACCEPT" | "DROP" | "QUEUE" | "RETURN");
    if verdict || (new_chain && rule_spec::is_target_extension(name)) {
        return Some(format!(
            "chain name `{name}` is the name of a target: iptables refuses it (chain name may not clash with target name)"
        ));
    }
    None
}

/// A word as messages quote it: long ones (a 10,000-byte piece of a line)
/// cut to their start.
fn shown(word: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 40;
    match word.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &word[..at]).into(),
        None => word.into(),
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
        (true, Some(f)) => format!("unexpected `{}`", shown(f)),
        (true, None) => "unexpected end of line".to_string(),
    };
    if let Some(b) = before.filter(|_| !expected.is_empty()) {
        message.push_str(&format!(" after `{}`", shown(b)));
    }
    if let (false, Some(f)) = (expected.is_empty(), found) {
        message.push_str(&format!(", found `{}`", shown(f)));
    }
    // `found` starts after the spaces at `pos`: count them, or the end can
    // fall inside a multi-byte character (found by the `parse` fuzz target).
    let spaces = text[pos..].len() - text[pos..].trim_start().len();
    let end = pos + found.map_or(0, |f| spaces + f.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_and_renamed_chains_leave_the_others_in_order() {
        let text = "*filter\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n:D - [0:0]\n-A D -j ACCEPT\n\
                    -X B\n-E C B\n-X A\n:A - [0:0]\n-A B -j DROP\n-N E\n-X E\nCOMMIT\n";
        let parsed = parse(text, None);
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let filter = &parsed.ruleset.tables[0];
        let users: Vec<&str> = filter
            .chains
            .iter()
            .filter(|c| !c.builtin)
            .map(|c| c.name.as_str())
            .collect();
        // C, renamed B, stays where C was; A comes back after D.
        assert_eq!(users, ["B", "D", "A"]);
        let rules = |name: &str| filter.chain(name).map(|c| c.rules.len());
        assert_eq!(
            (rules("B"), rules("D"), rules("A")),
            (Some(1), Some(1), Some(0))
        );
        // A deleted chain is gone for later commands too.
        let again = parse("*filter\n:A - [0:0]\n-X A\n-A A -j ACCEPT\nCOMMIT\n", None);
        assert!(
            again.ruleset.tables[0]
                .chain("A")
                .is_some_and(|c| !c.declared)
        );
    }

    #[test]
    fn appends_are_counted_per_table_and_chain() {
        // Nine appends to filter INPUT (one with counters before `-A`),
        // nine to mangle INPUT (indented), one to FOO, and an insert.
        let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n[3:4] -A INPUT -j DROP\n");
        text += &"-A INPUT -j ACCEPT\n".repeat(8);
        text += "-A FOO -j RETURN\nCOMMIT\n*mangle\n";
        text += &"  -A INPUT -j MARK --set-mark 1\n".repeat(9);
        text += "-I INPUT -j ACCEPT\nCOMMIT\n";
        let all = count_lines(&text);
        let counts = &all.appends;
        assert_eq!(all.declarations.get("filter"), Some(&1));
        assert_eq!(all.declarations.get("mangle"), None);
        assert_eq!(counts.get(&("filter", "INPUT")), Some(&9));
        assert_eq!(counts.get(&("mangle", "INPUT")), Some(&9));
        // A chain too short to ever ask is not kept.
        assert_eq!(counts.get(&("filter", "FOO")), None);
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn a_long_chain_is_allocated_at_its_length() {
        let mut text = String::from("*filter\n");
        for i in 0..1000 {
            text.push_str(&format!(
                "-A INPUT -s 10.0.{}.{}/32 -j ACCEPT\n",
                i / 256,
                i % 256
            ));
        }
        text.push_str("COMMIT\n");
        let parsed = parse(&text, None);
        let rules = &parsed.ruleset.tables[0].chains[0].rules;
        assert_eq!(rules.len(), 1000);
        assert_eq!(rules.capacity(), 1000);
    }

    #[test]
    fn releasing_parse_gives_the_same_result_and_releases_all_the_text_in_order() {
        // Several chunks of lines, a replaced table block, a missing COMMIT
        // and no newline at the end.
        let mut text = String::from("*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n");
        text.push_str("*filter\n:INPUT DROP [0:0]\n:L\u{f6}G - [0:0]\n");
        for i in 0..3 * LINES_PER_CHUNK + 17 {
            text.push_str(&format!(
                "-A L\u{f6}G -s 10.{}.{}.0/24 -m comment --comment \"r\u{e8}gle {i}\" -j RETURN\r\n",
                i / 256 % 256,
                i % 256
            ));
        }
        text.push_str("-A INPUT -p tcp --dport 70000 -j L\u{f6}G");
        let plain = parse(&text, None);
        let mut ranges = Vec::new();
        let releasing = parse_releasing(&text, None, &mut |range| ranges.push(range));
        assert_eq!(releasing.ruleset, plain.ruleset);
        assert_eq!(releasing.findings, plain.findings);
        assert_eq!(releasing.replaced, plain.replaced);
        assert!(!plain.findings.is_empty() && !plain.replaced.is_empty());
        // The whole text after the scan that counts lines, then the chunks:
        // in order, each starting where the one before ended, to the end.
        assert_eq!(ranges[0], 0..text.len());
        let chunks = &ranges[1..];
        let lines = text.split_inclusive('\n').count();
        assert_eq!(chunks.len(), lines.div_ceil(LINES_PER_CHUNK));
        assert!(chunks.len() > 3);
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks.last().map(|r| r.end), Some(text.len()));
        for pair in chunks.windows(2) {
            assert!(pair[0].start < pair[0].end);
            assert_eq!(pair[0].end, pair[1].start);
        }
        // A chunk ends at the end of a line.
        for chunk in chunks {
            assert!(chunk.end == text.len() || text.as_bytes()[chunk.end - 1] == b'\n');
        }
    }

    fn unknown_options(text: &str) -> Vec<u32> {
        parse(text, Some(Family::Ipv6))
            .findings
            .iter()
            .filter(|f| f.lint.code == codes::UNKNOWN_OPTION.code)
            .map(|f| f.span.line)
            .collect()
    }

    #[test]
    fn only_p_mh_by_that_name_loads_the_mh_match() {
        // As ip6tables-restore 1.8.9 does: `-p mh` and `-p MH` load `mh`;
        // 135 and its other names do not.
        let text = "*filter\n-A INPUT -p mh --mh-type 5 -j DROP\n-A INPUT -p MH --mh-type 5 -j DROP\n-A INPUT -p 135 --mh-type 5 -j DROP\n-A INPUT -p ipv6-mh --mh-type 5 -j DROP\nCOMMIT\n";
        assert_eq!(unknown_options(text), vec![4, 5]);
    }

    #[test]
    fn an_abbreviation_is_read_as_its_option_and_kept_as_written() {
        let text = "*nat\n-A POSTROUTING -j SNAT --to 192.0.2.1\nCOMMIT\n";
        let parsed = parse(text, Some(Family::Ipv4));
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let rule = &parsed.ruleset.tables[0]
            .chains
            .iter()
            .find(|c| c.name == "POSTROUTING")
            .unwrap()
            .rules[0];
        let option = &rule.target.as_ref().unwrap().options[0];
        assert_eq!(option.name, "--to-source");
        assert_eq!(option.written(), "--to");
        assert!(matches!(option.value, Value::Nat(_)));
    }
}
