//! `undefined-chain`: a `-j`/`-g` to a chain the table does not have, or rules
//! added to a chain that was never declared.
//!
//! Both make iptables-restore refuse the whole file: the legacy backend on the
//! line of the jump or of the first rule, the nft backend on the first rule of
//! the undeclared chain or, for a jump, on the table's `COMMIT` line.

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::hook_of;
use crate::lints::LintContext;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for stray in &g.undefined {
        let table_index = g.graph[stray.from].table_index;
        let table = &cx.ruleset.tables[table_index];
        let rule = g.rule(stray.from, stray.rule);
        let Some((name, _)) = rule.jump_chain() else {
            continue;
        };
        let span = rule.target.as_ref().map_or(rule.span, |t| t.span);
        let mut finding = Finding::new(
            &codes::UNDEFINED_CHAIN,
            span,
            format!(
                "`{name}` is not a chain of table `{}`: iptables-restore refuses the jump",
                table.name
            ),
        );
        let near = table
            .chains
            .iter()
            .find(|c| c.name != name && c.name.eq_ignore_ascii_case(name));
        let elsewhere = cx
            .ruleset
            .tables
            .iter()
            .find(|t| t.name != table.name && t.chain(name).is_some());
        finding = match (near, elsewhere) {
            (Some(c), _) => finding.help(format!("did you mean `{}`? Chain names are case-sensitive", c.name)),
            (None, Some(t)) => finding.help(format!(
                "`{name}` is a chain of table `{}`; a rule can only jump to chains of its own table",
                t.name
            )),
            (None, None) => finding.help(format!(
                "declare it in the table (`:{name} - [0:0]` after `*{}`), or fix the name",
                table.name
            )),
        };
        out.push(cx.at_rule(finding, stray.from, stray.rule));
    }
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            // A hook name the table lacks is `invalid-chain-for-table`'s.
            if chain.declared || chain.builtin || hook_of(&chain.name).is_some() {
                continue;
            }
            let node = g.node(ti, ci);
            let jumps = g.jumps_into(node);
            let help = format!(
                "declare the chain before its rules: `:{} - [0:0]` after `*{}`",
                chain.name, table.name
            );
            // iptables-restore stops at whichever comes first: a jump to the
            // chain (legacy names it) or the first rule added to it.
            let first_jump = jumps
                .first()
                .copied()
                .filter(|e| g.graph[*e].span.start < chain.span.start);
            if let Some(edge) = first_jump {
                let jump = g.graph[edge];
                let (from, _) = g.graph.edge_endpoints(edge).expect("edge");
                let finding = Finding::new(
                    &codes::UNDEFINED_CHAIN,
                    jump.target_span,
                    format!(
                        "`{}` is not a chain of table `{}` when this rule jumps to it: it is never declared, and iptables-restore refuses the jump",
                        chain.name, table.name
                    ),
                )
                .related(chain.span, format!("rules are added to `{}` here", chain.name))
                .help(help);
                out.push(cx.at_rule(cx.with_sites(finding, &jumps[1..]), from, jump.rule));
                continue;
            }
            let finding = Finding::new(
                &codes::UNDEFINED_CHAIN,
                chain.span,
                format!(
                    "rules are added to `{}`, which table `{}` never declares: iptables-restore refuses them",
                    chain.name, table.name
                ),
            )
            .help(help);
            out.push(cx.at_chain(cx.with_sites(finding, &jumps), node));
        }
    }
}
