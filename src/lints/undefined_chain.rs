//! `undefined-chain`: a `-j`/`-g` to a chain the table does not have, or rules
//! added to a chain that was never declared (or only declared further down:
//! iptables-restore reads the file top to bottom).
//!
//! Both make iptables-restore refuse the whole file: the legacy backend on the
//! line of the jump or of the first rule, the nft backend on the first rule of
//! the undeclared chain or, for a jump, on the table's `COMMIT` line.

use petgraph::graph::EdgeIndex;

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::hook_of;
use crate::lints::LintContext;
use crate::model::Span;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    let g = &cx.graph;
    for stray in &g.undefined {
        let table_index = g.graph[stray.from].table_index();
        let table = &cx.ruleset.tables[table_index];
        let rule = g.rule(stray.from, stray.rule);
        let Some((name, _)) = rule.jump_chain() else {
            continue;
        };
        // The parser reports a name iptables refuses to read at all.
        if crate::syntax::invalid_target_name(name).is_some() {
            continue;
        }
        let span = rule.target_span();
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
            if chain.builtin || hook_of(&chain.name).is_some() {
                continue;
            }
            // Uses before the declaration (all uses when there is none):
            // iptables-restore reads top to bottom and stops at the first.
            let declared_at = chain.declared.then_some(chain.span);
            let early = |span: Span| declared_at.is_none_or(|d| span.start < d.start);
            let node = g.node(ti, ci);
            let jumps: Vec<EdgeIndex> = g
                .jumps_into(node)
                .into_iter()
                .filter(|e| early(g.edge_span(*e)))
                .collect();
            let first_rule = chain
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| early(r.span))
                .min_by_key(|(_, r)| r.span.start);
            let declare = match declared_at {
                None => format!(
                    "it is never declared: add `:{} - [0:0]` after `*{}`",
                    chain.name, table.name
                ),
                Some(d) => format!(
                    "it is only declared on line {}: move the declaration up, before the rules",
                    d.line
                ),
            };
            let first_jump = jumps
                .first()
                .copied()
                .filter(|e| first_rule.is_none_or(|(_, r)| g.edge_span(*e).start < r.span.start));
            if let Some(edge) = first_jump {
                // The jump comes first: iptables-legacy names it (the nft
                // backend names the table's COMMIT line).
                let (from, _) = g.graph.edge_endpoints(edge).expect("edge");
                let mut finding = Finding::new(
                    &codes::UNDEFINED_CHAIN,
                    g.edge_target_span(edge),
                    format!(
                        "`{}` is not a chain of table `{}` when this rule jumps to it: iptables-restore refuses the jump",
                        chain.name, table.name
                    ),
                )
                .help(declare);
                if let Some((_, rule)) = first_rule {
                    finding = finding.related(
                        rule.chain_span(),
                        format!("rules are added to `{}` here", chain.name),
                    );
                }
                out.push(cx.at_rule(
                    cx.with_sites(finding, &jumps[1..]),
                    from,
                    g.graph[edge].rule(),
                ));
            } else if let Some((ri, rule)) = first_rule {
                let finding = Finding::new(
                    &codes::UNDEFINED_CHAIN,
                    rule.chain_span(),
                    format!(
                        "`{}` is not a chain of table `{}` when this rule is added to it: iptables-restore refuses the rule",
                        chain.name, table.name
                    ),
                )
                .help(declare);
                out.push(cx.at_rule(cx.with_sites(finding, &jumps), node, ri));
            }
        }
    }
}
