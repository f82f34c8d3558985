//! Printing the model back as iptables-restore text, the way iptables-save
//! writes it: generic options first, then matches, then the target.

use std::fmt::{self, Write};

use super::{Chain, Match, MatchOption, Negatable, Rule, Ruleset, Table, TargetKind};

/// Quotes a word when iptables-restore would otherwise split or mangle it.
pub fn quote(word: &str) -> String {
    let needs = word.is_empty()
        || word
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\');
    if !needs {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn neg<T>(out: &mut String, value: &Negatable<T>) {
    if value.negated {
        out.push_str("! ");
    }
}

fn option(out: &mut String, o: &MatchOption) {
    if o.negated {
        out.push_str("! ");
    }
    out.push_str(o.written());
    for w in &o.words {
        out.push(' ');
        out.push_str(&quote(&w.text));
    }
    out.push(' ');
}

fn extension_match(out: &mut String, m: &Match) {
    if !m.implicit {
        let _ = write!(out, "-m {} ", m.module);
    }
    for o in &m.options {
        option(out, o);
    }
}

impl Rule {
    /// The rule's specification after `-A CHAIN`, as iptables-save prints it.
    pub fn spec_text(&self) -> String {
        let mut out = String::new();
        if let Some(f) = self.only_family() {
            out.push_str(if f == super::Family::Ipv4 {
                "-4 "
            } else {
                "-6 "
            });
        }
        let addrs = |v: &[super::AddrSpec]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if let Some(s) = &self.source {
            neg(&mut out, s);
            let _ = write!(out, "-s {} ", addrs(&s.value));
        }
        if let Some(d) = &self.destination {
            neg(&mut out, d);
            let _ = write!(out, "-d {} ", addrs(&d.value));
        }
        if let Some(i) = self.in_interface() {
            neg(&mut out, i);
            let _ = write!(out, "-i {} ", quote(&i.value.name));
        }
        if let Some(o) = self.out_interface() {
            neg(&mut out, o);
            let _ = write!(out, "-o {} ", quote(&o.value.name));
        }
        if let Some(p) = &self.protocol {
            neg(&mut out, p);
            let _ = write!(out, "-p {} ", quote(self.protocol_written().unwrap_or("")));
        }
        if let Some(f) = self.fragment() {
            neg(&mut out, f);
            out.push_str("-f ");
        }
        for m in &self.matches {
            extension_match(&mut out, m);
        }
        self.write_target(&mut out);
        out.truncate(out.trim_end().len());
        out
    }

    /// The `-j TARGET ...` (or `-g CHAIN`) part of [`Rule::spec_text`];
    /// empty without a target.
    pub fn target_text(&self) -> String {
        let mut out = String::new();
        self.write_target(&mut out);
        out.truncate(out.trim_end().len());
        out
    }

    fn write_target(&self, out: &mut String) {
        if let Some(t) = &self.target {
            let flag = match (t.jump, &t.kind) {
                (super::JumpKind::Goto, TargetKind::Chain) => "-g",
                _ => "-j",
            };
            let _ = write!(out, "{flag} {} ", quote(&t.name));
            for o in &t.options {
                option(out, o);
            }
        }
    }
}

impl fmt::Display for Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for table in &self.tables {
            write_table(f, table)?;
        }
        Ok(())
    }
}

fn write_table(f: &mut fmt::Formatter<'_>, table: &Table) -> fmt::Result {
    writeln!(f, "*{}", table.name)?;
    for chain in table.chains.iter().filter(|c| c.declared) {
        write_chain_decl(f, chain)?;
    }
    for chain in &table.chains {
        for rule in &chain.rules {
            if let Some(c) = rule.counters() {
                write!(f, "[{}:{}] ", c.packets, c.bytes)?;
            }
            let spec = rule.spec_text();
            if spec.is_empty() {
                writeln!(f, "-A {}", quote(&chain.name))?;
            } else {
                writeln!(f, "-A {} {}", quote(&chain.name), spec)?;
            }
        }
    }
    writeln!(f, "COMMIT")
}

fn write_chain_decl(f: &mut fmt::Formatter<'_>, chain: &Chain) -> fmt::Result {
    let policy = chain.policy.map_or("-", |p| p.as_str());
    write!(f, ":{} {}", chain.name, policy)?;
    if let Some(c) = chain.counters() {
        write!(f, " [{}:{}]", c.packets, c.bytes)?;
    }
    writeln!(f)
}
