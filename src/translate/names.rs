//! Names and strings as nft reads them.
//!
//! nft (1.0.6, the version installed here) cannot quote a chain or set name:
//! a name must be one `string` token of its scanner
//! (`[A-Za-z_.][A-Za-z0-9/_.-]*`) and not one of its keywords. A name that
//! is not is given a new one, unique in its table, and the translator says
//! so. Quoted strings (comments, log prefixes) have no escapes at all: they
//! end at the next `"`.

use foldhash::{HashMap, HashMapExt, HashSet};

/// The words nft's scanner reads as keywords in every state (from the
/// nftables `src/scanner.l`, plus the older ones 1.0.6 refuses): a chain of
/// one of these names cannot be written.
const KEYWORDS: &[&str] = &[
    "accept",
    "add",
    "ah",
    "all",
    "and",
    "arp",
    "auto-merge",
    "bridge",
    "cgroup",
    "chain",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "destroy",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "eq",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "exthdr",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flush",
    "frag",
    "fwd",
    "gc-interval",
    "ge",
    "get",
    "goto",
    "gre",
    "gretap",
    "gt",
    "handle",
    "hbh",
    "hook",
    "hour",
    "ibrname",
    "ibriport",
    "icmp",
    "icmpv6",
    "igmp",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "last",
    "le",
    "limit",
    "list",
    "log",
    "lshift",
    "lt",
    "map",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "mh",
    "missing",
    "monitor",
    "ne",
    "netdev",
    "nftrace",
    "not",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "or",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rshift",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "ruleset",
    "sctp",
    "secmark",
    "set",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "symhash",
    "synproxy",
    "table",
    "tcp",
    "th",
    "time",
    "timeout",
    "tproxy",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "xor",
    "xt",
];

/// True when nft reads `name` as one plain identifier.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        && !KEYWORDS.contains(&name)
}

/// Chain (or set) names of one table, mapped to names nft can read.
#[derive(Debug, Default)]
pub struct NameMap {
    map: HashMap<String, String>,
}

impl NameMap {
    /// Names every chain; a name nft cannot read becomes a close one that no
    /// other chain of the table uses. Returns the renamings, in order.
    pub fn build<'a>(
        names: impl IntoIterator<Item = &'a str> + Clone,
    ) -> (NameMap, Vec<(String, String)>) {
        let mut taken: HashSet<String> = names
            .clone()
            .into_iter()
            .filter(|n| is_plain_identifier(n))
            .map(str::to_string)
            .collect();
        let mut map = HashMap::new();
        let mut renamed = Vec::new();
        for name in names {
            if map.contains_key(name) {
                continue;
            }
            let nft = if is_plain_identifier(name) {
                name.to_string()
            } else {
                let mut base: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    base.insert_str(0, "c_");
                }
                if KEYWORDS.contains(&base.as_str()) || base.is_empty() {
                    base.push('_');
                }
                let mut candidate = base.clone();
                let mut n = 2;
                while taken.contains(&candidate) || !is_plain_identifier(&candidate) {
                    candidate = format!("{base}_{n}");
                    n += 1;
                }
                taken.insert(candidate.clone());
                renamed.push((name.to_string(), candidate.clone()));
                candidate
            };
            map.insert(name.to_string(), nft);
        }
        (NameMap { map }, renamed)
    }

    /// True when the table has a chain of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn get<'a>(&'a self, name: &'a str) -> &'a str {
        self.map.get(name).map(String::as_str).unwrap_or(name)
    }
}

/// `text` as an nft quoted string. nft has no escapes: a `"` cannot be
/// written, so it becomes `'`; the caller learns whether that happened.
pub fn quoted(text: &str) -> (String, bool) {
    let changed = text.contains('"');
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        out.push(if c == '"' { '\'' } else { c });
    }
    out.push('"');
    (out, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay() {
        assert!(is_plain_identifier("KUBE-SVC-ABC"));
        assert!(is_plain_identifier("f2b-sshd"));
        assert!(is_plain_identifier("INPUT"));
        assert!(!is_plain_identifier("counter"));
        assert!(!is_plain_identifier("1abc"));
        assert!(!is_plain_identifier("a:b"));
        assert!(!is_plain_identifier(""));
    }

    #[test]
    fn renamed_names_are_unique_and_readable() {
        let names = ["counter", "counter_", "a:b", "a_b", "9x"];
        let (map, renamed) = NameMap::build(names.iter().copied());
        assert_eq!(renamed.len(), 3);
        let mut seen = std::collections::HashSet::new();
        for n in names {
            let nft = map.get(n);
            assert!(is_plain_identifier(nft), "{nft}");
            assert!(seen.insert(nft.to_string()), "{nft} twice");
        }
    }

    #[test]
    fn quotes_cannot_be_escaped() {
        assert_eq!(quoted("a \"b\""), ("\"a 'b'\"".to_string(), true));
        assert_eq!(quoted("x y"), ("\"x y\"".to_string(), false));
    }
}
