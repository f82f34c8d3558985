//! The typed model of a dump: Ruleset → Table → Chain → Rule (matches + target).
//!
//! Nothing here knows about pest. Every element carries the [`Span`] it was read
//! from, so that any analysis can point back at the source. Two model values
//! compare equal when they *say* the same thing: spans are locations, not
//! content, and never take part in `==` (see [`Span`]). That is what the round
//! trip test and duplicate detection want.

#[cfg(test)]
mod element_spans;
mod extensions;
mod print;
mod text;
mod values;

pub use extensions::{
    ExtensionSpec, OptionSpec, ValueKind, also_required_options, match_spec, protocol_match,
    required_options, target_spec,
};
pub use text::Text;
pub use values::*;

use std::fmt;

/// The model's lists: one pointer wide (length and capacity live with the
/// elements), and no allocation when empty. A dump holds millions of them,
/// most with one or two elements, so the 16 bytes a `Vec` spends on length
/// and capacity inline are a large part of the model.
pub type List<T> = thin_vec::ThinVec<T>;
pub use thin_vec::thin_vec as list;

/// An option's words. Nearly every option has exactly one (`--dport 22`),
/// so one is kept inline: a one-element list on the heap cost 48 bytes and
/// an allocation per option, inline it costs 32 more bytes in the option.
pub type Words = smallvec::SmallVec<[Word; 1]>;

/// Where an element stands in its file: byte range, and the 1-based line and
/// column (in characters) of its first byte.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        if other.end <= self.start {
            return other.to(self);
        }
        Span {
            start: self.start,
            end: other.end.max(self.end),
            line: self.line,
            column: self.column,
        }
    }
}

// Spans are locations, not content: see the module docs.
impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}
impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// IPv4 (`iptables`) or IPv6 (`ip6tables`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: std::net::IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// The five netfilter tables iptables knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableName {
    Raw,
    Mangle,
    Nat,
    Filter,
    Security,
}

impl TableName {
    pub const ALL: [TableName; 5] = [
        TableName::Raw,
        TableName::Mangle,
        TableName::Nat,
        TableName::Filter,
        TableName::Security,
    ];

    pub fn parse(name: &str) -> Option<TableName> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
            TableName::Security => "security",
        }
    }

    /// The builtin chains (hooks) the kernel gives this table.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            TableName::Raw => &["PREROUTING", "OUTPUT"],
            TableName::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            TableName::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            TableName::Filter | TableName::Security => &["INPUT", "FORWARD", "OUTPUT"],
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every chain name that is builtin in *some* table.
pub const HOOK_NAMES: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// One parsed dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    pub family: Family,
    pub tables: Vec<Table>,
    /// `#` lines, kept for suppression comments.
    pub comments: Vec<CommentLine>,
}

impl Ruleset {
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn chain_count(&self) -> usize {
        self.tables.iter().map(|t| t.chains.len()).sum()
    }

    pub fn rule_count(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| c.rules.len())
            .sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentLine {
    pub text: Text,
    pub span: Span,
}

/// A `*table` block up to its `COMMIT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: TableName,
    /// The `*name` header.
    pub span: Span,
    pub chains: Vec<Chain>,
    /// The `COMMIT` line; `None` when the file ended without one.
    pub commit: Option<Span>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }
}

/// A chain with its rules in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: Text,
    /// The `:NAME POLICY` line, or the first rule that used an undeclared name.
    pub span: Span,
    pub rules: List<Rule>,
    /// The declaration's `[packets:bytes]` other than `[0:0]`: read them
    /// through [`Chain::counters`]. A kube-proxy dump declares 200,000
    /// chains, nearly all with `[0:0]`, and 24 bytes inline for each made
    /// every chain a third longer.
    nonzero_counters: Option<Box<Counters>>,
    /// `true` when the name is one of this table's builtin chains.
    pub builtin: bool,
    /// `false` when a user chain was never declared with `:NAME` or `-N`;
    /// rules were added to it anyway (iptables-restore refuses that). Builtin
    /// chains always exist, declared or not, and are always `true`.
    pub declared: bool,
    /// `ACCEPT`/`DROP` for builtin chains; `None` for `-`.
    pub policy: Option<Policy>,
    /// The declaration has counters (see `nonzero_counters`).
    has_counters: bool,
}

impl Chain {
    /// A chain with no rules, policy or counters.
    pub fn new(name: Text, span: Span, builtin: bool, declared: bool) -> Chain {
        Chain {
            name,
            span,
            rules: List::new(),
            nonzero_counters: None,
            builtin,
            declared,
            policy: None,
            has_counters: false,
        }
    }

    /// The declaration's `[packets:bytes]`, if it had them.
    pub fn counters(&self) -> Option<Counters> {
        self.has_counters.then(|| {
            self.nonzero_counters
                .as_deref()
                .copied()
                .unwrap_or(Counters {
                    packets: 0,
                    bytes: 0,
                })
        })
    }

    pub fn set_counters(&mut self, counters: Option<Counters>) {
        self.has_counters = counters.is_some();
        self.nonzero_counters = counters
            .filter(|c| (c.packets, c.bytes) != (0, 0))
            .map(Box::new);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// One word of the source: its unquoted text and where it stood.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Word {
    pub text: Text,
    /// Where it stands in its rule's line: read it through [`Word::span_in`].
    pub(crate) at: OnRuleLine,
}

impl Word {
    /// A word standing at `span` in the rule whose span is `rule`.
    pub fn new(text: Text, span: Span, rule: Span) -> Word {
        Word {
            text,
            at: OnRuleLine::of(span, rule),
        }
    }

    /// Where the word stands in `rule`; the rule's span when it could not
    /// be kept relative to the rule's line (as [`Rule::target_span`]).
    pub fn span_in(&self, rule: &Rule) -> Span {
        self.at.in_rule(rule.span).unwrap_or(rule.span)
    }

    /// Records where the word stands in the rule whose span is `rule`.
    pub fn set_span_in(&mut self, span: Span, rule: Span) {
        self.at = OnRuleLine::of(span, rule);
    }
}

/// A value that may carry `!`, and, for a generic option of a rule, where
/// it stands on the rule's line (read it through [`Rule::generic_span`]).
/// The 6-byte place fits in the padding the flag leaves beside the value,
/// so it costs nothing for addresses and protocols.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Negatable<T> {
    pub negated: bool,
    pub(crate) at: OnRuleLine,
    pub value: T,
}

impl<T> Negatable<T> {
    pub fn new(negated: bool, value: T) -> Negatable<T> {
        Negatable {
            negated,
            at: OnRuleLine::default(),
            value,
        }
    }
}

/// One rule: the generic matches iptables itself knows (`-s -d -p -i -o -f`),
/// the extension matches loaded with `-m` (or implied by `-p`), and the target.
///
/// A dump holds up to a million rules, so the layout is kept tight (128
/// bytes): the spans of the parts on the rule's line are 6-byte offsets
/// into it, and what few rules have (`-i`, `-o`, `-f`, counters) is in one
/// box, read and set through methods ([`Rule::in_interface`], ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The whole line.
    pub span: Span,
    pub source: Option<Negatable<List<AddrSpec>>>,
    pub destination: Option<Negatable<List<AddrSpec>>>,
    pub protocol: Option<Negatable<Protocol>>,
    pub matches: List<Match>,
    pub target: Option<Target>,
    /// Interfaces, `-f`, `-4`/`-6`, counters and an unusual `-p` word;
    /// `None` when the rule has none of them (never a box of nothing, so
    /// that equal rules compare equal).
    pub(crate) rare: Option<Box<RareParts>>,
    /// `-A`'s chain argument: read it through [`Rule::chain_span`].
    pub(crate) chain_at: OnRuleLine,
}

/// The parts of a rule that most rules lack. A new field here must also be
/// decided on in `lints::RuleKey` (which rules are the same rule).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct RareParts {
    /// `[packets:bytes]` or `-c`.
    counters: Option<Counters>,
    in_interface: Option<Negatable<Interface>>,
    out_interface: Option<Negatable<Interface>>,
    /// `-f`: only second and later fragments.
    fragment: Option<Negatable<()>>,
    /// `-4`/`-6`: the rule only applies to that family.
    only_family: Option<Family>,
    /// The `-p` word when it is not a name of the protocol table (`6`, `TCP`).
    protocol_word: Option<Text>,
}

impl RareParts {
    fn is_empty(&self) -> bool {
        self.counters.is_none()
            && self.in_interface.is_none()
            && self.out_interface.is_none()
            && self.fragment.is_none()
            && self.only_family.is_none()
            && self.protocol_word.is_none()
    }
}

/// The generic options a rule may carry once each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Generic {
    Source,
    Destination,
    Protocol,
    InInterface,
    OutInterface,
}

impl Generic {
    pub const ALL: [Generic; 5] = [
        Generic::Source,
        Generic::Destination,
        Generic::Protocol,
        Generic::InInterface,
        Generic::OutInterface,
    ];
}

/// A span inside its rule's line, relative to the rule's span. Zero length
/// means absent: every element it records is at least two bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OnRuleLine {
    offset: u16,
    len: u16,
    column: u16,
}

impl OnRuleLine {
    /// `s` relative to the rule's span, if it can be read back exactly.
    fn of(s: Span, rule: Span) -> OnRuleLine {
        (|| {
            if s.line != rule.line {
                return None;
            }
            Some(OnRuleLine {
                offset: u16::try_from(s.start.checked_sub(rule.start)?).ok()?,
                len: u16::try_from(s.end.checked_sub(s.start)?).ok()?,
                column: u16::try_from(s.column).ok()?,
            })
        })()
        .unwrap_or_default()
    }

    fn in_rule(self, rule: Span) -> Option<Span> {
        (self.len > 0).then(|| {
            let start = rule.start + u32::from(self.offset);
            Span {
                start,
                end: start + u32::from(self.len),
                line: rule.line,
                column: u32::from(self.column),
            }
        })
    }
}

// Spans are locations, not content (see the module docs).
impl PartialEq for OnRuleLine {
    fn eq(&self, _: &OnRuleLine) -> bool {
        true
    }
}
impl Eq for OnRuleLine {}
impl std::hash::Hash for OnRuleLine {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl Rule {
    /// A rule with nothing but its line; the parser fills in the rest.
    pub fn new(span: Span) -> Rule {
        Rule {
            span,
            source: None,
            destination: None,
            protocol: None,
            matches: List::new(),
            target: None,
            rare: None,
            chain_at: OnRuleLine::default(),
        }
    }

    /// `-4`/`-6`: the rule only applies to that family.
    pub fn only_family(&self) -> Option<Family> {
        self.rare.as_ref()?.only_family
    }

    pub fn set_only_family(&mut self, family: Option<Family>) {
        self.change_rare(|r| r.only_family = family);
    }

    /// Sets `-p` with the word as written.
    pub fn set_protocol(&mut self, protocol: Option<Negatable<Protocol>>, word: &str) {
        let unusual = protocol
            .as_ref()
            .filter(|p| p.value.written_name().is_none())
            .map(|_| Text::from(word));
        self.protocol = protocol;
        self.change_rare(|r| r.protocol_word = unusual);
    }

    /// The `-p` word as written (or, for a protocol set without its word,
    /// its canonical name).
    pub fn protocol_written(&self) -> Option<&str> {
        let p = self.protocol.as_ref()?;
        p.value
            .written_name()
            .or_else(|| self.rare.as_ref().and_then(|r| r.protocol_word.as_deref()))
            .or_else(|| p.value.name())
    }

    pub fn in_interface(&self) -> Option<&Negatable<Interface>> {
        self.rare.as_ref()?.in_interface.as_ref()
    }

    pub fn out_interface(&self) -> Option<&Negatable<Interface>> {
        self.rare.as_ref()?.out_interface.as_ref()
    }

    /// `-f`: only second and later fragments (`! -f`: only unfragmented
    /// packets and first fragments).
    pub fn fragment(&self) -> Option<&Negatable<()>> {
        self.rare.as_ref()?.fragment.as_ref()
    }

    pub fn counters(&self) -> Option<&Counters> {
        self.rare.as_ref()?.counters.as_ref()
    }

    pub fn set_in_interface(&mut self, value: Option<Negatable<Interface>>) {
        self.change_rare(|r| r.in_interface = value);
    }

    pub fn set_out_interface(&mut self, value: Option<Negatable<Interface>>) {
        self.change_rare(|r| r.out_interface = value);
    }

    pub fn set_fragment(&mut self, value: Option<Negatable<()>>) {
        self.change_rare(|r| r.fragment = value);
    }

    pub fn set_counters(&mut self, value: Option<Counters>) {
        self.change_rare(|r| r.counters = value);
    }

    /// Changes the rare parts, boxing them only when something is left:
    /// the parser sets the `-p` word of every rule, nearly always to none.
    fn change_rare(&mut self, change: impl FnOnce(&mut RareParts)) {
        match &mut self.rare {
            Some(rare) => {
                change(rare);
                if rare.is_empty() {
                    self.rare = None;
                }
            }
            None => {
                let mut rare = RareParts::default();
                change(&mut rare);
                if !rare.is_empty() {
                    self.rare = Some(Box::new(rare));
                }
            }
        }
    }

    /// Where the generic option stands, if the rule has it.
    pub fn generic_span(&self, which: Generic) -> Option<Span> {
        let at = match which {
            Generic::Source => self.source.as_ref()?.at,
            Generic::Destination => self.destination.as_ref()?.at,
            Generic::Protocol => self.protocol.as_ref()?.at,
            Generic::InInterface => self.in_interface()?.at,
            Generic::OutInterface => self.out_interface()?.at,
        };
        at.in_rule(self.span)
    }

    /// Records (or, with `None`, forgets) where the generic option stands.
    /// Set the option and the rule's own span first: the place is kept
    /// with the option, and the line is taken from the rule.
    pub fn set_generic_span(&mut self, which: Generic, span: Option<Span>) {
        let at = span.map_or_else(OnRuleLine::default, |s| OnRuleLine::of(s, self.span));
        let rare = self.rare.as_deref_mut();
        let slot = match which {
            Generic::Source => self.source.as_mut().map(|n| &mut n.at),
            Generic::Destination => self.destination.as_mut().map(|n| &mut n.at),
            Generic::Protocol => self.protocol.as_mut().map(|n| &mut n.at),
            Generic::InInterface => rare
                .and_then(|r| r.in_interface.as_mut())
                .map(|n| &mut n.at),
            Generic::OutInterface => rare
                .and_then(|r| r.out_interface.as_mut())
                .map(|n| &mut n.at),
        };
        if let Some(slot) = slot {
            *slot = at;
        }
    }

    /// Where the chain argument of `-A`/`-I` stands; the rule's span when
    /// it is not on the rule's line (see [`OnRuleLine`]).
    pub fn chain_span(&self) -> Span {
        self.chain_at.in_rule(self.span).unwrap_or(self.span)
    }

    /// Records where the chain argument stands. Set the rule's own span first.
    pub fn set_chain_span(&mut self, span: Span) {
        self.chain_at = OnRuleLine::of(span, self.span);
    }

    /// Where `-j NAME`/`-g NAME` stands; the rule's span when it has no
    /// target or the span is not on the rule's line (see [`OnRuleLine`]).
    pub fn target_span(&self) -> Span {
        self.target
            .as_ref()
            .and_then(|t| t.at.in_rule(self.span))
            .unwrap_or(self.span)
    }

    /// Records where the target stands. Set the rule's own span first.
    pub fn set_target_span(&mut self, span: Span) {
        let at = OnRuleLine::of(span, self.span);
        if let Some(t) = self.target.as_mut() {
            t.at = at;
        }
    }

    /// The first match loaded under this module name.
    pub fn find_match(&self, module: &str) -> Option<&Match> {
        self.matches.iter().find(|m| m.module == module)
    }

    /// A match option by module and option name (`("tcp", "--dport")`).
    pub fn match_option(&self, module: &str, option: &str) -> Option<&MatchOption> {
        self.matches
            .iter()
            .filter(|m| m.module == module)
            .flat_map(|m| &m.options)
            .find(|o| o.name == option)
    }

    /// The chain this rule jumps or goes to, if its target is a user chain.
    pub fn jump_chain(&self) -> Option<(&str, JumpKind)> {
        match &self.target {
            Some(Target {
                kind: TargetKind::Chain,
                name,
                jump,
                ..
            }) => Some((name, *jump)),
            _ => None,
        }
    }

    /// True when the rule tests nothing: every packet that reaches it matches.
    pub fn is_unconditional(&self) -> bool {
        self.source.is_none()
            && self.destination.is_none()
            && self.protocol.is_none()
            && self.rare.as_ref().is_none_or(|r| {
                r.in_interface.is_none() && r.out_interface.is_none() && r.fragment.is_none()
            })
            && self.matches.iter().all(|m| m.is_always_true())
    }
}

/// An extension match: `-m tcp --dport 22`, or one loaded implicitly by `-p tcp`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Match {
    pub module: Text,
    /// `-m name`, or the first option when the match was implied by `-p`:
    /// read it through [`Match::span_in`].
    pub(crate) at: OnRuleLine,
    /// Loaded by `-p` rather than `-m` (iptables-save always writes `-m`).
    pub implicit: bool,
    /// `false` when iptlint does not know this module: its options are kept
    /// raw and analyses must treat the match as unknown.
    pub modelled: bool,
    pub options: List<MatchOption>,
}

impl Match {
    /// Matches that never restrict anything. Only `-m comment`: a match
    /// module without options still tests something (`-m tcp` fails on later
    /// fragments, `-m limit` limits to 3/hour by default).
    pub fn is_always_true(&self) -> bool {
        self.module == "comment"
    }

    /// Where `-m name` stands in `rule` (for a match implied by `-p`, its
    /// first option); the rule's span when it could not be kept relative to
    /// the rule's line (as [`Rule::target_span`]).
    pub fn span_in(&self, rule: &Rule) -> Span {
        self.at.in_rule(rule.span).unwrap_or(rule.span)
    }

    /// Records where the match stands in the rule whose span is `rule`.
    pub fn set_span_in(&mut self, span: Span, rule: Span) {
        self.at = OnRuleLine::of(span, rule);
    }
}

/// One option of a match or target, with its typed value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MatchOption {
    /// The canonical long name (`--dport` for `--destination-port`).
    pub name: Text,
    /// The name as written, when it is not `name`: an alias
    /// (`--destination-port`) or an abbreviation (`--dp`). Most options are
    /// written by their name, and then nothing is stored twice. Boxed: it
    /// is rare, and the box is half the size of a `Text`.
    pub alias: Option<Box<Text>>,
    pub negated: bool,
    /// From the option (or its `!`) to its last word: read it through
    /// [`MatchOption::span_in`].
    pub(crate) at: OnRuleLine,
    pub words: Words,
    pub value: Value,
}

impl MatchOption {
    /// The text of a [`Value::Text`] option: its one word.
    pub fn text(&self) -> Option<&str> {
        match self.value {
            Value::Text => self.words.first().map(|w| w.text.as_str()),
            _ => None,
        }
    }

    /// The name as written.
    pub fn written(&self) -> &str {
        self.alias.as_deref().map_or(&self.name, |a| a)
    }

    /// Where the option stands in `rule`, from its `!` or name to its last
    /// word; the rule's span when it could not be kept relative to the
    /// rule's line (as [`Rule::target_span`]).
    pub fn span_in(&self, rule: &Rule) -> Span {
        self.at.in_rule(rule.span).unwrap_or(rule.span)
    }

    /// Records where the option stands in the rule whose span is `rule`.
    pub fn set_span_in(&mut self, span: Span, rule: Span) {
        self.at = OnRuleLine::of(span, rule);
    }
}

/// `-j` pushes a return point; `-g` does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JumpKind {
    Jump,
    Goto,
}

/// `-j NAME ...` or `-g CHAIN`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub name: Text,
    /// Where `-j NAME` stands: read it through [`Rule::target_span`].
    pub(crate) at: OnRuleLine,
    pub jump: JumpKind,
    pub kind: TargetKind,
    pub options: List<MatchOption>,
}

impl Target {
    pub fn option(&self, name: &str) -> Option<&MatchOption> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// What a target is. Extension targets iptlint does not know are `Other`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Accept,
    Drop,
    Return,
    Queue,
    /// A known extension target (`REJECT`, `DNAT`, `LOG`, ...), by name.
    Extension,
    /// An unknown extension target, kept raw.
    Other,
    /// A user chain, named by the target's `name`.
    Chain,
}

impl TargetKind {
    /// Decides the packet's fate in this table for good (ignoring what a
    /// chain target does).
    pub fn is_terminal_verdict(&self, name: &str) -> bool {
        match self {
            TargetKind::Accept | TargetKind::Drop | TargetKind::Queue => true,
            TargetKind::Extension => matches!(
                name,
                "REJECT"
                    | "DNAT"
                    | "SNAT"
                    | "MASQUERADE"
                    | "REDIRECT"
                    | "NETMAP"
                    | "NFQUEUE"
                    | "TPROXY"
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule of `-A INPUT SPEC` in a filter table of its own.
    fn input_rule(spec: &str) -> Rule {
        crate::syntax::parse(&format!("*filter\n-A INPUT {spec}\nCOMMIT\n"), None)
            .ruleset
            .tables
            .remove(0)
            .chains
            .into_iter()
            .find(|c| c.name == "INPUT")
            .map(|mut c| c.rules.remove(0))
            .expect("the rule")
    }

    fn rule_on_line(line: u32) -> Rule {
        let mut r = input_rule("-s 10.0.0.1 -p tcp -j ACCEPT");
        r.span.line = line;
        r
    }

    #[test]
    fn a_protocol_word_and_family_are_kept_as_written_and_cost_a_box_only_when_unusual() {
        let rule = input_rule;
        assert_eq!(std::mem::size_of::<Rule>(), 112);
        let plain = rule("-p tcp -j ACCEPT");
        assert_eq!(plain.protocol_written(), Some("tcp"));
        assert!(plain.rare.is_none(), "a table name needs no box");
        for (text, word) in [("-p TCP -j ACCEPT", "TCP"), ("-p 6 -j ACCEPT", "6")] {
            let r = rule(text);
            assert_eq!(r.protocol_written(), Some(word), "{text}");
            assert_eq!(r.protocol.as_ref().unwrap().value.number, Some(6));
            assert!(r.spec_text().contains(&format!("-p {word} ")), "{text}");
            assert_ne!(r, plain, "the word as written takes part in equality");
        }
        let four = rule("-4 -p udp -j ACCEPT");
        assert_eq!(four.only_family(), Some(Family::Ipv4));
        assert!(four.spec_text().starts_with("-4 "));
        let mut cleared = four.clone();
        cleared.set_only_family(None);
        assert!(cleared.rare.is_none(), "an emptied box is dropped");
    }

    #[test]
    fn generic_spans_read_back_with_the_rules_line_and_their_column() {
        let mut rule = rule_on_line(7);
        rule.span = Span {
            start: 100_000,
            end: 100_050,
            line: 7,
            column: 1,
        };
        let s = Span {
            start: 100_008,
            end: 100_021,
            line: 7,
            column: 9,
        };
        rule.set_generic_span(Generic::Source, Some(s));
        rule.set_chain_span(s);
        for back in [
            rule.generic_span(Generic::Source).expect("kept"),
            rule.chain_span(),
        ] {
            assert_eq!(
                (back.start, back.end, back.line, back.column),
                (100_008, 100_021, 7, 9)
            );
        }
        // A multi-byte character before it: the column counts characters,
        // and is kept as it was.
        let after_utf8 = Span { column: 7, ..s };
        rule.set_generic_span(Generic::Source, Some(after_utf8));
        assert_eq!(
            rule.generic_span(Generic::Source).map(|b| b.column),
            Some(7)
        );
        rule.set_generic_span(Generic::Source, None);
        assert!(rule.generic_span(Generic::Source).is_none());
    }

    #[test]
    fn generic_spans_it_cannot_hold_are_dropped_not_bent() {
        let mut rule = rule_on_line(7);
        rule.span = Span {
            start: 1_000,
            end: 200_000,
            line: 7,
            column: 1,
        };
        let at = |start: u32, line, column, len: u32| Span {
            start,
            end: start + len,
            line,
            column,
        };
        for s in [
            // another line
            at(1_010, 8, 11, 4),
            // a column past 65,535
            at(1_010, 7, 70_000, 4),
            // before the rule
            at(990, 7, 1, 4),
            // too far from the rule's start, too long
            at(1_000 + 70_000, 7, 70_001, 4),
            at(1_010, 7, 11, 70_000),
        ] {
            rule.set_generic_span(Generic::Protocol, Some(s));
            assert!(rule.generic_span(Generic::Protocol).is_none(), "{s:?}");
            rule.set_chain_span(s);
            assert_eq!(rule.chain_span().start, rule.span.start, "{s:?}");
        }
    }

    #[test]
    fn the_parser_records_where_each_generic_option_stands() {
        let rule = rule_on_line(2);
        let src = rule.generic_span(Generic::Source).expect("-s");
        let proto = rule.generic_span(Generic::Protocol).expect("-p");
        assert_eq!((src.line, src.column, src.end - src.start), (2, 10, 11));
        assert_eq!((proto.column, proto.end - proto.start), (22, 6));
        assert!(rule.generic_span(Generic::InInterface).is_none());
    }
}
