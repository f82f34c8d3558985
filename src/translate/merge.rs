//! Sets and maps: runs of rules that become one nft rule, only where no
//! packet's fate changes.
//!
//! * `vmap`: adjacent rules whose conditions are all single values of plain
//!   selectors (kube-proxy's `-d IP -p tcp --dport N -j KUBE-SVC-...`), with
//!   a jump or goto each, become `ip daddr . meta l4proto . th dport vmap {}`.
//!   The keys are pairwise distinct, so a packet matches at most one rule of
//!   the run; none of those selectors can be rewritten by a target that comes
//!   back (only NAT rewrites addresses and ports, and NAT decides), so after
//!   a jump returns, no later rule of the run matches either: the map does
//!   exactly what the run did.
//! * `set`: adjacent rules identical but for one condition on such a field,
//!   with the same statements and verdict, whose values are pairwise
//!   disjoint: `tcp dport { 22, 80 } accept`. Same argument.
//! * `numgen`: a kube-proxy service chain, `-m statistic --mode random
//!   --probability 1/n`, `1/(n-1)`, ... and a last unconditional rule, each
//!   jumping to its endpoint chain, becomes `numgen random mod n vmap {}` when
//!   (1) the distribution is *exactly* the same: iptables draws 31 random bits
//!   per rule and keeps `lround(2^31 p)`; `numgen` draws 32 bits and takes
//!   `(x * n) >> 32` (the kernel's `reciprocal_scale`); the masses are compared
//!   as integers (this holds for n = 2 and 3 with kube-proxy's values, not
//!   beyond), and (2) a packet never comes back from an endpoint chain by a
//!   jump (else iptables would draw again on the next rule): each endpoint
//!   chain, for the protocols that can enter it, ends in a verdict before any
//!   RETURN or goto. Only with `--numgen`: every such rule is an anonymous
//!   set, and the kernel names a new set by scanning the table's sets, so at
//!   10,000 services the script took 70 s to load instead of 4 s. Without it
//!   each statistic rule keeps its own exact draw (`meta random & 0x7fffffff
//!   < P`), which is exact for every n.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet, HashSetExt};

use crate::model::{JumpKind, Rule, Table, TargetKind};

use super::Item;
use super::names::quoted;
use super::rule::{Expr, NftRule, Scope, Verdict, probability_fixed};

/// What the numgen merge needs to know about the chains of a table.
pub struct ChainFacts {
    /// Per chain: the one protocol every packet entering it has, if known.
    entry_proto: Vec<Option<u8>>,
    /// Chain index by name.
    index: HashMap<String, usize>,
}

fn positive_proto(rule: &Rule) -> Option<u8> {
    rule.protocol
        .as_ref()
        .filter(|p| !p.negated && !p.value.is_all())
        .and_then(|p| p.value.number)
}

impl ChainFacts {
    pub fn build(table: &Table) -> ChainFacts {
        let index: HashMap<&str, usize> = table
            .chains
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut callers: Vec<Vec<(usize, usize)>> = vec![Vec::new(); table.chains.len()];
        for (ci, c) in table.chains.iter().enumerate() {
            for (ri, r) in c.rules.iter().enumerate() {
                if let Some((to, _)) = r.jump_chain()
                    && let Some(&t) = index.get(to)
                {
                    callers[t].push((ci, ri));
                }
            }
        }
        // Some(Some(p)): only protocol p; Some(None): any; computed on demand.
        let mut memo: Vec<Option<Option<u8>>> = vec![None; table.chains.len()];
        let mut visiting = vec![false; table.chains.len()];
        fn entry(
            c: usize,
            table: &Table,
            callers: &[Vec<(usize, usize)>],
            memo: &mut Vec<Option<Option<u8>>>,
            visiting: &mut Vec<bool>,
        ) -> Option<u8> {
            if let Some(v) = memo[c] {
                return v;
            }
            if table.chains[c].builtin || callers[c].is_empty() || visiting[c] {
                return None;
            }
            visiting[c] = true;
            let mut acc: Option<Option<u8>> = None;
            for &(ci, ri) in &callers[c] {
                let site = match positive_proto(&table.chains[ci].rules[ri]) {
                    Some(p) => Some(p),
                    None => entry(ci, table, callers, memo, visiting),
                };
                acc = Some(match acc {
                    None => site,
                    Some(prev) if prev == site => prev,
                    Some(_) => None,
                });
                if acc == Some(None) {
                    break;
                }
            }
            visiting[c] = false;
            let v = acc.flatten();
            memo[c] = Some(v);
            v
        }
        let entry_proto = (0..table.chains.len())
            .map(|c| entry(c, table, &callers, &mut memo, &mut visiting))
            .collect();
        let index = index.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        ChainFacts { entry_proto, index }
    }
}

/// True when every packet that enters chain `c` (of the protocol known to
/// enter it) meets a verdict there before any RETURN, goto or the end: a
/// jump to `c` never comes back.
fn never_returns(table: &Table, c: usize, facts: &ChainFacts) -> bool {
    let proto = facts.entry_proto[c];
    for r in &table.chains[c].rules {
        let Some(t) = &r.target else { continue };
        match &t.kind {
            TargetKind::Return => return false,
            TargetKind::Chain if t.jump == JumpKind::Goto => return false,
            TargetKind::Chain => continue,
            k if k.is_terminal_verdict(&t.name) => {
                if covers_entry(r, proto) {
                    return true;
                }
            }
            _ => continue,
        }
    }
    false
}

/// The rule matches every packet of protocol `proto` (any when `None`).
fn covers_entry(r: &Rule, proto: Option<u8>) -> bool {
    if r.source.is_some()
        || r.destination.is_some()
        || r.in_interface().is_some()
        || r.out_interface().is_some()
        || r.fragment().is_some()
    {
        return false;
    }
    let rule_proto = match &r.protocol {
        None => None,
        Some(p) if p.value.is_all() && !p.negated => None,
        Some(p) if p.negated => return false,
        Some(p) => Some(p.value.number),
    };
    if let Some(rp) = rule_proto
        && (proto.is_none() || rp != proto)
    {
        return false;
    }
    // Only comments and the protocol's own match without options.
    r.matches.iter().all(|m| {
        m.module == "comment"
            || (m.options.is_empty()
                && matches!(m.module.as_str(), "tcp" | "udp" | "sctp" | "dccp")
                && rule_proto.is_some())
    })
}

fn comment_of(r: &Rule) -> Option<String> {
    let texts: Vec<&str> = r
        .matches
        .iter()
        .filter(|m| m.module == "comment")
        .flat_map(|m| &m.options)
        .filter_map(|o| o.words.first().map(|w| w.text.as_str()))
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// Only comments and (when `stat`) one `statistic --mode random`: the
/// rule's probability in the kernel's fixed point.
fn statistic_only(r: &Rule) -> Option<Option<u64>> {
    if r.source.is_some()
        || r.destination.is_some()
        || r.protocol.is_some()
        || r.in_interface().is_some()
        || r.out_interface().is_some()
        || r.fragment().is_some()
        || r.only_family().is_some()
    {
        return None;
    }
    let mut prob = None;
    for m in &r.matches {
        match m.module.as_str() {
            "comment" => {}
            "statistic" if prob.is_none() => {
                if m.options.iter().any(|o| o.negated) {
                    return None;
                }
                let mode = m.options.iter().find(|o| o.name == "--mode")?;
                if mode.words.first()?.text != "random" || m.options.len() != 2 {
                    return None;
                }
                let p = m.options.iter().find(|o| o.name == "--probability")?;
                prob = Some(probability_fixed(&p.words.first()?.text).ok()?);
            }
            _ => return None,
        }
    }
    Some(prob)
}

/// numgen bucket sizes for `mod n`, out of 2^32 draws.
fn bucket(n: u128, k: u128) -> u128 {
    let ceil = |a: u128| a.div_ceil(n);
    ceil((k + 1) << 32) - ceil(k << 32)
}

/// A statistic run starting at rule `ri` of chain `ci`, as one numgen rule,
/// with the number of iptables rules it replaces.
pub fn numgen_run(
    table: &Table,
    ci: usize,
    ri: usize,
    facts: &ChainFacts,
    scope: &Scope<'_>,
) -> Option<(NftRule, usize)> {
    let rules = &table.chains[ci].rules;
    let mut probs = Vec::new();
    let mut end = ri;
    // The statistic rules, then the unconditional last one.
    loop {
        let r = rules.get(end)?;
        r.jump_chain()?;
        match statistic_only(r)? {
            Some(p) => probs.push(p),
            None => break,
        }
        end += 1;
    }
    let n = probs.len() + 1;
    if n < 2 || scope.counters {
        return None;
    }
    // (1) the same distribution, exactly.
    let mut mass: u128 = 1 << 32;
    for (k, &p) in probs.iter().enumerate() {
        let share = mass * p as u128;
        if !share.is_multiple_of(1 << 31) || share >> 31 != bucket(n as u128, k as u128) {
            return None;
        }
        mass -= share >> 31;
    }
    if mass != bucket(n as u128, n as u128 - 1) {
        return None;
    }
    // (2) no jump comes back.
    let run = &rules[ri..=end];
    let mut elems = Vec::with_capacity(n);
    for (k, r) in run.iter().enumerate() {
        let (to, kind) = r.jump_chain()?;
        let target = *facts.index.get(to)?;
        if kind == JumpKind::Jump && !never_returns(table, target, facts) {
            return None;
        }
        let verdict = match kind {
            JumpKind::Jump => Verdict::Jump(scope.chains.get(to).to_string()),
            JumpKind::Goto => Verdict::Goto(scope.chains.get(to).to_string()),
        };
        let comment = comment_of(r)
            .map(|c| format!(" comment {}", quoted(&c).0))
            .unwrap_or_default();
        elems.push(format!("{k}{comment} : {}", verdict.text()));
    }
    let rule = NftRule {
        exprs: vec![Expr {
            text: format!("numgen random mod {n} vmap {{ {} }}", elems.join(", ")),
            field: None,
            keys: None,
            stateful: true,
            implies: None,
        }],
        stmts: Vec::new(),
        verdict: None,
        comment: None,
        counter: None,
        line: rules[ri].span.line,
    };
    Some((rule, n))
}

/// The key of a rule made only of single values, for a vmap: the selectors
/// and the values.
fn vmap_key(r: &NftRule) -> Option<(Vec<&'static str>, Vec<u128>, Vec<&str>)> {
    if !r.stmts.is_empty() || r.counter.is_some() || r.exprs.is_empty() {
        return None;
    }
    if !matches!(r.verdict, Some(Verdict::Jump(_) | Verdict::Goto(_))) {
        return None;
    }
    let mut sels = Vec::new();
    let mut vals = Vec::new();
    let mut texts = Vec::new();
    for e in &r.exprs {
        for (sel, elem) in e.keys.as_ref()? {
            if elem.lo != elem.hi {
                return None;
            }
            sels.push(*sel);
            vals.push(elem.lo);
            texts.push(elem.text.as_str());
        }
    }
    Some((sels, vals, texts))
}

fn element_comment(r: &NftRule) -> String {
    r.comment
        .as_ref()
        .map(|c| format!(" comment {}", quoted(c).0))
        .unwrap_or_default()
}

/// Merges runs into vmaps, then into sets. `report(kind, first line, last
/// line, rules)` hears of every merge.
pub fn merge_runs(
    items: Vec<Item>,
    report: &mut dyn FnMut(&'static str, u32, u32, usize),
) -> Vec<Item> {
    let items = merge_vmaps(items, report);
    merge_sets(items, report)
}

fn merge_vmaps(
    items: Vec<Item>,
    report: &mut dyn FnMut(&'static str, u32, u32, usize),
) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        let Item::Rule(first) = &items[i] else {
            out.push(items[i].clone());
            i += 1;
            continue;
        };
        let Some((sels, vals, _)) = vmap_key(first) else {
            out.push(items[i].clone());
            i += 1;
            continue;
        };
        let mut seen: HashSet<Vec<u128>> = HashSet::new();
        seen.insert(vals);
        let mut j = i + 1;
        while let Some(Item::Rule(r)) = items.get(j) {
            match vmap_key(r) {
                Some((s, v, _)) if s == sels && !seen.contains(&v) => {
                    seen.insert(v);
                    j += 1;
                }
                _ => break,
            }
        }
        if j - i < 2 {
            out.push(items[i].clone());
            i += 1;
            continue;
        }
        let mut elems = Vec::with_capacity(j - i);
        for item in &items[i..j] {
            let Item::Rule(r) = item else { unreachable!() };
            let (_, _, texts) = vmap_key(r).expect("checked above");
            let verdict = r.verdict.as_ref().map(Verdict::text).unwrap_or_default();
            elems.push(format!(
                "{}{} : {verdict}",
                texts.join(" . "),
                element_comment(r)
            ));
        }
        let Item::Rule(last) = &items[j - 1] else {
            unreachable!()
        };
        report("vmap", first.line, last.line, j - i);
        out.push(Item::Rule(NftRule {
            exprs: vec![Expr {
                text: format!("{} vmap {{ {} }}", sels.join(" . "), elems.join(", ")),
                field: None,
                keys: None,
                stateful: false,
                implies: None,
            }],
            stmts: Vec::new(),
            verdict: None,
            comment: None,
            counter: None,
            line: first.line,
        }));
        i = j;
    }
    out
}

/// The one position where two rules differ, when everything else is equal
/// and that position is a mergeable field with the same selector.
fn differs_in_one(a: &NftRule, b: &NftRule) -> Option<usize> {
    if a.exprs.len() != b.exprs.len()
        || a.stmts != b.stmts
        || a.verdict != b.verdict
        || a.counter.is_some()
        || b.counter.is_some()
        || a.stateful()
        || b.stateful()
    {
        return None;
    }
    let mut at = None;
    for (k, (x, y)) in a.exprs.iter().zip(&b.exprs).enumerate() {
        if x.text == y.text {
            continue;
        }
        if at.is_some() {
            return None;
        }
        match (&x.field, &y.field) {
            (Some((s1, _)), Some((s2, _))) if s1 == s2 => at = Some(k),
            _ => return None,
        }
    }
    at
}

fn merge_sets(
    items: Vec<Item>,
    report: &mut dyn FnMut(&'static str, u32, u32, usize),
) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        let Item::Rule(first) = &items[i] else {
            out.push(items[i].clone());
            i += 1;
            continue;
        };
        let mut at = None;
        let mut j = i + 1;
        while let Some(Item::Rule(r)) = items.get(j) {
            match differs_in_one(first, r) {
                Some(k) if at.is_none() || at == Some(k) => {
                    at = Some(k);
                    j += 1;
                }
                _ => break,
            }
        }
        let Some(k) = at else {
            out.push(items[i].clone());
            i += 1;
            continue;
        };
        // Pairwise disjoint values: shrink the run to its longest disjoint
        // prefix. Intervals by their low end; a new one can only overlap its
        // neighbours.
        let mut spans: BTreeMap<u128, u128> = BTreeMap::new();
        let mut end = i;
        for item in &items[i..j] {
            let Item::Rule(r) = item else { unreachable!() };
            let (_, e) = r.exprs[k].field.as_ref().expect("checked");
            let below = spans
                .range(..=e.lo)
                .next_back()
                .is_some_and(|(_, &hi)| hi >= e.lo);
            let above = spans
                .range(e.lo..)
                .next()
                .is_some_and(|(&lo, _)| lo <= e.hi);
            if below || above {
                break;
            }
            spans.insert(e.lo, e.hi);
            end += 1;
        }
        if end - i < 2 {
            out.push(items[i].clone());
            i += 1;
            continue;
        }
        let rules: Vec<&NftRule> = items[i..end]
            .iter()
            .map(|it| match it {
                Item::Rule(r) => r,
                Item::Comment(_) => unreachable!(),
            })
            .collect();
        let same_comment = rules.iter().all(|r| r.comment == first.comment);
        let elems: Vec<String> = rules
            .iter()
            .map(|r| {
                let (_, e) = r.exprs[k].field.as_ref().expect("checked");
                if same_comment {
                    e.text.clone()
                } else {
                    format!("{}{}", e.text, element_comment(r))
                }
            })
            .collect();
        let (sel, _) = first.exprs[k].field.as_ref().expect("checked");
        let mut merged = first.clone();
        merged.exprs[k] = Expr {
            text: format!("{sel} {{ {} }}", elems.join(", ")),
            field: None,
            keys: None,
            stateful: false,
            implies: first.exprs[k].implies,
        };
        if !same_comment {
            merged.comment = None;
        }
        report("set", first.line, rules[rules.len() - 1].line, end - i);
        out.push(Item::Rule(merged));
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_all_draws() {
        for n in 1..20u128 {
            let total: u128 = (0..n).map(|k| bucket(n, k)).sum();
            assert_eq!(total, 1 << 32);
        }
        assert_eq!(bucket(3, 0), 1431655766);
        assert_eq!(bucket(3, 1), 1431655765);
    }
}
