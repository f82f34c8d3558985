//! Short options as getopt reads a word of them: `-AINPUT` is `-A INPUT`,
//! `-4fj` is `-4 -f -j`, `-gFOO` is `-g FOO`. The grammar only makes an
//! option of a dash and one letter standing alone, so such a word reaches
//! the rule reader as an argument; this reads it again as iptables does.
//!
//! getopt gives an option that takes an argument the rest of the word
//! (`optarg`). The commands, `-g`, `-m` and `-c` use it. But `-s`, `-d`, `-p`,
//! `-i`, `-o` and `-j` take `argv[optind - 1]`, which is the next word when
//! the argument stands apart and the whole word when it is attached: `-ptcp`
//! asks for the protocol "-ptcp", `-ilo` names the interface "-ilo" (and
//! loads), `-jACCEPT` jumps to a chain "-jACCEPT". All of this was checked by
//! loading rules for real (iptables 1.8.9, both backends; see
//! `tests/fixtures/kernel/11*`).

use super::rule_spec;
use super::tokens::{Token, TokenKind};
use crate::model::Span;

/// How getopt treats one short option letter of iptables 1.8.9
/// (`-:A:C:D:R:I:L::S::M:F::Z::N:X::E:P:Vh::o:p:s:d:j:i:fbvw::W::nt:m:xc:g:46`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Argument {
    /// `-f`, `-4`, `-6`, `-v`.
    None,
    /// `-A CHAIN` or `-ACHAIN`.
    Required,
    /// `-F` or `-FCHAIN`: only an attached argument is the option's.
    Optional,
}

/// The letters read here. The others (`-n`, `-x`, `-w`, `-W`, `-V`,
/// `-b`, `-t`, `-M`) are left as they are: a word holding one of them
/// stays a stray argument.
fn letter(c: u8) -> Option<Argument> {
    Some(match c {
        b'f' | b'4' | b'6' | b'v' => Argument::None,
        b'A' | b'C' | b'D' | b'R' | b'I' | b'N' | b'E' | b'P' => Argument::Required,
        b's' | b'd' | b'p' | b'i' | b'o' | b'j' | b'g' | b'm' | b'c' => Argument::Required,
        b'L' | b'S' | b'F' | b'Z' | b'X' | b'h' => Argument::Optional,
        _ => return None,
    })
}

/// The options that read `argv[optind - 1]` for their argument.
fn takes_whole_word(c: u8) -> bool {
    matches!(c, b's' | b'd' | b'p' | b'i' | b'o' | b'j')
}

/// The options of a word of clustered short options, or `None` when the word
/// is not one (no leading `-`, a second `-`, or a letter not read here).
/// An option whose argument is attached gets it as its inline value; one
/// that needs an argument and has none attached takes the next word, as
/// usual.
pub(super) fn split(token: &Token) -> Option<Vec<Token>> {
    if token.kind != TokenKind::Value {
        return None;
    }
    let text = token.text.as_str();
    let bytes = text.as_bytes();
    if bytes.len() < 2 || bytes[0] != b'-' || bytes[1] == b'-' {
        return None;
    }
    // Offsets into the word map onto the line only when it was written bare.
    let bare = token.span.end.saturating_sub(token.span.start) as usize == text.len();
    let sub = |from: usize, to: usize| {
        if !bare {
            return token.span;
        }
        Span {
            start: token.span.start + from as u32,
            end: token.span.start + to as u32,
            line: token.span.line,
            column: token.span.column + from as u32,
        }
    };
    let mut options = Vec::new();
    let mut at = 1;
    while at < bytes.len() {
        let c = bytes[at];
        let argument = letter(c)?;
        let name = format!("-{}", c as char);
        let rest = &text[at + 1..];
        let inline = match argument {
            Argument::None => None,
            _ if rest.is_empty() => None,
            _ if takes_whole_word(c) => Some((text.to_string(), token.span)),
            _ => Some((rest.to_string(), sub(at + 1, text.len()))),
        };
        let ends = argument != Argument::None;
        options.push(Token {
            kind: TokenKind::Option { inline },
            text: name,
            span: sub(at, if ends { text.len() } else { at + 1 }),
        });
        if ends {
            break;
        }
        at += 1;
    }
    Some(options)
}

/// Whether a word split by [`split`] gave an option its whole self as the
/// argument (`-ptcp`): the note iptables' reading deserves.
pub(super) fn whole_word_note(token: &Token, options: &[Token]) -> Option<String> {
    let last = options.last()?;
    let c = *last.text.as_bytes().get(1)?;
    match &last.kind {
        TokenKind::Option { inline: Some(_) } if takes_whole_word(c) => Some(format!(
            "iptables gives `{}` the whole word `{}` as its argument, not the text after the letter: write `{} {}`",
            last.text,
            token.text,
            last.text,
            token.text[token.text.find(c as char).map_or(0, |i| i + 1)..].trim_start_matches('=')
        )),
        _ => None,
    }
}

/// Reads the command of a command line when it is written with its chain
/// attached (`-AINPUT`, `-4AINPUT`) or after options in one word: the first
/// word that is not `-4`/`-6`, or, when no word is a command option, a word
/// that follows an argument (`-j ACCEPT -AINPUT`). The word is replaced by
/// its options. Failing that, a long option that abbreviates a command
/// (`--app INPUT`) gets the command's full name.
pub(super) fn split_command(tokens: &mut Vec<Token>) {
    let is_command_option = |t: &Token| {
        matches!(t.kind, TokenKind::Option { .. }) && super::command_name(&t.text).is_some()
    };
    let first = tokens.iter().position(|t| {
        !matches!(t.text.as_str(), "-4" | "-6" | "--ipv4" | "--ipv6") || t.is_value()
    });
    // The first word stands where an option does: its options are read
    // here, commands or not (`-fj DROP -ASTAGE`).
    if let Some(i) = first
        && let Some(options) = split(&tokens[i])
    {
        let command = options.iter().any(is_command_option);
        tokens.splice(i..=i, options);
        if command {
            return;
        }
    }
    // Usually the first word is the command (`-A INPUT ...`).
    let first_is_command = first.is_some_and(|i| is_command_option(&tokens[i]));
    if !first_is_command && !tokens.iter().any(is_command_option) {
        let candidates: Vec<usize> = (1..tokens.len())
            .filter(|&i| tokens[i - 1].is_value())
            .collect();
        for i in candidates {
            let Some(options) = split(&tokens[i]) else {
                continue;
            };
            if options.iter().any(is_command_option) {
                tokens.splice(i..=i, options);
                return;
            }
        }
    }
    // A command cut short (`--app INPUT`): read as its full name when getopt
    // finds no other option starting so, among iptables' own and those of
    // the extensions loaded before it. After `-m policy`, `--pol` is the
    // match's option, not `--policy`.
    // Every one is read, so that a second command is seen as such
    // (`--ze --ze INPUT`: "Cannot use -Z with -Z").
    for at in 0..tokens.len() {
        let t = &tokens[at];
        // Most long options of a rule start no command's name: skip them
        // before the full lookup.
        if !matches!(t.kind, TokenKind::Option { .. }) || !may_abbreviate_command(&t.text) {
            continue;
        }
        let Some((short, full)) = rule_spec::global_abbreviation(&t.text) else {
            continue;
        };
        let command = t.text != full
            && !rule_spec::is_rule_option(short)
            && super::command_name(short).is_some();
        if command && !loaded_option_may_start(&tokens[..at], &t.text) {
            tokens[at].text = full.to_string();
        }
    }
}

/// Whether an extension loaded by `words` (`-m NAME`, `-j NAME`) has an
/// option starting with `prefix`, or may have: one whose options iptlint
/// does not know may take the word, which then stays unread (and is
/// reported).
fn loaded_option_may_start(words: &[Token], prefix: &str) -> bool {
    words.iter().enumerate().any(|(i, t)| {
        let name = match &t.kind {
            TokenKind::Option {
                inline: Some((value, _)),
            } => value.as_str(),
            TokenKind::Option { inline: None } => match words.get(i + 1) {
                Some(next) if next.is_value() => next.text.as_str(),
                _ => return false,
            },
            _ => return false,
        };
        rule_spec::loaded_option_starts_with(&t.text, name, prefix) != Some(false)
    })
}

/// Whether a word is the start of a command's long name (`--app`), by a
/// quick look at its first letter.
fn may_abbreviate_command(word: &str) -> bool {
    let Some(rest) = word.strip_prefix("--") else {
        return false;
    };
    let names: &[&str] = match rest.as_bytes().first() {
        Some(b'a') => &["append"],
        Some(b'c') => &["check"],
        Some(b'd') => &["delete", "delete-chain"],
        Some(b'f') => &["flush"],
        Some(b'h') => &["help"],
        Some(b'i') => &["insert"],
        Some(b'l') => &["list", "list-rules"],
        Some(b'n') => &["new-chain"],
        Some(b'p') => &["policy"],
        Some(b'r') => &["replace", "rename-chain"],
        Some(b'z') => &["zero"],
        _ => return false,
    };
    names.iter().any(|n| n.starts_with(rest))
}
