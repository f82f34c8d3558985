//! When two rules are the same rule to the kernel, for `-D CHAIN spec` and
//! `-C CHAIN spec`: iptables builds the rule's binary form and looks for an
//! equal one in the chain. The binary form keeps what a rule means, not how
//! it was written, so `-p tcp --dport ssh` finds `-p 6 -m tcp --dport 22`,
//! `-s 10.0.0.1` finds `-s 10.0.0.1/32`, and `--ctstate NEW,ESTABLISHED`
//! finds `--ctstate ESTABLISHED,NEW` (a bit mask). What stays: the order of
//! the matches, the address bits under the mask, the order of multiport's
//! ports (an array). Counters never count.

use crate::model::{
    AddrKind, AddrSpec, Match, MatchOption, Negatable, Protocol, Rule, Target, Value,
};

/// Whether `a` and `b` are one rule to the kernel.
pub(super) fn same_rule(a: &Rule, b: &Rule) -> bool {
    same_addresses(&a.source, &b.source)
        && same_addresses(&a.destination, &b.destination)
        && same_negatable(&a.protocol, &b.protocol, |x, y| same_protocol(a, x, b, y))
        && a.in_interface() == b.in_interface()
        && a.out_interface() == b.out_interface()
        && a.fragment() == b.fragment()
        && a.matches.len() == b.matches.len()
        && a.matches
            .iter()
            .zip(&b.matches)
            .all(|(x, y)| same_match(x, y))
        && match (&a.target, &b.target) {
            (None, None) => true,
            (Some(x), Some(y)) => same_target(x, y),
            _ => false,
        }
}

fn same_negatable<T>(
    a: &Option<Negatable<T>>,
    b: &Option<Negatable<T>>,
    same: impl Fn(&T, &T) -> bool,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.negated == y.negated && same(&x.value, &y.value),
        _ => false,
    }
}

/// Addresses as the kernel keeps them: the bits under the mask, and the mask.
fn same_addresses(
    a: &Option<Negatable<crate::model::List<AddrSpec>>>,
    b: &Option<Negatable<crate::model::List<AddrSpec>>>,
) -> bool {
    same_negatable(a, b, |x, y| {
        x.len() == y.len()
            && x.iter()
                .zip(y.iter())
                .all(|(x, y)| match (x.kind(), y.kind()) {
                    (AddrKind::Net(m), AddrKind::Net(n)) => {
                        m.family() == n.family()
                            && m.mask() == n.mask()
                            && m.addr_u128() & m.mask() == n.addr_u128() & n.mask()
                    }
                    (AddrKind::Host(m), AddrKind::Host(n)) => m == n,
                    _ => false,
                })
    })
}

/// A protocol by its number (`tcp`, `TCP` and `6` are one); a name iptlint
/// does not know, by the name.
fn same_protocol(rule_a: &Rule, a: &Protocol, rule_b: &Rule, b: &Protocol) -> bool {
    match (a.number, b.number) {
        (Some(x), Some(y)) => x == y,
        _ => {
            let written = |r: &Rule| r.protocol_written().unwrap_or("").to_ascii_lowercase();
            written(rule_a) == written(rule_b)
        }
    }
}

/// One match: loaded by `-m` or by `-p`, it is the same module; its options
/// fill one structure, so their order does not count.
fn same_match(a: &Match, b: &Match) -> bool {
    a.module == b.module && same_options(&a.options, &b.options)
}

fn same_target(a: &Target, b: &Target) -> bool {
    a.name == b.name && a.jump == b.jump && a.kind == b.kind && same_options(&a.options, &b.options)
}

fn same_options(a: &[MatchOption], b: &[MatchOption]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| same_option(x, y)))
}

/// An option by its canonical name and what its value means; where iptlint
/// keeps no typed value, by the words as written.
fn same_option(a: &MatchOption, b: &MatchOption) -> bool {
    if a.name != b.name || a.negated != b.negated {
        return false;
    }
    match (&a.value, &b.value) {
        (Value::Raw | Value::None, _) | (_, Value::Raw | Value::None) => {
            a.words.len() == b.words.len()
                && a.words
                    .iter()
                    .zip(b.words.iter())
                    .all(|(x, y)| x.text == y.text)
        }
        (Value::States(x), Value::States(y)) => {
            x.iter().all(|s| y.contains(s)) && y.iter().all(|s| x.contains(s))
        }
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::same_rule;
    use crate::model::{Family, Rule};

    fn rules(text: &str) -> Vec<Rule> {
        let parsed =
            crate::syntax::parse(&format!("*filter\n{text}\nCOMMIT\n"), Some(Family::Ipv4));
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let mut table = parsed.ruleset.tables.into_iter().next().expect("a table");
        table.chains.remove(1).rules.into_iter().collect()
    }

    /// Pairs a real load treats as one rule (`-A` then `-C` of the other
    /// spelling loads; see `tests/fixtures/kernel/` for the `-C` fixtures).
    #[test]
    fn spellings_of_one_rule_are_the_same_rule() {
        for (x, y) in [
            (
                "-p tcp -m tcp --dport 22 -j ACCEPT",
                "-p tcp --dport ssh -j ACCEPT",
            ),
            ("-s 10.0.0.1/32 -j ACCEPT", "-s 10.0.0.1 -j ACCEPT"),
            ("-s 10.0.0.0/8 -j ACCEPT", "-s 10.1.2.3/255.0.0.0 -j ACCEPT"),
            ("-p tcp -j ACCEPT", "-p 6 -j ACCEPT"),
            (
                "-p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT",
                "-p 6 -m multiport --dports 80,https -m conntrack --ctstate ESTABLISHED,NEW -j ACCEPT",
            ),
            (
                "-m comment --comment \"a b\" -j LOG --log-prefix x --log-level 4",
                "-m comment --comment \"a b\" -j LOG --log-level 4 --log-prefix x",
            ),
        ] {
            let r = rules(&format!("-A FORWARD {x}\n-A FORWARD {y}"));
            assert!(same_rule(&r[0], &r[1]), "{x} / {y}");
        }
    }

    #[test]
    fn different_rules_are_not_the_same_rule() {
        for (x, y) in [
            ("-s 10.0.0.1 -j ACCEPT", "-s 10.0.0.2 -j ACCEPT"),
            ("-s 10.0.0.1 -j ACCEPT", "! -s 10.0.0.1 -j ACCEPT"),
            ("-p tcp --dport 22 -j ACCEPT", "-p tcp --dport 23 -j ACCEPT"),
            (
                "-p tcp -m multiport --dports 80,443 -j ACCEPT",
                "-p tcp -m multiport --dports 443,80 -j ACCEPT",
            ),
            (
                "-m comment --comment a -p tcp --dport 22 -j ACCEPT",
                "-p tcp --dport 22 -m comment --comment a -j ACCEPT",
            ),
            ("-j ACCEPT", "-j DROP"),
            ("-j ACCEPT", "-m comment --comment a -j ACCEPT"),
        ] {
            let r = rules(&format!("-A FORWARD {x}\n-A FORWARD {y}"));
            assert!(!same_rule(&r[0], &r[1]), "{x} / {y}");
        }
    }
}
