//! `invalid-chain-for-table`: a builtin chain name that the table does not
//! have (`FORWARD` in nat, `INPUT` in raw), used as if it were builtin: with a
//! policy, or with rules but no declaration.
//!
//! iptables-legacy refuses a policy on it ("Bad built-in chain name"); the nft
//! backend quietly makes an ordinary chain of it that no packet ever enters.
//! Rules added to it without a declaration are refused by both. Declared with
//! `-` it is a user chain with a confusing name, and not reported here.

use crate::codes;
use crate::diagnostic::Finding;
use crate::graph::hook_of;
use crate::lints::LintContext;
use crate::model::TableName;

pub fn check(cx: &LintContext<'_>, out: &mut Vec<Finding>) {
    for (ti, table) in cx.ruleset.tables.iter().enumerate() {
        for (ci, chain) in table.chains.iter().enumerate() {
            if chain.builtin || hook_of(&chain.name).is_none() {
                continue;
            }
            let message = match (chain.declared, chain.policy) {
                (true, None) => continue,
                (true, Some(policy)) => format!(
                    "table `{}` has no builtin chain `{}`: iptables-legacy refuses the policy {} \
                     (\"Bad built-in chain name\"), and the nft backend loads it as an ordinary \
                     chain that no packet ever enters",
                    table.name,
                    chain.name,
                    policy.as_str()
                ),
                (false, _) => format!(
                    "table `{}` has no builtin chain `{}`: iptables-restore refuses rules added to it",
                    table.name, chain.name
                ),
            };
            let node = cx.graph.node(ti, ci);
            let finding = Finding::new(&codes::INVALID_CHAIN_FOR_TABLE, chain.span, message)
                .help(help(table.name, &chain.name));
            out.push(cx.at_chain(finding, node));
        }
    }
}

fn help(table: TableName, chain: &str) -> String {
    let homes: Vec<&str> = TableName::ALL
        .iter()
        .filter(|t| t.builtin_chains().contains(&chain))
        .map(|t| t.as_str())
        .collect();
    format!(
        "the builtin chains of `{table}` are {}; `{chain}` is builtin in {}",
        table.builtin_chains().join(", "),
        homes.join(", ")
    )
}
