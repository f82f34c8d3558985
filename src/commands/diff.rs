//! `iptlint diff A B`: does any packet meet a different fate?
//!
//! A and B are iptables dumps or nft scripts (read by `iptlint::nft` into
//! the same model; see `super::load_any`).
//!
//! Both dumps are walked along the input, forward and output paths with
//! every packet (the two walks of a path at once, on two threads); the
//! leaves are compared (see `iptlint::fate`). Each region
//! that differs is printed with a witness packet and the rule that decided
//! it on each side. Exit 0: equivalent; 1: they differ or may differ; 2:
//! error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use iptlint::fate::render::{leaf_json, verdict_text};
use iptlint::fate::{Conditions, Difference, Leaf, Path, Walker, compare, describe_set};
use iptlint::space::{Dim, PacketDisplay, SpaceContext};

use super::Loaded;
use crate::{EXIT_FINDINGS, EXIT_INPUT_ERROR};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffPath {
    Input,
    Forward,
    Output,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The first rule set (A); `-` reads standard input. An iptables dump,
    /// or an nft script: a `.nft` file, or one whose first statement is
    /// `table`, `flush`, `add`, `delete` or `define` (what `iptlint
    /// translate` writes, and the same constructs by hand).
    pub a: PathBuf,
    /// The second rule set (B), read the same way.
    pub b: PathBuf,
    /// An `ipset save` file. Read and checked, but `-m set` conditions are
    /// not modelled yet: they stay unknown conditions, the same in A and B
    /// when written the same.
    #[arg(long, value_name = "FILE")]
    pub ipsets: Option<PathBuf>,
    /// Compare one path only (default: all three).
    #[arg(long = "path", value_enum)]
    pub route: Option<DiffPath>,
    /// Most differences shown.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Most pieces (field intervals of the regions, plus a charge per
    /// region) one walk may hold; a dump that needs more is too complex to
    /// decide and ends with exit 2. Bounds memory: some 100 to 150 bytes a piece.
    #[arg(long, value_name = "N", default_value_t = iptlint::fate::DEFAULT_MAX_PIECES)]
    pub max_pieces: usize,
}

/// Differences with the same deciding rules and fates, shown as one.
struct Group {
    diff: Difference,
}

pub fn run(args: &DiffArgs) -> ExitCode {
    let limit = iptlint::check::DEFAULT_MAX_INPUT_BYTES;
    let a = match super::load_any(&args.a, limit) {
        Ok(l) => l,
        Err(status) => return ExitCode::from(status),
    };
    let b = match super::load_any(&args.b, limit) {
        Ok(l) => l,
        Err(status) => return ExitCode::from(status),
    };
    if let Some(sets) = &args.ipsets
        && let Err(e) = std::fs::read_to_string(sets)
    {
        eprintln!("iptlint: error: {}: {e}", sets.display());
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    if a.ruleset.family != b.ruleset.family {
        eprintln!(
            "iptlint: error: {} is {} and {} is {}: compare dumps of one family",
            a.path,
            a.ruleset.family.as_str(),
            b.path,
            b.ruleset.family.as_str()
        );
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let rules = [&a, &b]
        .into_iter()
        .flat_map(|l| &l.ruleset.tables)
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules);
    let ctx = SpaceContext::for_rules(a.ruleset.family, rules);
    let paths = match args.route {
        Some(DiffPath::Input) => vec![Path::Input],
        Some(DiffPath::Forward) => vec![Path::Forward],
        Some(DiffPath::Output) => vec![Path::Output],
        None => Path::ALL.to_vec(),
    };
    let mut wa = Walker::new(&a.ruleset, &ctx, &a.source, false);
    let mut wb = Walker::new(&b.ruleset, &ctx, &b.source, false);
    wa.set_max_pieces(args.max_pieces);
    wb.set_max_pieces(args.max_pieces);
    let mut conds = Conditions::default();
    let universe = ctx.universe();
    let mut all: Vec<(Vec<Leaf>, Vec<Leaf>, Vec<Group>)> = Vec::new();
    for &path in &paths {
        // The two walks are independent: B's runs on a thread of its own,
        // with its own table of conditions, taken in afterwards so that a
        // condition written alike in both dumps has one id.
        let (walked_a, (walked_b, conds_b)) = std::thread::scope(|s| {
            let wb = &mut wb;
            let universe = &universe;
            let b_side = s.spawn(move || {
                let mut conds_b = Conditions::default();
                (wb.walk(path, universe, &mut conds_b), conds_b)
            });
            let walked_a = wa.walk(path, universe, &mut conds);
            (
                walked_a,
                b_side.join().expect("the walk of B does not panic"),
            )
        });
        let ids = conds.merge(&conds_b);
        let walked = walked_a
            .map_err(|g| g.message(path, &a.path))
            .and_then(|la| {
                let mut lb = walked_b.map_err(|g| g.message(path, &b.path))?;
                for assumption in lb.iter_mut().flat_map(|l| &mut l.assumptions) {
                    assumption.condition = ids[assumption.condition as usize];
                }
                Ok((la, lb))
            });
        let (la, lb) = match walked {
            Ok(x) => x,
            Err(e) => {
                eprintln!("iptlint diff: {e}");
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        };
        let diffs = match compare(path, &ctx, &la, &lb, args.max_pieces) {
            Ok(d) => d,
            Err(g) => {
                eprintln!(
                    "iptlint diff: gave up comparing the {} path: it needs {} pieces (differences and pairs of regions to compare), more than the budget of {} (--max-pieces)",
                    path.name(),
                    g.pieces,
                    g.budget
                );
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        };
        let mut groups = group(&la, &lb, diffs);
        // Only the leaves a difference names are shown: let the others go
        // before the next path is walked.
        let la = keep(la, groups.iter_mut().map(|g| &mut g.diff.a));
        let lb = keep(lb, groups.iter_mut().map(|g| &mut g.diff.b));
        all.push((la, lb, groups));
    }
    let total: usize = all.iter().map(|x| x.2.len()).sum();
    let certain = all
        .iter()
        .flat_map(|x| &x.2)
        .filter(|g| g.diff.certain)
        .count();
    match args.format {
        DiffFormat::Json => {
            let mut out = Vec::new();
            for (la, lb, groups) in &all {
                for g in groups.iter() {
                    let d = &g.diff;
                    out.push(serde_json::json!({
                        "path": d.path.name(),
                        "certain": d.certain,
                        "packets": describe_set(&ctx, &d.region, 16),
                        "witness": PacketDisplay { packet: &d.witness, family: ctx.family() }.to_string(),
                        "a": leaf_json(&ctx, &conds, &la[d.a], false),
                        "b": leaf_json(&ctx, &conds, &lb[d.b], false),
                    }));
                }
            }
            let shown: Vec<_> = out.into_iter().take(args.limit).collect();
            let doc = serde_json::json!({
                "a": a.path,
                "b": b.path,
                "paths": paths.iter().map(|p| p.name()).collect::<Vec<_>>(),
                "equivalent": total == 0,
                "difference_count": total,
                "certain_count": certain,
                "differences": shown,
            });
            crate::emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        DiffFormat::Human => {
            let mut s = String::new();
            let names: Vec<&str> = paths.iter().map(|p| p.name()).collect();
            if total == 0 {
                s.push_str(&format!(
                    "{} and {} are equivalent: every packet meets the same fate on the {} path{}\n",
                    a.path,
                    b.path,
                    names.join(", "),
                    if names.len() == 1 { "" } else { "s" }
                ));
            } else {
                let mut shown = 0;
                for (la, lb, groups) in &all {
                    for g in groups {
                        if shown == args.limit {
                            break;
                        }
                        shown += 1;
                        s.push_str(&render(
                            &ctx,
                            &conds,
                            &a,
                            &b,
                            &la[g.diff.a],
                            &lb[g.diff.b],
                            g,
                        ));
                    }
                }
                if total > shown {
                    s.push_str(&format!("... {} more (raise --limit)\n", total - shown));
                }
                let may = total - certain;
                s.push_str(&format!(
                    "{} and {} differ: {certain} region{} differ{}\n",
                    a.path,
                    b.path,
                    if certain == 1 { "" } else { "s" },
                    if may > 0 {
                        format!(", {may} more may differ (unknown conditions)")
                    } else {
                        String::new()
                    }
                ));
            }
            crate::emit(&s);
        }
    }
    if total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    }
}

/// The leaves at the indexes `refs` point to, with the indexes renumbered.
fn keep<'r>(leaves: Vec<Leaf>, refs: impl Iterator<Item = &'r mut usize>) -> Vec<Leaf> {
    let mut slots: Vec<Option<Leaf>> = leaves.into_iter().map(Some).collect();
    let mut new_index = vec![usize::MAX; slots.len()];
    let mut out = Vec::new();
    for r in refs {
        if new_index[*r] == usize::MAX {
            new_index[*r] = out.len();
            out.extend(slots[*r].take());
        }
        *r = new_index[*r];
    }
    out
}

/// Merges the differences whose two leaves end the same way (same deciding
/// lines, same fates, same certainty).
fn group(la: &[Leaf], lb: &[Leaf], diffs: Vec<Difference>) -> Vec<Group> {
    let key = |d: &Difference| {
        let (x, y) = (&la[d.a], &lb[d.b]);
        (
            blame(x, y),
            blame(y, x),
            x.fate.clone(),
            y.fate.clone(),
            d.certain,
        )
    };
    let mut out: Vec<Group> = Vec::new();
    let mut keys = Vec::new();
    for d in diffs {
        let k = key(&d);
        match keys.iter().position(|x| *x == k) {
            Some(i) => {
                let g: &mut Group = &mut out[i];
                g.diff.region = g.diff.region.union(&d.region);
                g.diff.region.compact();
            }
            None => {
                keys.push(k);
                let mut d = d;
                d.region.compact();
                out.push(Group { diff: d });
            }
        }
    }
    out
}

/// The lines to point at on the side of `x`: the deciding rule when the
/// verdicts differ; when only the rewrites differ, the rules that last made
/// each differing rewrite (`None`: the field was not rewritten).
fn blame(x: &Leaf, y: &Leaf) -> Vec<Option<u32>> {
    if x.fate.verdict != y.fate.verdict {
        return vec![x.deciding().map(|d| d.line)];
    }
    differing_dims(x, y)
        .into_iter()
        .map(|d| x.rewritten_at(d))
        .collect()
}

fn differing_dims(x: &Leaf, y: &Leaf) -> Vec<Dim> {
    let mut dims: Vec<Dim> = x
        .fate
        .rewrites
        .entries()
        .iter()
        .chain(y.fate.rewrites.entries())
        .map(|(d, _)| *d)
        .filter(|d| x.fate.rewrites.get(*d) != y.fate.rewrites.get(*d))
        .collect();
    dims.sort();
    dims.dedup();
    dims
}

fn side(l: &Loaded, leaf: &Leaf, other: &Leaf) -> String {
    let mut s = leaf.fate.verdict.verb();
    if leaf.fate.verdict != other.fate.verdict {
        match leaf.deciding() {
            Some(d) if d.by_policy => s.push_str(&format!(
                " ({}:{}, {} {} policy)",
                l.path, d.line, d.table, d.chain
            )),
            Some(d) => s.push_str(&format!(" ({}:{})", l.path, d.line)),
            None => {}
        }
        return s;
    }
    // Same verdict: the rewrites differ; name each with the rule that made it.
    let family = l.ruleset.family;
    let mut parts = Vec::new();
    for d in differing_dims(leaf, other) {
        let mut one = iptlint::fate::Rewrites::default();
        if let Some(r) = leaf.fate.rewrites.get(d) {
            one.set_field(d, r.clone());
        }
        let text = one
            .describe(family)
            .pop()
            .unwrap_or_else(|| format!("{} unchanged", iptlint::fate::field_name(d)));
        match leaf.rewritten_at(d) {
            Some(line) => parts.push(format!("{text} ({}:{line})", l.path)),
            None => parts.push(text),
        }
    }
    s.push_str(&format!(" with {}", parts.join(", ")));
    s
}

fn render(
    ctx: &SpaceContext,
    conds: &Conditions,
    a: &Loaded,
    b: &Loaded,
    x: &Leaf,
    y: &Leaf,
    g: &Group,
) -> String {
    let d = &g.diff;
    let pieces = describe_set(ctx, &d.region, 3);
    let hooks = d.path.hooks().join("→");
    let may = if d.certain { "" } else { "may differ: " };
    let mut s = format!(
        "{} on {hooks}: {may}A {}, B {}\n",
        pieces[0],
        side(a, x, y),
        side(b, y, x)
    );
    for p in pieces.iter().skip(1) {
        s.push_str(&format!("  also: {p}\n"));
    }
    if d.region.cube_count() > pieces.len() {
        s.push_str(&format!(
            "  also: ... {} more pieces\n",
            d.region.cube_count() - pieces.len()
        ));
    }
    s.push_str(&format!(
        "  witness: {}\n",
        PacketDisplay {
            packet: &d.witness,
            family: ctx.family()
        }
    ));
    for (name, l, leaf, other) in [("A", a, x, y), ("B", b, y, x)] {
        if leaf.fate.verdict == other.fate.verdict {
            // Only the rewrites differ: show the rules that made them.
            let mut lines: Vec<u32> = differing_dims(leaf, other)
                .into_iter()
                .filter_map(|d| leaf.rewritten_at(d))
                .collect();
            lines.sort();
            lines.dedup();
            if lines.is_empty() {
                s.push_str(&format!("  {name}: no rule rewrites these fields\n"));
            }
            for line in lines {
                let text = l.source.lines().nth(line as usize - 1).unwrap_or_default();
                s.push_str(&format!("  {name}: {}:{line}: {}\n", l.path, text.trim()));
            }
        } else if let Some(dec) = leaf.deciding() {
            s.push_str(&format!(
                "  {name}: {} at {}:{}: {}\n",
                verdict_text(&leaf.fate.verdict),
                l.path,
                dec.line,
                dec.text
            ));
        }
        for asm in &leaf.assumptions {
            s.push_str(&format!(
                "     assuming `{}` {} ({}:{})\n",
                conds.text(asm.condition),
                if asm.holds { "holds" } else { "does not hold" },
                l.path,
                asm.line
            ));
        }
    }
    s.push('\n');
    s
}
