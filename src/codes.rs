//! The catalogue of every finding iptlint can produce: code, name, default
//! severity and category, in one table apart from the code that finds them.
//!
//! Codes are grouped by stage, shellcheck style, and never reused:
//! - IPT0xx: the file cannot be read as iptables-restore input (syntax stage);
//! - IPT1xx: the kernel or iptables-restore refuses what the file asks for;
//! - IPT2xx: dead code (rules and chains no packet reaches);
//! - IPT3xx: suspicious or wasteful, but loads and works.
//!
//! Each lint's documentation is its page in `rules/<CODE>-<name>.md`.

use crate::diagnostic::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Syntax,
    Correctness,
    DeadCode,
    Suspicious,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Correctness => "correctness",
            Category::DeadCode => "dead-code",
            Category::Suspicious => "suspicious",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Lint {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub category: Category,
    /// One line: what the lint finds.
    pub summary: &'static str,
}

macro_rules! lints {
    ($($ident:ident = $code:literal $name:literal $sev:ident $cat:ident $summary:literal;)*) => {
        $(pub static $ident: Lint = Lint {
            code: $code,
            name: $name,
            severity: Severity::$sev,
            category: Category::$cat,
            summary: $summary,
        };)*
        /// Every lint, in code order.
        pub static ALL: &[&Lint] = &[$(&$ident),*];
    };
}

lints! {
    SYNTAX_ERROR = "IPT001" "syntax-error" Error Syntax
        "A line that iptables-restore cannot read.";
    INVALID_VALUE = "IPT002" "invalid-value" Error Syntax
        "An option argument iptables refuses: a bad address, port, state, mark or number.";
    UNKNOWN_OPTION = "IPT003" "unknown-option" Error Syntax
        "An option that no loaded match or target takes.";
    OLD_NEGATION = "IPT004" "old-negation" Error Syntax
        "`! ` after the option (`-s ! X`): removed from iptables, refused by iptables-restore.";
    SINGLE_QUOTE = "IPT005" "single-quoted-argument" Error Syntax
        "A single-quoted argument: iptables-restore does not treat `'` as a quote.";
    UNTERMINATED_QUOTE = "IPT006" "unterminated-quote" Warning Syntax
        "A double quote left open: iptables-restore takes the rest of the line as one argument.";
    CRLF_LINE = "IPT007" "crlf-line-ending" Error Syntax
        "A CRLF line ending: iptables-restore reads the carriage return as part of the last word.";
    UNKNOWN_EXTENSION = "IPT008" "unknown-extension" Error Syntax
        "A match module that iptables does not have, or a target the kernel no longer has (ULOG, CLUSTERIP).";
    FAMILY_MISMATCH = "IPT009" "wrong-address-family" Error Syntax
        "An IPv4 address in an ip6tables dump, or the other way round.";
    OPTION_NEEDS_PROTOCOL = "IPT101" "option-needs-protocol" Error Correctness
        "A protocol option (`--dport`, `--icmp-type`, ...) or match without the `-p` it needs.";
    UNDEFINED_CHAIN = "IPT102" "undefined-chain" Error Correctness
        "A jump or goto to a chain the table does not declare, or a rule added to an undeclared chain.";
    CHAIN_LOOP = "IPT103" "chain-loop" Error Correctness
        "Chains that jump to each other in a circle.";
    INVALID_CHAIN_FOR_TABLE = "IPT104" "invalid-chain-for-table" Error Correctness
        "A builtin chain name the table does not have (FORWARD in nat, INPUT in raw).";
    TARGET_NOT_ALLOWED_HERE = "IPT105" "target-not-allowed-here" Error Correctness
        "A target in a table or hook where the kernel refuses it (DNAT in POSTROUTING, REJECT outside filter).";
    CHAIN_TOO_DEEP = "IPT106" "chain-too-deep" Error Correctness
        "Jumps nested 16 deep from a builtin chain: the nft backend refuses the rule set.";
    MATCH_NOT_ALLOWED_HERE = "IPT107" "match-not-allowed-here" Error Correctness
        "A match at a hook where the kernel refuses it (`-m owner` in INPUT, `-m socket` in OUTPUT).";
    RULE_POSITION = "IPT150" "rule-position-out-of-range" Error Correctness
        "`-I`, `-R` or `-D` names a rule position or rule the chain does not have.";
    RESTORE_STOPS_EARLY = "IPT151" "restore-stops-early" Warning Correctness
        "`-h` in a dump: iptables-restore prints its help and exits, ignoring every line after it.";
    UNREACHABLE_CHAIN = "IPT201" "unreachable-chain" Warning DeadCode
        "A user chain no builtin chain reaches, directly or through other chains.";
    UNREACHABLE_RULE = "IPT202" "unreachable-rule" Warning DeadCode
        "A rule after an unconditional rule that always leaves the chain.";
    DUPLICATE_RULE = "IPT203" "duplicate-rule" Warning DeadCode
        "The same rule twice in one chain.";
    INTERFACE_NEVER_MATCHES = "IPT204" "interface-never-matches" Warning DeadCode
        "`-o` where no packet has an output interface yet, or `-i` where packets have no input interface.";
    UNMATCHABLE_RULE = "IPT205" "unmatchable-rule" Warning DeadCode
        "A rule whose own matches contradict each other or the hooks that reach its chain: no packet can match it.";
    SHADOWED_RULE = "IPT206" "shadowed-rule" Warning DeadCode
        "Earlier rules of the chain decide every packet the rule could match.";
    REDUNDANT_RULE = "IPT207" "redundant-rule" Info DeadCode
        "A rule whose deletion changes no packet's fate: later rules (or the chain's end) give its packets the same verdict.";
    EMPTY_CHAIN = "IPT301" "empty-chain" Info Suspicious
        "A user chain with no rules that rules jump to: the jumps do nothing.";
    RETURN_FROM_BUILTIN = "IPT302" "return-from-builtin" Warning Suspicious
        "RETURN in a builtin chain: it applies the chain's policy.";
    UNUSED_SUPPRESSION = "IPT303" "unused-suppression" Info Suspicious
        "An `iptlint: ignore[...]` suppression that suppresses nothing.";
}

/// Looks a lint up by code (`IPT001`) or name (`syntax-error`).
pub fn find(key: &str) -> Option<&'static Lint> {
    ALL.iter()
        .copied()
        .find(|l| l.code.eq_ignore_ascii_case(key) || l.name == key)
}
