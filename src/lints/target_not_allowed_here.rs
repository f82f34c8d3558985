//! `target-not-allowed-here`: a target in a table or at a hook where the
//! kernel refuses it.
//!
//! Every restriction below was confirmed with a real load (iptables 1.8.9,
//! both backends, Linux 6.18) in a private network namespace; see
//! `rules/IPT105-target-not-allowed-here.md`. A table restriction holds for
//! every rule of the table, reachable or not. A hook restriction is decided on
//! the jump graph: a user chain may use a target when every hook that can
//! reach it allows it. The nft backend checks the graph after every rule, so
//! the finding points at the line it blames: the target's rule, or the later
//! jump that first connects a refusing hook to it (the target is then a
//! related location, with the path from the hook).

use crate::codes;
use crate::diagnostic::{Finding, Severity};
use crate::graph::{FORWARD, HookSet, INPUT, OUTPUT, POSTROUTING, PREROUTING};
use crate::lints::LintContext;
use crate::model::{HOOK_NAMES, Rule, TableName, TargetKind};

/// Where a target may stand.
struct Placement {
    targets: &'static [&'static str],
    /// Only when the rule has this target option.
    option: Option<&'static str>,
    /// `None`: any table.
    tables: Option<&'static [TableName]>,
    /// `None`: any hook.
    hooks: Option<&'static [usize]>,
    /// Warning instead of error: only iptables-legacy refuses it.
    legacy_only: bool,
}

use TableName::{Filter, Mangle, Nat, Raw, Security};

const PLACEMENTS: &[Placement] = &[
    // "The nat table is not intended for filtering, the use of DROP is
    // therefore inhibited."
    Placement {
        targets: &["DROP"],
        option: None,
        tables: Some(&[Filter, Mangle, Raw, Security]),
        hooks: None,
        legacy_only: false,
    },
    Placement {
        targets: &["REJECT"],
        option: None,
        tables: Some(&[Filter]),
        hooks: Some(&[INPUT, FORWARD, OUTPUT]),
        legacy_only: false,
    },
    Placement {
        targets: &["DNAT", "REDIRECT"],
        option: None,
        tables: Some(&[Nat]),
        hooks: Some(&[PREROUTING, OUTPUT]),
        legacy_only: false,
    },
    Placement {
        targets: &["SNAT"],
        option: None,
        tables: Some(&[Nat]),
        hooks: Some(&[POSTROUTING, INPUT]),
        legacy_only: false,
    },
    Placement {
        targets: &["MASQUERADE"],
        option: None,
        tables: Some(&[Nat]),
        hooks: Some(&[POSTROUTING]),
        legacy_only: false,
    },
    Placement {
        targets: &["NETMAP"],
        option: None,
        tables: Some(&[Nat]),
        hooks: None,
        legacy_only: false,
    },
    Placement {
        targets: &["NOTRACK", "CT"],
        option: None,
        tables: Some(&[Raw]),
        hooks: None,
        legacy_only: false,
    },
    Placement {
        targets: &["TPROXY"],
        option: None,
        tables: Some(&[Mangle]),
        hooks: Some(&[PREROUTING]),
        legacy_only: false,
    },
    Placement {
        targets: &["DNPT"],
        option: None,
        tables: Some(&[Mangle]),
        hooks: Some(&[PREROUTING, OUTPUT]),
        legacy_only: false,
    },
    Placement {
        targets: &["SNPT"],
        option: None,
        tables: Some(&[Mangle]),
        hooks: Some(&[INPUT, POSTROUTING]),
        legacy_only: false,
    },
    Placement {
        targets: &["DSCP", "TOS", "TTL", "HL", "ECN", "CHECKSUM", "TCPOPTSTRIP"],
        option: None,
        tables: Some(&[Mangle]),
        hooks: None,
        legacy_only: false,
    },
    Placement {
        targets: &["SECMARK", "CONNSECMARK"],
        option: None,
        tables: Some(&[Mangle, Security]),
        hooks: None,
        legacy_only: false,
    },
    Placement {
        targets: &["CLASSIFY"],
        option: None,
        tables: None,
        hooks: Some(&[FORWARD, OUTPUT, POSTROUTING]),
        legacy_only: false,
    },
    Placement {
        targets: &["SYNPROXY"],
        option: None,
        tables: None,
        hooks: Some(&[INPUT, FORWARD]),
        legacy_only: false,
    },
    Placement {
        targets: &["TCPMSS"],
        option: Some("--clamp-mss-to-pmtu"),
        tables: None,
        hooks: Some(&[FORWARD, OUTPUT, POSTROUTING]),
        legacy_only: false,
    },
    Placement {
        targets: &["TRACE"],
        option: None,
        tables: Some(&[Raw]),
        hooks: None,
        legacy_only: true,
    },
];

fn placement(rule: &Rule) -> Option<(&'static Placement, &str)> {
    let target = rule.target.as_ref()?;
    if matches!(target.kind, TargetKind::Chain) {
        return None;
    }
    let p = PLACEMENTS.iter().find(|p| {
        p.targets.contains(&target.name.as_str())
            && p.option.is_none_or(|o| target.option(o).is_some())
    })?;
    Some((p, target.name.as_str()))
}

fn list(items: impl IntoIterator<Item = &'static str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn what(p: &Placement, name: &str) -> String {
    match p.option {
        Some(o) => format!("`{name} {o}`"),
        None => format!("`{name}`"),
    }
}

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for stray in &g.to_builtin {
        let rule = g.rule(stray.from, stray.rule);
        let Some(target) = &rule.target else { continue };
        let finding = Finding::new(
            &codes::TARGET_NOT_ALLOWED_HERE,
            rule.target_span(),
            format!(
                "`{}` is a builtin chain: rules can only jump to user-defined chains, and the kernel refuses this one",
                target.name
            ),
        )
        .help("move the shared rules into a user chain and jump to it from both places");
        out.push(cx.at_rule(finding, stray.from, stray.rule));
    }
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            let node = g.node(ti, ci);
            for (ri, rule) in chain.rules.iter().enumerate() {
                let Some((p, name)) = placement(rule) else {
                    continue;
                };
                let span = rule.target_span();
                if let Some(tables) = p.tables
                    && !tables.contains(&table.name)
                {
                    let tables = list(tables.iter().map(|t| t.as_str()));
                    let mut message = format!(
                        "{} is only allowed in the {tables} table, not in `{}`",
                        what(p, name),
                        table.name
                    );
                    if p.legacy_only {
                        message
                            .push_str(": iptables-legacy refuses it (the nft backend accepts it)");
                    } else {
                        message.push_str(": the kernel refuses the rule");
                    }
                    let mut finding = Finding::new(&codes::TARGET_NOT_ALLOWED_HERE, span, message)
                        .help(format!("move the rule to a chain of the {tables} table"));
                    if p.legacy_only {
                        finding.severity = Severity::Warning;
                    }
                    out.push(cx.at_rule(finding, node, ri));
                    continue;
                }
                let Some(allowed) = p.hooks.map(HookSet::of) else {
                    continue;
                };
                let label = what(p, name);
                if let Some(mut finding) = refused_at_hook(
                    cx,
                    &codes::TARGET_NOT_ALLOWED_HERE,
                    (node, ri),
                    allowed,
                    &label,
                    span,
                ) {
                    // TCPMSS checks the hooks of `--clamp-mss-to-pmtu` in
                    // code when the rule is added; the nft backend runs that
                    // check only for builtin chains.
                    if name == "TCPMSS" && !chain.builtin {
                        finding.severity = Severity::Warning;
                        finding.message = finding.message.replace(
                            "the kernel refuses it",
                            "iptables-legacy refuses it (the nft backend checks these hooks only in builtin chains, and loads it)",
                        );
                    }
                    out.push(finding);
                }
            }
        }
    }
}

/// The finding for a rule whose `label` (a target, a match) only the hooks
/// in `allowed` accept, when another hook reaches the rule's chain: at the
/// rule, or at the later jump that first connects that hook (where the nft
/// backend fails). `None` when every hook that reaches the chain allows it.
pub(super) fn refused_at_hook(
    cx: &LintContext<'_>,
    code: &'static crate::codes::Lint,
    (node, ri): (petgraph::graph::NodeIndex, usize),
    allowed: HookSet,
    label: &str,
    span: crate::model::Span,
) -> Option<Finding> {
    let g = &cx.graph;
    let hooks = g.hooks(node);
    let chain = g.chain(node);
    let rule = g.rule(node, ri);
    if hooks.is_subset(allowed) {
        return None;
    }
    // The refusing hook the kernel notices first.
    let (hook, reach) = hooks
        .iter()
        .filter(|h| !allowed.contains(*h))
        .filter_map(|h| g.reach(node, h).map(|r| (h, r)))
        .min_by_key(|(h, r)| (r.line.max(rule.span.line), *h))?;
    let (path, path_text) = cx.hook_path(hook, node);
    let allowed_names = list(allowed.names());
    let message = if path.is_empty() {
        format!(
            "{} is only allowed in {allowed_names}, not in {}: the kernel refuses it",
            label, chain.name
        )
    } else {
        format!(
            "{} is only allowed in {allowed_names}, but `{}` is reached from {}: the kernel refuses it",
            label, chain.name, path_text
        )
    };
    let help = if path.is_empty() {
        format!("move the rule to a chain reached only from {allowed_names}")
    } else {
        format!(
            "jump to `{}` only from {allowed_names}, or move the rule to a chain they alone reach",
            chain.name
        )
    };
    let finding = if reach.line > rule.span.line {
        // The jump that connects the hook comes after the rule: nft blames the jump.
        let blamed = g.connecting_jump(hook, node)?;
        let (from, _) = g.graph.edge_endpoints(blamed).expect("edge");
        let f = Finding::new(
            code,
            g.edge_target_span(blamed),
            format!(
                "this jump lets {} reach {} in `{}` (line {}), but it is only allowed in {allowed_names}: the kernel refuses it ({})",
                HOOK_NAMES[hook],
                label,
                chain.name,
                rule.span.line,
                path_text
            ),
        )
        .help(help)
        .related(span, format!("the {label} rule"));
        cx.at_rule(cx.with_path(f, &path), from, g.graph[blamed].rule())
    } else {
        let f = Finding::new(code, span, message).help(help);
        cx.at_rule(cx.with_path(f, &path), node, ri)
    };
    Some(finding)
}
