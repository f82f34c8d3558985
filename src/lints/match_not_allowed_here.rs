//! `match-not-allowed-here`: a match at a hook where the kernel refuses it
//! (`-m owner` in INPUT: no local socket owns an arriving packet yet).
//!
//! The kernel checks a match's hooks when the rule is added, as it does for
//! targets, so the decision and the finding's place follow
//! `target-not-allowed-here`: a user chain is checked against every hook
//! that reaches it. Every restriction below was confirmed with a real load
//! (iptables 1.8.9, nft backend) in a private network namespace; see
//! `rules/IPT107-match-not-allowed-here.md`.

use crate::codes;
use crate::diagnostic::{Finding, Severity};
use crate::graph::{FORWARD, HookSet, INPUT, OUTPUT, POSTROUTING, PREROUTING};
use crate::lints::LintContext;
use crate::model::Match;

use super::target_not_allowed_here::refused_at_hook;

/// Where a match may stand: the module, an option (and its value) that
/// brings the restriction, and the hooks that accept it.
struct Placement {
    module: &'static str,
    option: Option<(&'static str, Option<&'static str>)>,
    hooks: &'static [usize],
    /// The match checks its hooks in code when the rule is added, instead
    /// of declaring them: the nft backend then checks only rules in builtin
    /// chains, and accepts the match in a user chain that a refusing hook
    /// reaches, which iptables-legacy refuses (a warning there).
    checked_on_add: bool,
}

const PLACEMENTS: &[Placement] = &[
    Placement {
        module: "owner",
        option: None,
        hooks: &[OUTPUT, POSTROUTING],
        checked_on_add: false,
    },
    Placement {
        module: "mac",
        option: None,
        hooks: &[PREROUTING, INPUT, FORWARD],
        checked_on_add: false,
    },
    Placement {
        module: "socket",
        option: None,
        hooks: &[PREROUTING, INPUT],
        checked_on_add: false,
    },
    Placement {
        module: "rpfilter",
        option: None,
        hooks: &[PREROUTING],
        checked_on_add: false,
    },
    Placement {
        module: "policy",
        option: Some(("--dir", Some("in"))),
        hooks: &[PREROUTING, INPUT, FORWARD],
        checked_on_add: true,
    },
    Placement {
        module: "policy",
        option: Some(("--dir", Some("out"))),
        hooks: &[FORWARD, OUTPUT, POSTROUTING],
        checked_on_add: true,
    },
    Placement {
        module: "devgroup",
        option: Some(("--src-group", None)),
        hooks: &[PREROUTING, INPUT, FORWARD],
        checked_on_add: true,
    },
    Placement {
        module: "devgroup",
        option: Some(("--dst-group", None)),
        hooks: &[FORWARD, OUTPUT, POSTROUTING],
        checked_on_add: true,
    },
    Placement {
        module: "addrtype",
        option: Some(("--limit-iface-in", None)),
        hooks: &[PREROUTING, INPUT, FORWARD],
        checked_on_add: true,
    },
    Placement {
        module: "addrtype",
        option: Some(("--limit-iface-out", None)),
        hooks: &[FORWARD, OUTPUT, POSTROUTING],
        checked_on_add: true,
    },
];

fn option_text(m: &Match, name: &str) -> Option<String> {
    let o = m.options.iter().find(|o| o.name == name)?;
    Some(match o.text() {
        Some(t) => t.to_string(),
        None => o
            .words
            .first()
            .map(|w| w.text.to_string())
            .unwrap_or_default(),
    })
}

fn placement(m: &Match) -> Option<&'static Placement> {
    PLACEMENTS.iter().find(|p| {
        p.module == m.module
            && p.option.is_none_or(|(name, value)| {
                option_text(m, name).is_some_and(|v| value.is_none_or(|want| v == want))
            })
    })
}

fn label(p: &Placement) -> String {
    match p.option {
        None => format!("`-m {}`", p.module),
        Some((name, None)) => format!("`-m {} {name}`", p.module),
        Some((name, Some(value))) => format!("`-m {} {name} {value}`", p.module),
    }
}

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            if g.hooks(node).is_empty() {
                continue;
            }
            for (ri, rule) in chain.rules.iter().enumerate() {
                // One finding per rule: the kernel refuses it at the first
                // match it refuses. A match only iptables-legacy refuses (a
                // warning) comes first only when no later match is refused
                // by both backends: `-m policy --dir out -m owner` in a user
                // chain reached from INPUT fails on nft at `-m owner`.
                let mut found = rule.matches.iter().filter_map(|m| {
                    let p = placement(m)?;
                    let mut f = refused_at_hook(
                        cx,
                        &codes::MATCH_NOT_ALLOWED_HERE,
                        (node, ri),
                        HookSet::of(p.hooks),
                        &label(p),
                        m.span_in(rule),
                    )?;
                    if p.checked_on_add && !chain.builtin {
                        f.severity = Severity::Warning;
                        f.message = f.message.replace(
                            "the kernel refuses it",
                            "iptables-legacy refuses it (the nft backend checks this match's hooks only in builtin chains, and loads it)",
                        );
                    }
                    Some(f)
                });
                let first = found.next();
                let first = match first {
                    Some(f) if f.severity == Severity::Warning => {
                        Some(found.find(|f| f.severity == Severity::Error).unwrap_or(f))
                    }
                    other => other,
                };
                out.extend(first);
            }
        }
    }
}
