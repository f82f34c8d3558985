//! The words of an ordinary command line, split without the grammar.
//!
//! `grammar/iptables.pest` is the definition of the file format and reads
//! every line this module declines. But the grammar costs some 24,000
//! instructions per kube-proxy line (a pest rule call, sequence snapshot and
//! attempt record for every alternative of every word), two thirds of
//! `iptlint translate` and half of `iptlint check` on a large dump. Nearly
//! every line of a real dump is the simple case: a command that starts with
//! an option, made of bare words and closed double-quoted strings separated
//! by spaces. [`split`] reads exactly that case with the grammar's own
//! rules (`option`, `bang`, `bare`, `dq_string`) and returns `None` for
//! anything else — counters, single quotes, an open quote, a quote inside a
//! word — so that the grammar reads it and reports what is wrong.
//! `tests/plain_words.rs` checks that both give the same words on every
//! line of the corpus, the examples and generated lines.

use super::tokens::{Token, TokenKind, unescape_double_quoted};
use super::{LineCtx, LineKind};
use crate::model::Counters;

/// The counters and words of `ctx.text` when it is a plain command line, as
/// the grammar would read them; `None` when the grammar must read the line.
pub(super) fn split(ctx: &LineCtx<'_>) -> Option<(Option<Counters>, Vec<Token>)> {
    let text = ctx.text;
    let bytes = text.as_bytes();
    let is_ws = |b: u8| b == b' ' || b == b'\t';
    let mut at = 0;
    while at < bytes.len() && is_ws(bytes[at]) {
        at += 1;
    }
    // `[packets:bytes]` of an `iptables-save -c` dump, then spaces.
    let mut counters = None;
    if bytes.get(at) == Some(&b'[') {
        let close = at + text[at..].find(']')?;
        let (packets, bytes_) = text[at + 1..close].split_once(':')?;
        counters = Some(Counters {
            packets: number(packets)?,
            bytes: number(bytes_)?,
        });
        at = close + 1;
        if !bytes.get(at).copied().is_some_and(is_ws) {
            return None;
        }
        while at < bytes.len() && is_ws(bytes[at]) {
            at += 1;
        }
    }
    // A command line that starts with an option: not a header, declaration,
    // COMMIT, comment or counters, and not a line of only spaces.
    if bytes.get(at) != Some(&b'-') {
        return None;
    }
    let mut tokens = Vec::with_capacity(24);
    while at < bytes.len() {
        let start = at;
        if bytes[at] == b'"' {
            // dq_string: closed, escapes taken as they are, then a space or
            // the end of the line.
            let mut i = at + 1;
            let close = loop {
                match bytes.get(i)? {
                    b'"' => break i,
                    b'\\' => i += 2,
                    _ => i += 1,
                }
            };
            at = close + 1;
            if at < bytes.len() && !is_ws(bytes[at]) {
                return None;
            }
            // A backslash before a multi-byte character: let the grammar do it.
            let inner = text.get(start + 1..close)?;
            tokens.push(Token {
                kind: TokenKind::Value,
                text: unescape_double_quoted(inner),
                span: ctx.span(start, at),
            });
        } else {
            while at < bytes.len() && !is_ws(bytes[at]) {
                if matches!(bytes[at], b'"' | b'\'') {
                    return None;
                }
                at += 1;
            }
            let word = &text[start..at];
            tokens.push(classify(ctx, word, start));
        }
        while at < bytes.len() && is_ws(bytes[at]) {
            at += 1;
        }
    }
    Some((counters, tokens))
}

/// A chain declaration of the usual shape, `:NAME POLICY` perhaps followed
/// by `[packets:bytes]`, as the grammar's `chain_decl` reads it; `None` for
/// anything else (indentation, text after the counters, a quote in the name).
pub(super) fn chain_decl(ctx: &LineCtx<'_>) -> Option<LineKind> {
    let text = ctx.text.strip_prefix(':')?;
    let is_ws = |c: char| c == ' ' || c == '\t';
    let name_end = text.find(is_ws)?;
    let name = &text[..name_end];
    if name.is_empty() || name.contains(['"', '\'']) {
        return None;
    }
    let rest = &text[name_end..];
    let policy_start = name_end + (rest.len() - rest.trim_start_matches(is_ws).len());
    let rest = &text[policy_start..];
    let policy_len = if rest.starts_with('-') {
        1
    } else {
        rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len()
    };
    let policy = &rest[..policy_len];
    let after = &rest[policy_len..];
    if policy.is_empty() || after.starts_with(|c: char| !is_ws(c)) {
        return None;
    }
    let after = after.trim_matches(is_ws);
    let counters = if after.is_empty() {
        None
    } else {
        let (packets, bytes) = after
            .strip_prefix('[')?
            .strip_suffix(']')?
            .split_once(':')?;
        Some(Counters {
            packets: number(packets)?,
            bytes: number(bytes)?,
        })
    };
    // Offsets in `ctx.text`, which starts with the `:`.
    let policy_at = 1 + policy_start;
    Some(LineKind::ChainDecl {
        name: name.to_string(),
        policy: policy.to_string(),
        policy_span: ctx.span(policy_at, policy_at + policy_len),
        counters,
        whole: ctx.whole(),
    })
}

/// The grammar's `number` as counters read it: digits, saturating.
fn number(digits: &str) -> Option<u64> {
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// One unquoted word: `option` (`--name`, `--name=value`, `-x` with one
/// letter or digit), `bang` (a lone `!`), or `bare`, in the grammar's order.
fn classify(ctx: &LineCtx<'_>, word: &str, start: usize) -> Token {
    let span = ctx.span(start, start + word.len());
    let w = word.as_bytes();
    let option_name_end = if w.starts_with(b"--") {
        Some(word.find('=').unwrap_or(word.len()))
    } else if w.len() == 2 && w[0] == b'-' && w[1].is_ascii_alphanumeric() {
        Some(2)
    } else {
        None
    };
    if let Some(end) = option_name_end {
        let inline = (end < word.len()).then(|| {
            let value = &word[end + 1..];
            (
                value.to_string(),
                ctx.span(start + end + 1, start + word.len()),
            )
        });
        return Token {
            kind: TokenKind::Option { inline },
            text: word[..end].to_string(),
            span,
        };
    }
    let kind = if word == "!" {
        TokenKind::Bang
    } else {
        TokenKind::Value
    };
    Token {
        kind,
        text: word.to_string(),
        span,
    }
}

#[cfg(test)]
mod tests {
    use pest::Parser;

    use super::*;
    use crate::syntax::grammar::{IptablesParser, Rule as G};
    use crate::syntax::{parse_counters, token};

    /// The context `read_line` gives a line: columns from byte offsets
    /// when the line is ASCII.
    fn ctx(text: &str) -> LineCtx<'_> {
        LineCtx {
            ascii: text.is_ascii(),
            ..grammar_ctx(text)
        }
    }

    /// Columns counted character by character, for the grammar's side.
    fn grammar_ctx(text: &str) -> LineCtx<'_> {
        LineCtx {
            text,
            offset: 7,
            line: 3,
            column_before: 0,
            chain_targets: &[],
            ascii: false,
        }
    }

    /// The words of a command line as the grammar reads them; `None` when
    /// the line is something else, fails to parse, or gets a finding.
    fn by_grammar(ctx: &LineCtx<'_>) -> Option<(Option<Counters>, Vec<Token>)> {
        let line = IptablesParser::parse(G::line, ctx.text).ok()?.next()?;
        let content = line.into_inner().find(|p| p.as_rule() != G::EOI)?;
        if content.as_rule() != G::command_line {
            return None;
        }
        let mut findings = Vec::new();
        let mut words = Vec::new();
        let mut counters = None;
        for pair in content.into_inner() {
            if pair.as_rule() == G::counters {
                counters = Some(parse_counters(&pair));
            } else {
                words.push(token(ctx, pair, &mut findings));
            }
        }
        findings.is_empty().then_some((counters, words))
    }

    /// Everything about a word, spans included (spans never take part in
    /// `==`, see `Span`).
    fn shown(words: &[Token]) -> Vec<String> {
        words
            .iter()
            .map(|t| {
                let s = t.span;
                let inline = match &t.kind {
                    TokenKind::Option {
                        inline: Some((v, vs)),
                    } => {
                        format!("={v:?}@{}..{}:{}", vs.start, vs.end, vs.column)
                    }
                    _ => String::new(),
                };
                format!(
                    "{:?} {:?}{inline} @{}..{} {}:{}",
                    std::mem::discriminant(&t.kind),
                    t.text,
                    s.start,
                    s.end,
                    s.line,
                    s.column
                )
            })
            .collect()
    }

    /// Returns true when the plain reader took the line.
    fn agrees(line: &str) -> bool {
        let c = ctx(line);
        let Some(plain) = split(&c) else {
            return false;
        };
        let grammar = by_grammar(&grammar_ctx(line))
            .unwrap_or_else(|| panic!("the grammar refuses a line read as plain: {line:?}"));
        assert_eq!(plain.0, grammar.0, "counters of {line:?}");
        assert_eq!(shown(&plain.1), shown(&grammar.1), "line {line:?}");
        true
    }

    /// A chain declaration as `name policy @start..end counters`.
    fn decl_shown(kind: &LineKind) -> String {
        match kind {
            LineKind::ChainDecl {
                name,
                policy,
                policy_span: s,
                counters,
                whole: w,
            } => format!(
                "{name:?} {policy:?} @{}..{}:{} {counters:?} whole {}..{}:{}",
                s.start, s.end, s.column, w.start, w.end, w.column
            ),
            _ => "not a chain declaration".into(),
        }
    }

    /// Returns true when the plain reader took the line as a declaration.
    fn decl_agrees(line: &str) -> bool {
        let c = ctx(line);
        let Some(plain) = chain_decl(&c) else {
            return false;
        };
        let pair = IptablesParser::parse(G::line, line)
            .unwrap_or_else(|e| panic!("the grammar refuses {line:?}: {e}"))
            .next()
            .expect("a line pair");
        let content = pair.into_inner().next().expect("content");
        assert_eq!(content.as_rule(), G::chain_decl, "line {line:?}");
        let mut inner = content.into_inner();
        let name = inner.next().expect("name");
        let policy = inner.next().expect("policy");
        let counters = inner
            .next()
            .filter(|p| p.as_rule() == G::counters)
            .map(|p| parse_counters(&p));
        let g = grammar_ctx(line);
        let by_grammar = LineKind::ChainDecl {
            name: name.as_str().to_string(),
            policy: policy.as_str().to_string(),
            policy_span: g.pair_span(&policy),
            counters,
            whole: g.whole(),
        };
        assert_eq!(decl_shown(&plain), decl_shown(&by_grammar), "line {line:?}");
        true
    }

    #[test]
    fn chain_declarations() {
        for line in [
            ":INPUT ACCEPT [0:0]",
            ":KUBE-SVC-X - [12:99999999999999999999999]",
            ":X\t\tDROP",
            ":X DROP [1:2]  ",
            ":é-chain -",
        ] {
            assert!(decl_agrees(line), "not read as plain: {line:?}");
        }
        for line in [
            " :INPUT ACCEPT [0:0]",
            ":INPUT",
            ":INPUT ACCEPT1 [0:0]",
            ":INPUT ACCEPT [0:0] extra",
            ":INPUT ACCEPT extra",
            ":IN\"PUT ACCEPT",
            ":INPUT -x",
            ": ACCEPT",
        ] {
            assert!(chain_decl(&ctx(line)).is_none(), "read as plain: {line:?}");
        }
    }

    #[test]
    fn hand_picked_lines() {
        for line in [
            "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
            "  -A INPUT\t-p tcp --dport=22 ! --syn -j DROP  ",
            "-A X -m comment --comment \"a \\\"quoted\\\" é word\" -j RETURN",
            "-A X --to-destination= -j DNAT --a=b=c -- --=x -5 -é ! !x -s=x",
            "-A X -m comment --comment \"\" -j ACCEPT",
            "-N KUBE-SVC-ABC",
            "[12:3456] -A INPUT -j ACCEPT",
            "  [0:99999999999999999999999]\t-A INPUT -j ACCEPT",
        ] {
            assert!(agrees(line), "not read as plain: {line:?}");
        }
        // Lines the grammar must read (and may refuse).
        for line in [
            "[0:0]-A INPUT -j ACCEPT",
            "[0:] -A INPUT -j ACCEPT",
            "[0:0 -A INPUT -j ACCEPT",
            "[0:0] [1:1] -A INPUT -j ACCEPT",
            "-A X -m comment --comment 'single quoted' -j ACCEPT",
            "-A X -m comment --comment \"open",
            "-A X -m comment --comment \"a\"b -j ACCEPT",
            "-A X --comment a\"b\"",
            "-A X --comment \"ends in backslash\\",
            "*filter",
            ":INPUT ACCEPT [0:0]",
            "COMMIT",
            "# -A X",
            "   ",
        ] {
            assert!(split(&ctx(line)).is_none(), "read as plain: {line:?}");
        }
    }

    /// Every line of the examples and the corpus, and each with random
    /// characters that matter to the word rules inserted.
    #[test]
    fn agrees_with_the_grammar_on_real_and_mutated_lines() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join("examples/kube-proxy.rules"),
            root.join("examples/host-firewall.rules"),
        ];
        let corpus = root.join("../shared/corpus");
        if corpus.is_dir() {
            let mut dirs = vec![corpus];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else {
                        files.push(path);
                    }
                }
            }
        } else {
            eprintln!("skipping the corpus: ../shared/corpus is absent");
        }
        const NOISE: [&str; 15] = [
            " ", "\t", "\"", "'", "\\", "=", "!", "-", "--", "a", "7", "é", "[", "]", ":",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut plain, mut lines) = (0usize, 0usize);
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for line in text
                .lines()
                .filter(|l| !l.chars().any(|c| c.is_control() && c != '\t'))
            {
                lines += 1;
                plain += usize::from(agrees(line) || decl_agrees(line));
                let mut mutated = line.to_string();
                for _ in 0..1 + next(3) {
                    let mut at = next(mutated.len() + 1);
                    while !mutated.is_char_boundary(at) {
                        at -= 1;
                    }
                    mutated.insert_str(at, NOISE[next(NOISE.len())]);
                }
                agrees(&mutated);
                decl_agrees(&mutated);
            }
        }
        eprintln!("{plain} of {lines} lines read as plain");
        assert!(lines == 0 || plain > 0, "no line took the plain path");
    }
}
