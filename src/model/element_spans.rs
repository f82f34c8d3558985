//! The spans of matches, options and words, which the model keeps relative
//! to their rule's line (see [`OnRuleLine`]): read back exactly, or as the
//! rule's span when they could not be kept.

use super::*;

/// The first rule of `PREROUTING` in a nat table holding `line` (line 3).
fn parsed(line: &str) -> (String, Rule) {
    let source = format!("*nat\n:PREROUTING ACCEPT [0:0]\n{line}\nCOMMIT\n");
    let rule = crate::syntax::parse(&source, None)
        .ruleset
        .tables
        .remove(0)
        .chains
        .into_iter()
        .find(|c| c.name == "PREROUTING")
        .and_then(|mut c| (!c.rules.is_empty()).then(|| c.rules.remove(0)))
        .expect("the rule");
    (source, rule)
}

/// `s` as (start, end, line, column): `Span`'s `==` ignores all of them.
fn parts(s: Span) -> (u32, u32, u32, u32) {
    (s.start, s.end, s.line, s.column)
}

/// Where `text` (the `nth` time it occurs) stands in `source`, its column
/// counted in characters of line 3.
fn located(source: &str, text: &str, nth: usize) -> (u32, u32, u32, u32) {
    let start = source
        .match_indices(text)
        .nth(nth)
        .map(|(i, _)| i)
        .expect("the text occurs");
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..start].chars().count() + 1;
    (start as u32, (start + text.len()) as u32, 3, column as u32)
}

#[test]
fn match_option_and_word_spans_read_back_exactly_after_non_ascii_text() {
    let (source, rule) = parsed(
        "-A PREROUTING -m comment --comment \"é ✓ ü\" -p tcp --sport 1 -m tcp --dport 22 -j DNAT --to-destination 10.0.0.1:80",
    );
    let comment = rule.find_match("comment").expect("-m comment");
    assert_eq!(
        parts(comment.span_in(&rule)),
        located(&source, "-m comment", 0)
    );
    let text = &comment.options[0];
    assert_eq!(
        parts(text.span_in(&rule)),
        located(&source, "--comment \"é ✓ ü\"", 0)
    );
    assert_eq!(
        parts(text.words[0].span_in(&rule)),
        located(&source, "\"é ✓ ü\"", 0)
    );
    // `--sport` loads the tcp match implicitly: it stands where its first
    // option does. Its columns come after the multi-byte characters.
    let implicit = &rule.matches[1];
    assert!(implicit.implicit);
    assert_eq!(
        parts(implicit.span_in(&rule)),
        located(&source, "--sport", 0)
    );
    assert_eq!(
        parts(implicit.options[0].span_in(&rule)),
        located(&source, "--sport 1", 0)
    );
    let explicit = &rule.matches[2];
    assert_eq!(
        parts(explicit.span_in(&rule)),
        located(&source, "-m tcp", 0)
    );
    let dport = &explicit.options[0];
    assert_eq!(
        parts(dport.span_in(&rule)),
        located(&source, "--dport 22", 0)
    );
    assert_eq!(
        parts(dport.words[0].span_in(&rule)),
        located(&source, "22", 0)
    );
    let to = &rule.target.as_ref().expect("-j DNAT").options[0];
    assert_eq!(
        parts(to.span_in(&rule)),
        located(&source, "--to-destination 10.0.0.1:80", 0)
    );
    assert_eq!(
        parts(to.words[0].span_in(&rule)),
        located(&source, "10.0.0.1:80", 0)
    );
}

#[test]
fn element_spans_it_cannot_hold_fall_back_to_the_rules_span() {
    let (_, mut rule) = parsed("-A PREROUTING -p tcp --dport 22 -j ACCEPT");
    rule.span = Span {
        start: 100_000,
        end: 300_000,
        line: 7,
        column: 1,
    };
    let at = |start: u32, line, column, len: u32| Span {
        start,
        end: start + len,
        line,
        column,
    };
    let rule_span = rule.span;
    let mut m = rule.matches[0].clone();
    let mut o = m.options[0].clone();
    let mut w = o.words[0].clone();
    // Far from a small file's start, well inside the rule: kept exactly.
    let kept = at(160_000, 7, 60_001, 9);
    m.set_span_in(kept, rule_span);
    o.set_span_in(kept, rule_span);
    w.set_span_in(kept, rule_span);
    for back in [m.span_in(&rule), o.span_in(&rule), w.span_in(&rule)] {
        assert_eq!(parts(back), parts(kept));
    }
    for s in [
        // another line
        at(100_010, 8, 11, 4),
        // a column past 65,535
        at(100_010, 7, 70_000, 4),
        // before the rule
        at(99_990, 7, 1, 4),
        // too far from the rule's start
        at(100_000 + 70_000, 7, 60_001, 4),
        // too long
        at(100_010, 7, 11, 70_000),
    ] {
        m.set_span_in(s, rule_span);
        o.set_span_in(s, rule_span);
        w.set_span_in(s, rule_span);
        for back in [m.span_in(&rule), o.span_in(&rule), w.span_in(&rule)] {
            assert_eq!(parts(back), parts(rule_span), "{s:?}");
        }
    }
}
