//! The ipsets a dump's `-m set` refers to, read from an `ipset save` file,
//! and declared as named nft sets in the tables that use them.
//!
//! Supported: `hash:ip`, `hash:net` (either family), `hash:ip,port` and
//! `hash:net,port` (ports with their protocol, `tcp:80`; a bare port is
//! tcp as ipset reads it). A set with timeouts, `nomatch` entries or another
//! type is refused with the reason: a rule that uses it is not translated.

use std::collections::HashMap;

use crate::model::{Family, Net, parse_port};

#[derive(Clone, Debug)]
pub struct Ipset {
    pub name: String,
    pub kind: String,
    pub family: Family,
    /// Why this set cannot be declared in nft, when it cannot.
    pub refused: Option<String>,
    pub elements: Vec<String>,
    /// 1-based line of the `create`.
    pub line: usize,
}

#[derive(Clone, Debug, Default)]
pub struct IpsetFile {
    sets: HashMap<String, Ipset>,
}

impl IpsetFile {
    /// Reads `ipset save` output. Errors are `line: message`.
    pub fn parse(text: &str) -> Result<IpsetFile, String> {
        let mut sets: HashMap<String, Ipset> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [w, ..] if w.starts_with('#') => {}
                ["create", name, kind, rest @ ..] => {
                    let mut family = Family::Ipv4;
                    let mut refused = None;
                    let mut it = rest.iter();
                    while let Some(w) = it.next() {
                        match *w {
                            "family" => {
                                family = match it.next() {
                                    Some(&"inet6") => Family::Ipv6,
                                    _ => Family::Ipv4,
                                }
                            }
                            "hashsize" | "maxelem" | "bucketsize" | "initval" | "netmask" => {
                                if *w == "netmask" {
                                    refused = Some("`netmask` sets".to_string());
                                }
                                it.next();
                            }
                            "timeout" => {
                                refused = Some("sets with timeouts".to_string());
                                it.next();
                            }
                            "counters" | "comment" | "skbinfo" | "forceadd" => {}
                            other => refused = Some(format!("option `{other}`")),
                        }
                    }
                    if !matches!(
                        *kind,
                        "hash:ip" | "hash:net" | "hash:ip,port" | "hash:net,port"
                    ) {
                        refused = Some(format!("type `{kind}`"));
                    }
                    sets.insert(
                        name.to_string(),
                        Ipset {
                            name: name.to_string(),
                            kind: kind.to_string(),
                            family,
                            refused,
                            elements: Vec::new(),
                            line: i + 1,
                        },
                    );
                }
                ["add", name, elem, rest @ ..] => {
                    let set = sets.get_mut(*name).ok_or_else(|| {
                        format!("{}: `add` to set `{name}` before its `create`", i + 1)
                    })?;
                    if rest.contains(&"nomatch") {
                        set.refused = Some("`nomatch` entries".into());
                        continue;
                    }
                    match element(&set.kind, set.family, elem) {
                        Ok(e) => set.elements.push(e),
                        Err(why) => set.refused = Some(why),
                    }
                }
                _ => return Err(format!("{}: not an `ipset save` line", i + 1)),
            }
        }
        Ok(IpsetFile { sets })
    }

    pub fn get(&self, name: &str) -> Option<&Ipset> {
        self.sets.get(name)
    }
}

/// One `add` element as nft writes it.
fn element(kind: &str, family: Family, text: &str) -> Result<String, String> {
    let (addr, port) = match text.split_once(',') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = if let Some((lo, hi)) = addr.split_once('-') {
        format!("{lo}-{hi}")
    } else {
        let n = Net::parse(addr).map_err(|e| format!("element `{text}`: {e}"))?;
        if n.family() != family {
            return Err(format!("element `{text}` is not of the set's family"));
        }
        n.to_string()
            .trim_end_matches("/32")
            .trim_end_matches("/128")
            .to_string()
    };
    if !kind.ends_with(",port") {
        return Ok(addr);
    }
    let port = port.ok_or_else(|| format!("element `{text}` has no port"))?;
    let (proto, p) = port.split_once(':').unwrap_or(("tcp", port));
    if !matches!(proto, "tcp" | "udp" | "sctp" | "udplite") {
        return Err(format!("element `{text}`: protocol `{proto}`"));
    }
    let (lo, hi) = p.split_once('-').unwrap_or((p, p));
    let lo = parse_port(lo)?;
    let hi = parse_port(hi)?;
    let p = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    };
    Ok(format!("{addr} . {proto} . {p}"))
}

impl Ipset {
    /// The nft selector for `--match-set NAME dirs`.
    pub fn selector(&self, family: Family, dirs: &[&str]) -> Result<String, String> {
        if let Some(why) = &self.refused {
            return Err(format!(
                "set `{}` cannot be declared in nft: {why}",
                self.name
            ));
        }
        if self.family != family {
            return Err(format!("set `{}` is of the other family", self.name));
        }
        let l3 = if family == Family::Ipv4 { "ip" } else { "ip6" };
        let dir = |d: &str| if d == "src" { "saddr" } else { "daddr" };
        let port = |d: &str| if d == "src" { "th sport" } else { "th dport" };
        match (self.kind.ends_with(",port"), dirs) {
            (false, [d, ..]) => Ok(format!("{l3} {}", dir(d))),
            (true, [a, p, ..]) => Ok(format!("{l3} {} . meta l4proto . {}", dir(a), port(p))),
            _ => Err(format!(
                "set `{}`: directions do not fit its type",
                self.name
            )),
        }
    }

    /// The declaration inside a table block, under its nft name.
    pub fn declaration(&self, nft_name: &str) -> String {
        self.declare(nft_name, true)
    }

    /// The declaration without the elements, for the script's preamble.
    pub fn empty_declaration(&self, nft_name: &str) -> String {
        self.declare(nft_name, false)
    }

    fn declare(&self, nft_name: &str, with_elements: bool) -> String {
        let addr = if self.family == Family::Ipv4 {
            "ipv4_addr"
        } else {
            "ipv6_addr"
        };
        let ty = if self.kind.ends_with(",port") {
            format!("{addr} . inet_proto . inet_service")
        } else {
            addr.to_string()
        };
        let mut out = format!("\tset {nft_name} {{\n\t\ttype {ty}\n\t\tflags interval\n");
        if with_elements && !self.elements.is_empty() {
            out.push_str(&format!(
                "\t\telements = {{ {} }}\n",
                self.elements.join(", ")
            ));
        }
        out.push_str("\t}\n");
        out
    }
}
