//! `iptlint trace`: what happens to a packet, rule by rule.
//!
//! The packet flags make a region (a field left out is "any"); the fate
//! walker takes it through every table's chain on the path and keeps each
//! branch's steps. Each distinct outcome is printed with the packets that
//! reach it, the assumptions it rests on and its step log.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use iptlint::fate::render::{leaf_json, steps_text, verdict_text};
use iptlint::fate::{Conditions, Leaf, PacketQuery, Path, Walker, describe_set};
use iptlint::space::{PacketDisplay, SpaceContext};

use crate::EXIT_INPUT_ERROR;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    Human,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathArg {
    /// PREROUTING → INPUT.
    Input,
    /// PREROUTING → FORWARD → POSTROUTING.
    Forward,
    /// OUTPUT → POSTROUTING.
    Output,
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The dump to read; `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub file: PathBuf,
    /// Protocol name or number.
    #[arg(long)]
    pub proto: Option<String>,
    /// Source address or prefix (`10.0.0.0/24`).
    #[arg(long)]
    pub src: Option<String>,
    /// Destination address or prefix.
    #[arg(long)]
    pub dst: Option<String>,
    /// Source port or range (`1024:65535`).
    #[arg(long)]
    pub sport: Option<String>,
    /// Destination port or range.
    #[arg(long)]
    pub dport: Option<String>,
    /// ICMP `TYPE`, `TYPE/CODE` or a name (`echo-request`).
    #[arg(long)]
    pub icmp_type: Option<String>,
    /// Input interface.
    #[arg(long = "in")]
    pub in_interface: Option<String>,
    /// Output interface.
    #[arg(long = "out")]
    pub out_interface: Option<String>,
    /// Conntrack state(s): NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED.
    #[arg(long)]
    pub state: Option<String>,
    /// Packet mark `VALUE[/MASK]` as it enters.
    #[arg(long)]
    pub mark: Option<String>,
    /// The path through the hooks. Default: from --in/--out (both: forward,
    /// --in: input, --out: output), else all three.
    #[arg(long = "path", value_enum, conflicts_with = "hook")]
    pub route: Option<PathArg>,
    /// One hook alone (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING).
    #[arg(long)]
    pub hook: Option<String>,
    /// Most outcomes shown per path.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = TraceFormat::Human)]
    pub format: TraceFormat,
}

/// Leaves with the same verdict, rewrites and steps: one outcome.
struct Outcome {
    leaf: Leaf,
    steps: Vec<String>,
}

pub fn run(args: &TraceArgs) -> ExitCode {
    let loaded = match super::load_any(&args.file, iptlint::check::DEFAULT_MAX_INPUT_BYTES) {
        Ok(loaded) => loaded,
        Err(status) => return ExitCode::from(status),
    };
    let query = PacketQuery {
        proto: args.proto.clone(),
        src: args.src.clone(),
        dst: args.dst.clone(),
        sport: args.sport.clone(),
        dport: args.dport.clone(),
        icmp_type: args.icmp_type.clone(),
        in_interface: args.in_interface.clone(),
        out_interface: args.out_interface.clone(),
        state: args.state.clone(),
        mark: args.mark.clone(),
    };
    let paths: Vec<Path> = if let Some(h) = &args.hook {
        match Path::hook(h) {
            Some(p) => vec![p],
            None => {
                eprintln!(
                    "iptlint: error: --hook: `{h}` is not PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING"
                );
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        }
    } else {
        match (args.route, &args.in_interface, &args.out_interface) {
            (Some(PathArg::Input), ..) => vec![Path::Input],
            (Some(PathArg::Forward), ..) => vec![Path::Forward],
            (Some(PathArg::Output), ..) => vec![Path::Output],
            (None, Some(_), Some(_)) => vec![Path::Forward],
            (None, Some(_), None) => vec![Path::Input],
            (None, None, Some(_)) => vec![Path::Output],
            (None, None, None) => Path::ALL.to_vec(),
        }
    };
    let rs = &loaded.ruleset;
    let mut names: Vec<&str> = rs
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .flat_map(|r| [r.in_interface(), r.out_interface()])
        .flatten()
        .map(|i| i.value.name.as_str())
        .collect();
    names.extend(query.interfaces());
    let ctx = SpaceContext::new(rs.family, names);
    let region = match query.region(&ctx) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iptlint: error: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let walker = Walker::new(rs, &ctx, &loaded.source, true);
    let mut conds = Conditions::default();
    let mut human = String::new();
    let mut json_paths = Vec::new();
    for path in paths {
        let leaves = match walker.walk(path, &region, &mut conds) {
            Ok(l) => l,
            Err(g) => {
                eprintln!("iptlint trace: {}", g.message(path, &loaded.path));
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        };
        let outcomes = group(leaves, &loaded.path);
        let hooks = path.hooks().join(" → ");
        if args.format == TraceFormat::Json {
            let shown: Vec<_> = outcomes
                .iter()
                .take(args.limit)
                .map(|o| leaf_json(&ctx, &conds, &o.leaf, true))
                .collect();
            json_paths.push(serde_json::json!({
                "path": path.name(),
                "hooks": path.hooks(),
                "outcome_count": outcomes.len(),
                "outcomes": shown,
            }));
            continue;
        }
        if outcomes.is_empty() {
            human.push_str(&format!(
                "path {} ({hooks}): no packet of this description can take this path\n\n",
                path.name()
            ));
            continue;
        }
        human.push_str(&format!(
            "path {} ({hooks}): {} outcome{}\n",
            path.name(),
            outcomes.len(),
            if outcomes.len() == 1 { "" } else { "s" }
        ));
        for (i, o) in outcomes.iter().take(args.limit).enumerate() {
            human.push_str(&render(
                &ctx,
                &conds,
                o,
                i + 1,
                outcomes.len(),
                &loaded.path,
            ));
        }
        if outcomes.len() > args.limit {
            human.push_str(&format!(
                "  ... {} more outcomes (raise --limit)\n",
                outcomes.len() - args.limit
            ));
        }
        human.push('\n');
    }
    if args.format == TraceFormat::Json {
        let doc = serde_json::json!({
            "file": loaded.path,
            "family": rs.family.as_str(),
            "paths": json_paths,
        });
        crate::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
    } else {
        crate::emit(&human);
    }
    ExitCode::SUCCESS
}

fn group(leaves: Vec<Leaf>, file: &str) -> Vec<Outcome> {
    let mut out: Vec<Outcome> = Vec::new();
    for leaf in leaves {
        let steps = steps_text(&leaf.steps, file);
        if let Some(o) = out.iter_mut().find(|o| {
            o.leaf.fate == leaf.fate
                && o.steps == steps
                && o.leaf.assumptions.len() == leaf.assumptions.len()
                && o.leaf
                    .assumptions
                    .iter()
                    .zip(&leaf.assumptions)
                    .all(|(a, b)| a.condition == b.condition && a.holds == b.holds)
        }) {
            o.leaf.region = o.leaf.region.union(&leaf.region);
            o.leaf.region.compact();
            continue;
        }
        out.push(Outcome { leaf, steps });
    }
    out
}

fn render(
    ctx: &SpaceContext,
    conds: &Conditions,
    o: &Outcome,
    n: usize,
    total: usize,
    file: &str,
) -> String {
    let leaf = &o.leaf;
    let mut s = String::new();
    let decided = leaf
        .deciding()
        .map(|d| format!(" by {file}:{} ({} {} {})", d.line, d.hook, d.table, d.chain))
        .unwrap_or_default();
    s.push_str(&format!(
        "\noutcome {n} of {total}: {}{decided}\n",
        verdict_text(&leaf.fate.verdict)
    ));
    let pieces = describe_set(ctx, &leaf.region, 4);
    let more = leaf.region.cube_count().saturating_sub(pieces.len());
    s.push_str(&format!("  packets: {}", pieces.join("\n       or: ")));
    if more > 0 {
        s.push_str(&format!("\n       or: ... {more} more pieces"));
    }
    s.push('\n');
    if let Some(p) = leaf.region.witness(ctx) {
        s.push_str(&format!(
            "  example: {}\n",
            PacketDisplay {
                packet: &p,
                family: ctx.family()
            }
        ));
    }
    for a in &leaf.assumptions {
        s.push_str(&format!(
            "  assuming: `{}` {} ({file}:{})\n",
            conds.text(a.condition),
            if a.holds { "holds" } else { "does not hold" },
            a.line
        ));
    }
    let rw = leaf.fate.rewrites.describe(ctx.family());
    if !rw.is_empty() {
        s.push_str(&format!("  leaves with: {}\n", rw.join(", ")));
    }
    s.push_str("  steps:\n");
    for line in &o.steps {
        s.push_str(&format!("    {line}\n"));
    }
    s
}
