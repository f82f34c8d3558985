//! Interface names as a finite alphabet.
//!
//! The kernel compares `-i`/`-o` with the device name byte by byte under a
//! mask: `eth0` must equal the name, `eth+` must equal its first three bytes,
//! `+` compares nothing. A packet with no device (the input side in OUTPUT and
//! of locally sent packets in POSTROUTING, the output side in PREROUTING and
//! INPUT) carries the empty
//! name, so `-i eth0` never matches it and `! -i eth0` always does.
//!
//! Given the exact names `E` and the prefixes `P` a rule set mentions (`""`,
//! from `+`, is always in `P`), every name falls in exactly one *atom*:
//!
//! - `none`: no device;
//! - `exact(e)` for each `e ∈ E`;
//! - `class(p)` for each `p ∈ P`: the names that start with `p`, are not in
//!   `E`, and start with no longer prefix in `P`. `class("")` is "any other
//!   name".
//!
//! Sorted by their string (`none` and `class("")` first), the atoms every
//! prefix `p` matches are one contiguous run — all strings that start with `p`
//! are contiguous in byte order — so an interface condition is one interval of
//! atom numbers, and its negation at most two. A class with no possible member
//! (every one-character extension of `p` already taken) gets no atom; each
//! class that has one keeps a concrete member name for witnesses.

use std::collections::{HashMap, HashSet};

/// Longest interface name (IFNAMSIZ − 1).
const MAX_NAME: usize = 15;

/// Characters tried when looking for a member of a class: readable ones
/// first, then every other printable byte the kernel allows in a name.
fn charset() -> impl Iterator<Item = char> {
    let nice = ('0'..='9').chain('a'..='z').chain('A'..='Z');
    let rest = ('!'..='~').filter(|c| !c.is_ascii_alphanumeric() && *c != '/' && *c != ':');
    nice.chain(rest)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    None,
    Exact,
    Class,
}

#[derive(Clone, Debug)]
struct Atom {
    key: String,
    kind: Kind,
    /// A concrete name in the atom (`None` for no device).
    name: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Alphabet {
    atoms: Vec<Atom>,
    exact: HashMap<String, u32>,
    class: HashMap<String, u32>,
    /// Atom run matched by each known prefix.
    prefix_runs: HashMap<String, (u32, u32)>,
}

impl Alphabet {
    /// `names` as written after `-i`/`-o` (`eth0`, `veth+`, `+`).
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Alphabet {
        let mut exact: HashSet<String> = HashSet::new();
        let mut prefixes: HashSet<String> = HashSet::new();
        prefixes.insert(String::new());
        for n in names {
            match wildcard_prefix(n) {
                Some(p) => prefixes.insert(p.to_string()),
                None => exact.insert(n.to_string()),
            };
        }
        let mut atoms = vec![Atom {
            key: String::new(),
            kind: Kind::None,
            name: None,
        }];
        for e in &exact {
            atoms.push(Atom {
                key: e.clone(),
                kind: Kind::Exact,
                name: Some(e.clone()),
            });
        }
        for p in &prefixes {
            if let Some(w) = class_member(p, &exact, &prefixes) {
                atoms.push(Atom {
                    key: p.clone(),
                    kind: Kind::Class,
                    name: Some(w),
                });
            }
        }
        let rank = |k: &Kind| match k {
            Kind::None => 0,
            Kind::Exact => 1,
            Kind::Class => 2,
        };
        atoms.sort_by(|a, b| a.key.cmp(&b.key).then(rank(&a.kind).cmp(&rank(&b.kind))));
        let mut exact_ix = HashMap::new();
        let mut class_ix = HashMap::new();
        for (i, a) in atoms.iter().enumerate() {
            match a.kind {
                Kind::Exact => {
                    exact_ix.insert(a.key.clone(), i as u32);
                }
                Kind::Class => {
                    class_ix.insert(a.key.clone(), i as u32);
                }
                Kind::None => {}
            }
        }
        let mut prefix_runs = HashMap::new();
        let last = atoms.len() as u32 - 1;
        for p in &prefixes {
            let run = if p.is_empty() {
                (0, last)
            } else {
                let lo = atoms.partition_point(|a| a.key.as_str() < p.as_str());
                let hi = atoms.partition_point(|a| {
                    a.key.as_str() < p.as_str() || a.key.starts_with(p.as_str())
                });
                // Never empty: `p` was given, so some name starts with it and
                // that name is in an exact atom or in a class under `p`.
                (lo as u32, hi as u32 - 1)
            };
            prefix_runs.insert(p.clone(), run);
        }
        Alphabet {
            atoms,
            exact: exact_ix,
            class: class_ix,
            prefix_runs,
        }
    }

    /// An atom for a person: `-` (no device), the exact name, or for a
    /// class `other` / `eth+ (other)`: the names not otherwise mentioned.
    pub(crate) fn label(&self, atom: u32) -> String {
        match self.atoms.get(atom as usize) {
            None => "?".to_string(),
            Some(a) => match a.kind {
                Kind::None => "-".to_string(),
                Kind::Exact => a.key.clone(),
                Kind::Class if a.key.is_empty() => "(other)".to_string(),
                Kind::Class => format!("{}+ (other)", a.key),
            },
        }
    }

    /// Highest atom number.
    pub(crate) fn max(&self) -> u32 {
        self.atoms.len() as u32 - 1
    }

    /// The atoms `-i name` matches (before any `!`); `None` when the name is
    /// not in the alphabet.
    pub(crate) fn matched_by(&self, name: &str) -> Option<(u32, u32)> {
        match wildcard_prefix(name) {
            Some(p) => self.prefix_runs.get(p).copied(),
            None => self.exact.get(name).map(|&i| (i, i)),
        }
    }

    /// The atom a concrete device name falls in (`None`: no device).
    pub(crate) fn atom_of(&self, name: Option<&str>) -> u32 {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return 0;
        };
        if let Some(&i) = self.exact.get(name) {
            return i;
        }
        let mut end = name.len();
        loop {
            if name.is_char_boundary(end)
                && let Some(&i) = self.class.get(&name[..end])
            {
                return i;
            }
            if end == 0 {
                return 0;
            }
            end -= 1;
        }
    }

    /// A concrete name in the atom (`None`: no device).
    pub(crate) fn name_of(&self, atom: u32) -> Option<String> {
        self.atoms.get(atom as usize).and_then(|a| a.name.clone())
    }
}

/// `Some(prefix)` for a wildcard (`eth+` → `eth`, `+` and `""` → `""`).
pub(crate) fn wildcard_prefix(name: &str) -> Option<&str> {
    if name.is_empty() {
        // iptables leaves the mask empty: like `+`, every name matches.
        return Some("");
    }
    name.strip_suffix('+')
}

/// A name in `class(p)`, if the class has any.
fn class_member(p: &str, exact: &HashSet<String>, prefixes: &HashSet<String>) -> Option<String> {
    fn search(
        cur: &mut String,
        exact: &HashSet<String>,
        prefixes: &HashSet<String>,
    ) -> Option<String> {
        if !cur.is_empty() && cur != "." && cur != ".." && !exact.contains(cur.as_str()) {
            return Some(cur.clone());
        }
        if cur.len() >= MAX_NAME {
            return None;
        }
        for c in charset() {
            cur.push(c);
            // Names under a longer prefix belong to that prefix's class.
            if !prefixes.contains(cur.as_str())
                && let Some(found) = search(cur, exact, prefixes)
            {
                return Some(found);
            }
            cur.pop();
        }
        None
    }
    let mut cur = p.to_string();
    search(&mut cur, exact, prefixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_contiguous_runs() {
        let a = Alphabet::new(["eth0", "eth+", "eth1+", "eth10", "wlan0", "+", "e+"]);
        let members = |run: (u32, u32)| -> Vec<Option<String>> {
            (run.0..=run.1).map(|i| a.name_of(i)).collect()
        };
        for n in members(a.matched_by("eth+").unwrap()) {
            assert!(n.unwrap().starts_with("eth"));
        }
        for n in members(a.matched_by("eth1+").unwrap()) {
            assert!(n.unwrap().starts_with("eth1"));
        }
        assert_eq!(a.matched_by("+"), Some((0, a.max())));
        assert_eq!(a.atom_of(Some("eth10")), a.matched_by("eth10").unwrap().0);
        assert_eq!(a.atom_of(Some("eth123")), a.class["eth1"]);
        assert_eq!(a.atom_of(Some("ethx")), a.class["eth"]);
        assert_eq!(a.atom_of(Some("eX")), a.class["e"]);
        assert_eq!(a.atom_of(Some("lo")), a.class[""]);
        assert_eq!(a.atom_of(None), 0);
        for i in 0..=a.max() {
            assert_eq!(a.atom_of(a.name_of(i).as_deref()), i);
        }
    }
}
