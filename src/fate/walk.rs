//! The symbolic walk: a region of original packets through the tables of a
//! path, split by each rule it meets.
//!
//! A work item is a branch (region, rewrites, assumptions, trail) at a rule
//! of a chain, with its return points. Items are kept on an explicit stack,
//! so a 100,000-deep chain of jumps costs memory, not native stack. Return
//! points, assumptions, decisions and steps are persistent lists (`Rc`
//! cells), so a fork shares its history instead of copying it.

use foldhash::HashMap;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use std::sync::Arc;

use crate::model::{
    JumpKind, MatchOption, Policy, Rule, Ruleset, Span, Table, TableName, TargetKind, Value,
};
use crate::space::{Dim, MatchSpace, PacketSet, SpaceContext, rule_match_space};

use super::rewrite::{FieldRewrite, Rewrites, field_name, none};
use super::runs::{ChainRuns, KeyedRun, find_runs};
use super::{Path, Stage};

/// What finally happens to a packet on the path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Every table let it through: delivered, forwarded or sent.
    Accept,
    Drop,
    /// Dropped with an error reply of this type.
    Reject(String),
    /// Handed to user space (`QUEUE`, `NFQUEUE ...`): the verdict is not in the rules.
    Queue(String),
    /// A target iptlint does not model ended the walk, or the walk was cut.
    Unknown(String),
}

impl Verdict {
    /// `accepts`, `drops`, ... for messages.
    pub fn verb(&self) -> String {
        match self {
            Verdict::Accept => "accepts".into(),
            Verdict::Drop => "drops".into(),
            Verdict::Reject(t) => format!("rejects ({t})"),
            Verdict::Queue(q) => format!("queues ({q})"),
            Verdict::Unknown(u) => format!("does something unknown ({u})"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
            Verdict::Reject(_) => "reject",
            Verdict::Queue(_) => "queue",
            Verdict::Unknown(_) => "unknown",
        }
    }
}

/// The verdict with the rewrites the packet leaves with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fate {
    pub verdict: Verdict,
    pub rewrites: Rewrites,
}

/// How one table ended for a branch, and by what.
#[derive(Clone, Debug)]
pub struct Decision {
    pub hook: &'static str,
    pub table: TableName,
    /// Shared by every leaf the chain decided (a kube-proxy walk has
    /// hundreds of thousands of leaves).
    pub chain: Arc<str>,
    /// The line of the deciding rule, or of the chain's policy line.
    pub line: u32,
    /// `-A ...` text of the rule, or `policy ACCEPT`; shared like `chain`.
    pub text: Arc<str>,
    /// The chain's policy decided, not a rule.
    pub by_policy: bool,
}

/// An unknown condition taken to hold or not on a branch.
#[derive(Clone, Debug)]
pub struct Assumption {
    /// Index in [`Conditions`].
    pub condition: u32,
    pub holds: bool,
    pub line: u32,
}

/// Conditions iptlint cannot decide, by their text: the same text in both
/// dumps of a diff is the same condition.
#[derive(Default, Debug)]
pub struct Conditions {
    texts: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Conditions {
    pub fn intern(&mut self, text: String) -> u32 {
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.clone());
        self.ids.insert(text, id);
        id
    }

    pub fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    /// Takes in the conditions of `other` (a walk made with its own
    /// table, on another thread): the id here of each of its ids.
    pub fn merge(&mut self, other: &Conditions) -> Vec<u32> {
        other.texts.iter().map(|t| self.intern(t.clone())).collect()
    }
}

/// What a rule did to the branch that met it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOutcome {
    Matched,
    /// `failed`: conditions no packet of the branch passes; when none does on
    /// its own, `partly` lists those some packets fail.
    NotMatched {
        failed: Vec<String>,
        partly: Vec<String>,
    },
    /// An unknown condition, taken to hold or not.
    Assumed {
        holds: bool,
        condition: String,
    },
}

/// One entry of a trace.
#[derive(Clone, Debug)]
pub enum Step {
    /// The builtin chain of `hook` in `table` starts.
    Table {
        hook: &'static str,
        table: TableName,
    },
    /// The nat table only sees the first packet of a connection.
    NatSkipped {
        hook: &'static str,
    },
    /// The table has no chain for this hook: nothing to do.
    NoChain {
        hook: &'static str,
        table: TableName,
    },
    Jump {
        line: u32,
        to: String,
        kind: JumpKind,
    },
    Return {
        to: String,
        line: Option<u32>,
    },
    Rule {
        chain: String,
        line: u32,
        text: String,
        outcome: RuleOutcome,
    },
    Rewrite {
        line: u32,
        what: Vec<String>,
    },
    /// A builtin chain's policy applied.
    Policy {
        chain: String,
        policy: Policy,
        line: u32,
    },
    /// The table ended: ACCEPT (on to the next table) or a final verdict.
    Ends {
        table: TableName,
        verdict: Option<Verdict>,
        line: u32,
    },
}

/// One region of packets with one history and one fate.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub region: PacketSet,
    pub fate: Fate,
    pub assumptions: Vec<Assumption>,
    pub decisions: Vec<Decision>,
    /// The line of the rule that last rewrote each field.
    pub rewritten_at: Vec<(Dim, u32)>,
    /// Empty unless the walk records steps.
    pub steps: Vec<Step>,
}

impl Leaf {
    /// The line of the rule that last rewrote `d`, if any did.
    pub fn rewritten_at(&self, d: Dim) -> Option<u32> {
        self.rewritten_at
            .iter()
            .find(|(e, _)| *e == d)
            .map(|(_, l)| *l)
    }

    /// The decision that settled the fate: the one that ended the path, or
    /// for a packet every table let through, the last rule that accepted it
    /// (a policy only when no rule did).
    pub fn deciding(&self) -> Option<&Decision> {
        if self.fate.verdict == Verdict::Accept
            && let Some(d) = self.decisions.iter().rev().find(|d| !d.by_policy)
        {
            return Some(d);
        }
        self.decisions.last()
    }
}

// A persistent list: forks share their history.
struct Node<T> {
    item: T,
    next: List<T>,
}
type List<T> = Option<Rc<Node<T>>>;

fn push<T>(list: &List<T>, item: T) -> List<T> {
    Some(Rc::new(Node {
        item,
        next: list.clone(),
    }))
}

fn to_vec<T: Clone>(list: &List<T>) -> Vec<T> {
    let mut out = Vec::new();
    let mut cur = list;
    while let Some(n) = cur {
        out.push(n.item.clone());
        cur = &n.next;
    }
    out.reverse();
    out
}

#[derive(Clone)]
struct Branch {
    region: PacketSet,
    /// Cube count after the last compaction (see [`Branch::set_region`]).
    compacted: usize,
    /// `region.weight()` as of the last [`Branch::set_region`]: the walk
    /// adds up what it holds at every stage and every few hundred rules.
    weight: usize,
    rw: Rewrites,
    /// The line of the rule that last rewrote each field.
    rewritten_at: Vec<(Dim, u32)>,
    assumed: List<Assumption>,
    decisions: List<Decision>,
    steps: List<Step>,
}

impl Branch {
    /// Replaces the region, merging its cubes (`PacketSet::compact`) each
    /// time their number has doubled since the last merge. Splitting a
    /// region by many rules leaves pieces that differ in one field only (the
    /// packets left after a chain of `-d X -p tcp --dport P` rules, then
    /// narrowed to one port); merging them keeps later steps small, and
    /// merging only on doubling keeps the cost linear overall.
    ///
    /// A region whose bulk is one long field is also merged along that field
    /// at once: the packets that missed every ClusterIP rule and then took
    /// one NodePort rule are a handful of cubes whose destination fields
    /// together cover every address; merged, the field is gone. The merge
    /// groups cubes by their other (small) fields, so a region that cannot
    /// merge costs little to try.
    fn set_region(&mut self, region: PacketSet) {
        self.region = region;
        let n = self.region.cube_count();
        if n >= 2 * self.compacted.max(8) {
            self.region.compact();
            self.compacted = self.region.cube_count();
        }
        while self.region.cube_count() > 1 {
            let Some((dim, weight)) = self.region.heaviest_dim() else {
                break;
            };
            let n = self.region.cube_count();
            if weight < 4 * n {
                break;
            }
            self.region.merge_along(dim);
            if self.region.cube_count() == n {
                break;
            }
        }
        self.weight = self.region.weight();
    }

    /// The region, leaving the branch empty until the next `set_region`:
    /// a copy of the branch for other packets then does not copy it.
    fn take_region(&mut self) -> PacketSet {
        self.weight = 0;
        let empty = self.region.empty_like();
        std::mem::replace(&mut self.region, empty)
    }
}

#[derive(Clone)]
struct Item {
    b: Branch,
    chain: usize,
    rule: usize,
    /// The builtin chain the walk of this table started in.
    base: usize,
    /// Return points `(chain, rule)` pushed by `-j`.
    stack: List<(usize, usize)>,
    depth: usize,
    /// Rules met so far in this table (bounds the walk).
    met: usize,
    /// The branch matched `rule`: its target is next.
    apply: bool,
}

/// The items a table walk has yet to take on, and the pieces they hold
/// (kept as they come and go: tens of thousands can wait at once, after a
/// keyed run).
#[derive(Default)]
struct Work {
    items: Vec<Item>,
    pieces: usize,
}

impl Work {
    fn push(&mut self, it: Item) {
        self.pieces += pieces_of(&it.b);
        self.items.push(it);
    }

    fn pop(&mut self) -> Option<Item> {
        let it = self.items.pop()?;
        self.pieces -= pieces_of(&it.b);
        Some(it)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// One table, indexed for the walk.
struct TableIx<'a> {
    table: &'a Table,
    by_name: HashMap<&'a str, usize>,
    spaces: Vec<Vec<OnceCell<MatchSpace>>>,
    /// Each chain's name and each rule's `-A` text, made when first needed
    /// and shared by the decisions that name them.
    names: Vec<Arc<str>>,
    texts: Vec<Vec<OnceCell<Arc<str>>>>,
    /// Each chain's keyed runs (see `runs.rs`), found when first entered.
    runs: Vec<OnceCell<ChainRuns>>,
    /// `policy ACCEPT` of each builtin chain, shared like `texts`.
    policy_texts: Vec<OnceCell<Arc<str>>>,
}

/// Targets that change nothing iptlint models and let the walk go on.
const CONTINUING: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "TRACE",
    "AUDIT",
    "TCPMSS",
    "CLASSIFY",
    "SET",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "ECN",
    "CHECKSUM",
    "SECMARK",
    "CONNSECMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "TCPOPTSTRIP",
    "TEE",
];

/// The walk held more of the packet space than its budget allows: the
/// dump is too complex to decide within bounded memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// Pieces held when the walk stopped.
    pub pieces: usize,
    /// The budget it exceeded.
    pub budget: usize,
    /// Regions (branches and leaves) alive then.
    pub regions: usize,
}

impl GaveUp {
    /// `gave up after ... on the input path of DUMP; ...`, for an error line.
    pub fn message(&self, path: Path, dump: &str) -> String {
        format!(
            "gave up after {} regions holding {} pieces on the {} path of {dump}: \
             the dump is too complex to decide within the budget of {} pieces \
             (--max-pieces)",
            self.regions,
            self.pieces,
            path.name(),
            self.budget
        )
    }
}

/// The default of [`Walker::set_max_pieces`]. A piece (an interval or
/// pattern of a field, or a share of a region's bookkeeping) costs about
/// 100 to 150 bytes all told, so one walk stays near 1 GB at most. A
/// generated kube-proxy dump of 2,000 services needs between 500,000 and
/// 1,000,000 pieces on its busiest path (forward), about linearly in the
/// services: 10,000 services fit.
pub const DEFAULT_MAX_PIECES: usize = 8_000_000;

/// Pieces charged per region besides its fields: its cube headers, its
/// decisions and assumptions.
pub(crate) const REGION_OVERHEAD: usize = 16;

fn pieces_of(b: &Branch) -> usize {
    debug_assert_eq!(
        b.weight,
        b.region.weight(),
        "a region set without set_region"
    );
    b.weight + REGION_OVERHEAD
}

fn push_end(out: &mut Vec<End>, pieces: &mut usize, end: End) {
    *pieces += match &end {
        End::Pass(b) | End::Final(b, _) => pieces_of(b),
    };
    out.push(end);
}

/// How often (in rules met) a table walk adds up what it holds.
const CHECK_EVERY: usize = 256;

/// A branch that presents at most this many keys of a run it cannot take
/// at once skips the rules of other keys (see [`Walker::next_in_run`]).
const FEW_KEYS: usize = 4;

/// The fewest rules of a keyed run: shorter stretches are walked rule by
/// rule, which costs as much and keeps the cubes as they were.
const MIN_RUN: usize = 8;

/// Walks regions of packets through one dump.
pub struct Walker<'a> {
    ctx: &'a SpaceContext,
    source: &'a str,
    record: bool,
    tables: Vec<(TableName, TableIx<'a>)>,
    /// Rules one branch may meet in one table before the walk gives up.
    budget: usize,
    /// The line of each builtin chain's `:NAME POLICY` declaration.
    policy_lines: HashMap<(TableName, &'a str), u32>,
    /// Most pieces (see [`PacketSet::weight`]) the regions of one walk may
    /// hold at once.
    max_pieces: usize,
    /// Pieces and regions held outside the table being walked (leaves and
    /// branches between stages), while a walk runs.
    held: Cell<(usize, usize)>,
    /// Rules met since the last count of what the walk holds.
    since_check: Cell<usize>,
    /// The fewest rules a keyed run (see `runs.rs`) has.
    min_run: usize,
    /// The packets the nat table sees (conntrack `NEW`), and those with a
    /// conntrack entry (what `CONNMARK` changes).
    first_packets: PacketSet,
    tracked: PacketSet,
}

enum End {
    /// The table let the branch through.
    Pass(Branch),
    Final(Branch, Verdict),
}

impl<'a> Walker<'a> {
    /// `source` is the dump's text (for condition texts); `record` keeps the
    /// steps of each branch (for `trace`).
    pub fn new(
        ruleset: &'a Ruleset,
        ctx: &'a SpaceContext,
        source: &'a str,
        record: bool,
    ) -> Walker<'a> {
        let tables = ruleset
            .tables
            .iter()
            .map(|t| {
                let by_name = t
                    .chains
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name.as_str(), i))
                    .collect();
                let spaces = t
                    .chains
                    .iter()
                    .map(|c| (0..c.rules.len()).map(|_| OnceCell::new()).collect())
                    .collect();
                let texts = t
                    .chains
                    .iter()
                    .map(|c| (0..c.rules.len()).map(|_| OnceCell::new()).collect())
                    .collect();
                let names = t
                    .chains
                    .iter()
                    .map(|c| Arc::from(c.name.as_str()))
                    .collect();
                let runs = t.chains.iter().map(|_| OnceCell::new()).collect();
                let policy_texts = t.chains.iter().map(|_| OnceCell::new()).collect();
                (
                    t.name,
                    TableIx {
                        table: t,
                        by_name,
                        spaces,
                        names,
                        texts,
                        runs,
                        policy_texts,
                    },
                )
            })
            .collect();
        let rules = ruleset.rule_count() + ruleset.chain_count();
        Walker {
            ctx,
            source,
            record,
            tables,
            budget: rules.saturating_mul(16).max(100_000),
            policy_lines: policy_lines(source),
            max_pieces: DEFAULT_MAX_PIECES,
            held: Cell::new((0, 0)),
            since_check: Cell::new(0),
            min_run: MIN_RUN,
            first_packets: ctx.universe().restrict_range(Dim::Conntrack, 2, 5),
            tracked: ctx.universe().restrict_range(Dim::Conntrack, 2, 13),
        }
    }

    /// Sets the fewest rules a stretch of a chain keyed by one field needs
    /// for a branch to take it in one step (see `runs.rs`); `usize::MAX`
    /// walks every rule on its own. The leaves are the same sets either
    /// way; this is for tests that check so.
    #[doc(hidden)]
    pub fn set_min_run(&mut self, rules: usize) {
        self.min_run = rules;
    }

    /// Bounds what one walk may hold: the most pieces (intervals and
    /// patterns of the regions' fields, plus a fixed charge per region)
    /// alive at once. A walk that needs more ends with [`GaveUp`].
    pub fn set_max_pieces(&mut self, max: usize) {
        self.max_pieces = max;
    }

    /// Gives up when `extra` pieces in `regions` regions, with what the walk
    /// holds outside the current table, exceed the budget.
    fn check(&self, extra: usize, regions: usize) -> Result<(), GaveUp> {
        let (held, held_regions) = self.held.get();
        let pieces = held + extra;
        if pieces > self.max_pieces {
            return Err(GaveUp {
                pieces,
                budget: self.max_pieces,
                regions: held_regions + regions,
            });
        }
        Ok(())
    }

    /// The fates of the packets of `region` (within the path's universe) on
    /// `path`: disjoint leaves for each assumption valuation. Fails when the
    /// walk would hold more than its budget of pieces (see
    /// [`Walker::set_max_pieces`]).
    pub fn walk(
        &self,
        path: Path,
        region: &PacketSet,
        conds: &mut Conditions,
    ) -> Result<Vec<Leaf>, GaveUp> {
        let start = region.intersect(&path.universe(self.ctx));
        let start = Branch {
            weight: start.weight(),
            region: start,
            compacted: 0,
            rw: Rewrites::default(),
            rewritten_at: Vec::new(),
            assumed: None,
            decisions: None,
            steps: None,
        };
        let mut live = if start.region.is_empty() {
            Vec::new()
        } else {
            vec![start]
        };
        let mut leaves = Vec::new();
        // Pieces held by the leaves so far (they only grow).
        let mut settled = 0;
        self.since_check.set(0);
        for stage in path.stages() {
            let mut next: Vec<Branch> = Vec::new();
            let waiting: usize = live.iter().map(pieces_of).sum();
            let mut passed = 0;
            let mut remaining = waiting;
            let mut left = live.len();
            for b in live {
                remaining -= pieces_of(&b);
                left -= 1;
                let before = leaves.len();
                // Whatever this table does, the others wait in `live` and `next`.
                self.held.set((
                    settled + remaining + passed,
                    leaves.len() + left + next.len(),
                ));
                let first = next.len();
                self.stage(stage, b, conds, &mut next, &mut leaves)?;
                passed += next[first..].iter().map(pieces_of).sum::<usize>();
                settled += leaves[before..]
                    .iter()
                    .map(|l| l.region.weight() + REGION_OVERHEAD)
                    .sum::<usize>();
                self.held.set((
                    settled + remaining + passed,
                    leaves.len() + left + next.len(),
                ));
                self.check(0, 0)?;
            }
            live = next;
        }
        for b in live {
            leaves.push(self.leaf(b, Verdict::Accept));
        }
        self.held.set((0, 0));
        Ok(leaves)
    }

    fn leaf(&self, mut b: Branch, verdict: Verdict) -> Leaf {
        // Leaves are kept until the comparison: store them merged.
        if b.region.cube_count() > 1 {
            b.region.compact();
        }
        Leaf {
            region: b.region,
            fate: Fate {
                verdict,
                rewrites: b.rw,
            },
            assumptions: to_vec(&b.assumed),
            decisions: to_vec(&b.decisions),
            rewritten_at: b.rewritten_at,
            steps: to_vec(&b.steps),
        }
    }

    fn note(&self, b: &mut Branch, step: impl FnOnce() -> Step) {
        if self.record {
            b.steps = push(&b.steps, step());
        }
    }

    /// The part of `b` whose rewritten packet lies in `set`, and the rest.
    fn split(&self, b: &Branch, set: &PacketSet) -> (PacketSet, PacketSet) {
        let (pre, _) = b.rw.preimage(set);
        (b.region.intersect(&pre), b.region.difference(&pre))
    }

    fn stage(
        &self,
        stage: Stage,
        mut b: Branch,
        conds: &mut Conditions,
        next: &mut Vec<Branch>,
        leaves: &mut Vec<Leaf>,
    ) -> Result<(), GaveUp> {
        let Some((_, tix)) = self.tables.iter().find(|(n, _)| *n == stage.table) else {
            next.push(b);
            return Ok(());
        };
        let Some(&base) = tix.by_name.get(stage.hook) else {
            self.note(&mut b, || Step::NoChain {
                hook: stage.hook,
                table: stage.table,
            });
            next.push(b);
            return Ok(());
        };
        if stage.table == TableName::Nat {
            // Only a connection's first packet (NEW) meets the nat chains;
            // the others get their connection's NAT, which is not in the rules.
            let (first, later) = self.split(&b, &self.first_packets);
            if !later.is_empty() {
                let mut skip = b.clone();
                skip.set_region(later);
                self.note(&mut skip, || Step::NatSkipped { hook: stage.hook });
                next.push(skip);
            }
            if first.is_empty() {
                return Ok(());
            }
            b.set_region(first);
        }
        self.note(&mut b, || Step::Table {
            hook: stage.hook,
            table: stage.table,
        });
        for end in self.table(stage, tix, base, b, conds)? {
            match end {
                End::Pass(b) => next.push(b),
                End::Final(b, v) => leaves.push(self.leaf(b, v)),
            }
        }
        Ok(())
    }

    fn space<'t>(&self, tix: &'t TableIx<'a>, chain: usize, rule: usize) -> &'t MatchSpace {
        tix.spaces[chain][rule]
            .get_or_init(|| rule_match_space(&tix.table.chains[chain].rules[rule], self.ctx))
    }

    fn table(
        &self,
        stage: Stage,
        tix: &TableIx<'a>,
        base: usize,
        b: Branch,
        conds: &mut Conditions,
    ) -> Result<Vec<End>, GaveUp> {
        let chains = &tix.table.chains;
        let mut out = Vec::new();
        // Pieces held by `out`, counted as ends are pushed.
        let mut out_pieces = 0;
        let mut work = Work::default();
        work.push(Item {
            b,
            chain: base,
            rule: 0,
            base,
            stack: None,
            depth: 0,
            met: 0,
            apply: false,
        });
        while let Some(mut it) = work.pop() {
            loop {
                if it.apply {
                    it.apply = false;
                    match self.target(stage, tix, it, &mut work) {
                        Some(Ok(next)) => {
                            it = next;
                            continue;
                        }
                        Some(Err(end)) => push_end(&mut out, &mut out_pieces, end),
                        None => {}
                    }
                    break;
                }
                let chain = &chains[it.chain];
                if it.rule >= chain.rules.len() {
                    match self.leave(stage, tix, it, None) {
                        Ok(next) => {
                            it = next;
                            continue;
                        }
                        Err(end) => push_end(&mut out, &mut out_pieces, end),
                    }
                    break;
                }
                it.met += 1;
                let since = self.since_check.get() + 1;
                self.since_check.set(since);
                if since >= CHECK_EVERY {
                    // Everything this table walk holds.
                    self.since_check.set(0);
                    let held = pieces_of(&it.b) + work.pieces + out_pieces;
                    self.check(held, 1 + work.len() + out.len())?;
                } else if it.b.region.cube_count() > 64 {
                    // A large region alone can outgrow the budget between counts.
                    self.check(pieces_of(&it.b), 1 + work.len() + out.len())?;
                }
                if it.met > self.budget {
                    let v = Verdict::Unknown("the walk met too many rules (a loop?)".into());
                    push_end(&mut out, &mut out_pieces, End::Final(it.b, v));
                    break;
                }
                if let Some(run) = self.run_at(tix, it.chain, it.rule) {
                    if self.can_take(stage, run, &it) {
                        self.take_run(tix, run, it, &mut work);
                        break;
                    }
                    if let Some(next) = self.next_in_run(stage, run, &it)
                        && next > it.rule
                    {
                        // The rules in between cannot match: they are met
                        // (and counted) without a test.
                        let skipped = next - it.rule;
                        it.met += skipped - 1;
                        self.since_check.set(self.since_check.get() + skipped - 1);
                        it.rule = next;
                        continue;
                    }
                }
                let rule = &chain.rules[it.rule];
                let ms = self.space(tix, it.chain, it.rule);
                if it.b.rw.surely_misses(&ms.may) {
                    self.not_matched(&mut it, rule, &chain.name);
                    it.rule += 1;
                    continue;
                }
                // Borrowed unless a rewrite changes what the rule tests.
                let (may, opaque) = it.b.rw.preimage(&ms.may);
                let must = if ms.is_exact() {
                    may.clone()
                } else if opaque.is_empty() {
                    it.b.rw.preimage(ms.must()).0
                } else {
                    Cow::Owned(none(&may))
                };
                // At PREROUTING routing has not run: a forwarded packet has no
                // output device yet (the one the path gives it applies from
                // FORWARD on), so `-o` sees "no device" there. Found by
                // tests/trace_kernel.rs.
                let (may, must) = if stage.hook == "PREROUTING" && may.restricts(Dim::OutInterface)
                {
                    let no_out = self.ctx.universe().restrict_range(Dim::OutInterface, 0, 0);
                    let before_routing =
                        |s: &PacketSet| s.intersect(&no_out).forget(Dim::OutInterface);
                    (
                        Cow::Owned(before_routing(&may)),
                        Cow::Owned(before_routing(&must)),
                    )
                } else {
                    (may, must)
                };
                let exact = ms.is_exact() && opaque.is_empty();
                if !it.b.region.overlaps(&may) {
                    self.not_matched(&mut it, rule, &chain.name);
                    it.rule += 1;
                    continue;
                }
                // The region is taken out of the branch, so that the copy
                // of the branch for the packets the rule misses does not
                // copy it too.
                let region = it.b.take_region();
                let (inside, rest) = if region.is_subset(&may) {
                    (region, none(&may))
                } else {
                    (region.intersect(&may), region.into_difference(&may))
                };
                let (sure, unsure) = if exact {
                    (inside, none(&may))
                } else {
                    (inside.intersect(&must), inside.difference(&must))
                };
                if !rest.is_empty() {
                    let mut other = it.clone();
                    other.b.set_region(rest);
                    self.not_matched(&mut other, rule, &chain.name);
                    other.rule += 1;
                    work.push(other);
                }
                if !unsure.is_empty() {
                    let text = self.condition_text(rule, ms, &opaque, &it.b.rw);
                    let id = conds.intern(text.clone());
                    for holds in [false, true] {
                        let mut other = it.clone();
                        other.b.set_region(unsure.clone());
                        other.b.assumed = push(
                            &other.b.assumed,
                            Assumption {
                                condition: id,
                                holds,
                                line: rule.span.line,
                            },
                        );
                        self.note(&mut other.b, || Step::Rule {
                            chain: chain.name.to_string(),
                            line: rule.span.line,
                            text: rule.spec_text(),
                            outcome: RuleOutcome::Assumed {
                                holds,
                                condition: text.clone(),
                            },
                        });
                        if holds {
                            other.apply = true;
                        } else {
                            other.rule += 1;
                        }
                        work.push(other);
                    }
                }
                if sure.is_empty() {
                    break;
                }
                it.b.set_region(sure);
                self.note(&mut it.b, || Step::Rule {
                    chain: chain.name.to_string(),
                    line: rule.span.line,
                    text: rule.spec_text(),
                    outcome: RuleOutcome::Matched,
                });
                it.apply = true;
            }
        }
        Ok(out)
    }

    /// The keyed run rule `rule` of `chain` belongs to, if any.
    fn run_at<'t>(&self, tix: &'t TableIx<'a>, chain: usize, rule: usize) -> Option<&'t KeyedRun> {
        if self.record || self.min_run == usize::MAX {
            return None;
        }
        let n = tix.table.chains[chain].rules.len();
        tix.runs[chain]
            .get_or_init(|| find_runs(n, self.min_run, |i| self.space(tix, chain, i)))
            .at(rule)
    }

    /// True when the branch sees the rules of `run` as they are compiled, so
    /// that taking the run at once gives what meeting its rules one by one
    /// gives: no rewrite so far touches a field they test (a test of a
    /// rewritten field is another set of original packets), no `-o` test at
    /// PREROUTING (adjusted for routing, see [`Walker::table`]), and the
    /// branch stays within the bound on rules met.
    fn can_take(&self, stage: Stage, run: &KeyedRun, it: &Item) -> bool {
        let pre_routing = stage.hook == "PREROUTING" && run.dims.contains(&Dim::OutInterface);
        !pre_routing
            && run.dims.iter().all(|d| it.b.rw.get(*d).is_none())
            && it.met + (run.end - it.rule) <= self.budget
    }

    /// For a branch that cannot take `run` at once (see [`Walker::can_take`]):
    /// the first rule from `it.rule` on that can match one of its packets,
    /// found by the key when the branch presents few values there: its own
    /// (the key not rewritten) or the one a rewrite set (a DNAT to one
    /// address). Rules keyed by intervals without those values cannot
    /// match; the others are met one by one as usual. `None` when the
    /// branch presents many keys or values iptlint cannot know.
    fn next_in_run(&self, stage: Stage, run: &KeyedRun, it: &Item) -> Option<usize> {
        if stage.hook == "PREROUTING" && run.dims.contains(&Dim::OutInterface) {
            return None;
        }
        let (lo, hi) = match it.b.rw.get(run.dim) {
            None => it.b.region.bounds(run.dim)?,
            Some(FieldRewrite::Masked { keep: 0, xor }) => (*xor, *xor),
            Some(_) => return None,
        };
        let window = run.keys_within(lo, hi);
        if window.len() > FEW_KEYS {
            return None;
        }
        let next = window
            .filter_map(|g| {
                let rules = &run.rules[g];
                rules.get(rules.partition_point(|&k| k < it.rule)).copied()
            })
            .min();
        Some(next.unwrap_or(run.end))
    }

    /// Takes branch `it`, at a rule of `run`, past the rest of the run at
    /// once: one branch per rule that matches some of its packets first
    /// (left to apply that rule's target), and one with the packets that
    /// match no rule of the run (at the rule after it), all pushed onto
    /// `work` so that they are walked in rule order. See `runs.rs` for why
    /// this is exact.
    fn take_run(&self, tix: &TableIx<'a>, run: &KeyedRun, mut it: Item, work: &mut Work) {
        let from = it.rule;
        let region = it.b.take_region();
        let window = match region.bounds(run.dim) {
            Some((lo, hi)) => run.keys_within(lo, hi),
            None => 0..0,
        };
        let space = |k: usize| &self.space(tix, it.chain, k).may;
        // Rules the branch meets that can match some of its packets.
        let met = |g: usize| {
            let rules = &run.rules[g];
            &rules[rules.partition_point(|&k| k < from)..]
        };
        let mut hits: Vec<Item> = Vec::new();
        for g in window.clone() {
            // Only the rules of one interval can overlap each other.
            let mut earlier: Vec<&PacketSet> = Vec::new();
            for &k in met(g) {
                let may = space(k);
                let mut hit = region.intersect(may);
                for e in &earlier {
                    if hit.is_empty() {
                        break;
                    }
                    hit = hit.into_difference(e);
                }
                earlier.push(may);
                if hit.is_empty() {
                    continue;
                }
                let mut b = it.clone();
                b.b.set_region(hit);
                b.rule = k;
                b.met += k - from + 1;
                b.apply = true;
                hits.push(b);
            }
        }
        let rules_met = run.end - from;
        self.since_check.set(self.since_check.get() + rules_met);
        let miss = if from == run.start {
            region.intersect(run.missed.get_or_init(|| {
                let all = (0..run.keys.len()).flat_map(met).map(|&k| space(k));
                self.ctx.universe().minus_all_along(run.dim, all)
            }))
        } else {
            // Entered after a rule of the run (back from its `-j`, or on
            // after a target such as LOG): the branch lies within that
            // rule's interval, so few rules remain.
            let rest = window.flat_map(met).map(|&k| space(k));
            region.minus_all_along(run.dim, rest)
        };
        if !miss.is_empty() {
            let mut other = it.clone();
            other.b.set_region(miss);
            other.rule = run.end;
            other.met += rules_met;
            work.push(other);
        }
        // Popped in rule order, as the rule-by-rule walk meets them.
        hits.sort_unstable_by_key(|h| std::cmp::Reverse(h.rule));
        for hit in hits {
            work.push(hit);
        }
    }

    fn not_matched(&self, it: &mut Item, rule: &Rule, chain: &str) {
        if !self.record {
            return;
        }
        let (failed, partly) = self.failed_conditions(&it.b, rule);
        it.b.steps = push(
            &it.b.steps,
            Step::Rule {
                chain: chain.to_string(),
                line: rule.span.line,
                text: rule.spec_text(),
                outcome: RuleOutcome::NotMatched { failed, partly },
            },
        );
    }

    /// The conditions of `rule` that every packet of `b` fails, or if there
    /// is none, those some fail.
    fn failed_conditions(&self, b: &Branch, rule: &Rule) -> (Vec<String>, Vec<String>) {
        let mut failed = Vec::new();
        let mut partly = Vec::new();
        for (text, sub) in conditions(rule) {
            let space = rule_match_space(&sub, self.ctx);
            let (may, _) = b.rw.preimage(&space.may);
            if !b.region.overlaps(&may) {
                failed.push(text);
            } else if !b.region.is_subset(&may) {
                partly.push(text);
            }
        }
        if !failed.is_empty() {
            partly.clear();
        }
        (failed, partly)
    }

    /// The text naming a rule's unknown conditions: the same text in two
    /// dumps is taken to be the same condition with the same outcome. Tests
    /// made after rewrites carry the rewrites, so that a condition seen
    /// through different rewrites is a different condition.
    fn condition_text(
        &self,
        rule: &Rule,
        ms: &MatchSpace,
        opaque: &[Dim],
        rw: &Rewrites,
    ) -> String {
        let mut parts: Vec<String> = Vec::new();
        for u in ms.unknown() {
            let same = |s: &Span| s.start == u.span.start && s.end == u.span.end;
            let text = match rule.matches.iter().find(|m| {
                same(&m.span_in(rule)) || m.options.iter().any(|o| same(&o.span_in(rule)))
            }) {
                Some(m) => {
                    let sub = Rule {
                        matches: crate::model::list![m.clone()],
                        ..bare(rule)
                    };
                    sub.spec_text()
                }
                None => self
                    .source
                    .get(u.span.range())
                    .unwrap_or(&u.reason)
                    .to_string(),
            };
            if !parts.contains(&text) {
                parts.push(text);
            }
        }
        for d in opaque {
            let label = match rw.get(*d) {
                Some(FieldRewrite::Opaque(l)) => l.to_string(),
                _ => String::new(),
            };
            parts.push(format!(
                "`{}` tests {} after it became {label}",
                spec_without_target(rule),
                field_name(*d)
            ));
        }
        let mut text = parts.join(" ");
        if !rw.is_identity() && opaque.is_empty() {
            let what = rw.describe(self.ctx.family()).join(", ");
            text.push_str(&format!(" (after {what})"));
        }
        text
    }

    // `End` and `Item` are both a branch; each is moved once per chain exit.
    #[allow(clippy::result_large_err)]
    /// The branch leaves its chain (fell off the end, or `RETURN` at `line`):
    /// back after the innermost `-j`, or the builtin chain's policy.
    fn leave(
        &self,
        stage: Stage,
        tix: &TableIx<'a>,
        mut it: Item,
        line: Option<u32>,
    ) -> Result<Item, End> {
        let chains = &tix.table.chains;
        if !chains[it.chain].builtin
            && let Some(frame) = it.stack.clone()
        {
            let (chain, rule) = frame.item;
            it.stack = frame.next.clone();
            it.depth -= 1;
            it.chain = chain;
            it.rule = rule;
            self.note(&mut it.b, || Step::Return {
                to: chains[chain].name.to_string(),
                line,
            });
            return Ok(it);
        }
        let base = &chains[it.base];
        let policy = base.policy.unwrap_or(Policy::Accept);
        // The parser places builtin chains at the table header; the policy
        // is on the `:NAME` line.
        let policy_line = self
            .policy_lines
            .get(&(tix.table.name, base.name.as_str()))
            .copied()
            .unwrap_or(base.span.line);
        self.note(&mut it.b, || Step::Policy {
            chain: base.name.to_string(),
            policy,
            line: policy_line,
        });
        let text = tix.policy_texts[it.base]
            .get_or_init(|| Arc::from(format!("policy {}", policy.as_str())))
            .clone();
        let verdict = (policy == Policy::Drop).then_some(Verdict::Drop);
        let name = tix.names[it.base].clone();
        Err(self.end(stage, it.b, name, policy_line, text, verdict))
    }

    fn end(
        &self,
        stage: Stage,
        mut b: Branch,
        chain: Arc<str>,
        line: u32,
        text: Arc<str>,
        verdict: Option<Verdict>,
    ) -> End {
        b.decisions = push(
            &b.decisions,
            Decision {
                hook: stage.hook,
                table: stage.table,
                chain,
                by_policy: text.starts_with("policy "),
                line,
                text,
            },
        );
        self.note(&mut b, || Step::Ends {
            table: stage.table,
            verdict: verdict.clone(),
            line,
        });
        match verdict {
            Some(v) => End::Final(b, v),
            None => End::Pass(b),
        }
    }

    /// Applies the target of the rule `it` matched. `Some(Ok)`: the walk goes
    /// on; `Some(Err)`: the table ended; `None`: the item was split and its
    /// parts pushed onto `work`.
    fn target(
        &self,
        stage: Stage,
        tix: &TableIx<'a>,
        mut it: Item,
        work: &mut Work,
    ) -> Option<Result<Item, End>> {
        let chains = &tix.table.chains;
        let chain = &chains[it.chain];
        let rule = &chain.rules[it.rule];
        let line = rule.span.line;
        let Some(t) = &rule.target else {
            it.rule += 1;
            return Some(Ok(it));
        };
        let ends = |b: Branch, v: Option<Verdict>| {
            let text = tix.texts[it.chain][it.rule]
                .get_or_init(|| Arc::from(format!("-A {} {}", chain.name, rule.spec_text())))
                .clone();
            let name = tix.names[it.chain].clone();
            Some(Err(self.end(stage, b, name, line, text, v)))
        };
        let family = self.ctx.family();
        match &t.kind {
            TargetKind::Accept => return ends(it.b, None),
            TargetKind::Drop => return ends(it.b, Some(Verdict::Drop)),
            TargetKind::Queue => return ends(it.b, Some(Verdict::Queue("QUEUE".into()))),
            TargetKind::Return => return Some(self.leave(stage, tix, it, Some(line))),
            TargetKind::Chain => {
                let name = &t.name;
                let Some(&to) = tix.by_name.get(name.as_str()) else {
                    let v = Verdict::Unknown(format!("jump to the undefined chain {name}"));
                    return ends(it.b, Some(v));
                };
                self.note(&mut it.b, || Step::Jump {
                    line,
                    to: name.to_string(),
                    kind: t.jump,
                });
                if t.jump == JumpKind::Jump {
                    if it.depth > chains.len() {
                        let v = Verdict::Unknown("the chains jump in a loop".into());
                        return ends(it.b, Some(v));
                    }
                    it.stack = push(&it.stack, (it.chain, it.rule + 1));
                    it.depth += 1;
                }
                it.chain = to;
                it.rule = 0;
                return Some(Ok(it));
            }
            TargetKind::Extension | TargetKind::Other => {}
        }
        let opt = |name: &str| t.options.iter().find(|o| o.name == name);
        let mut rw = it.b.rw.clone();
        match t.name.as_str() {
            "REJECT" => {
                let with = opt("--reject-with")
                    .and_then(|o| o.words.first())
                    .map(|w| w.text.to_string())
                    .unwrap_or_else(|| match family {
                        crate::model::Family::Ipv4 => "icmp-port-unreachable".into(),
                        crate::model::Family::Ipv6 => "icmp6-port-unreachable".into(),
                    });
                return ends(it.b, Some(Verdict::Reject(with)));
            }
            "NFQUEUE" => {
                let text = target_text(rule);
                return ends(it.b, Some(Verdict::Queue(text)));
            }
            "DNAT" | "SNAT" | "REDIRECT" | "MASQUERADE" | "NETMAP" => {
                let dest = match t.name.as_str() {
                    "DNAT" | "REDIRECT" => true,
                    "SNAT" | "MASQUERADE" => false,
                    _ => matches!(stage.hook, "PREROUTING" | "OUTPUT"),
                };
                let (addr_dim, port_dim) = if dest {
                    (Dim::Dst, Dim::DstPort)
                } else {
                    (Dim::Src, Dim::SrcPort)
                };
                // Only a value iptlint cannot know is labelled with it: a
                // kube-proxy walk applies tens of thousands of DNATs to one
                // address, which need no text.
                let text = std::cell::LazyCell::new(|| target_text(rule));
                match t.name.as_str() {
                    "DNAT" | "SNAT" => {
                        let name = if dest {
                            "--to-destination"
                        } else {
                            "--to-source"
                        };
                        match opt(name).map(|o| &o.value) {
                            Some(Value::Nat(n)) => {
                                let n = n.range();
                                if let Some(a) = &n.addrs {
                                    let (lo, hi) = (addr_int(a.lo), addr_int(a.hi));
                                    if lo == hi {
                                        rw.assign(family, addr_dim, lo);
                                    } else {
                                        rw.opaque(addr_dim, format!("one of {a:?} ({})", *text));
                                    }
                                }
                                if let Some(p) = &n.ports {
                                    nat_port(&mut rw, port_dim, p.lo, p.hi, &text);
                                }
                            }
                            _ => rw.opaque(addr_dim, format!("chosen by {}", *text)),
                        }
                    }
                    "REDIRECT" | "MASQUERADE" => {
                        if t.name == "REDIRECT" && stage.hook == "OUTPUT" {
                            let local = match family {
                                crate::model::Family::Ipv4 => 0x7F00_0001,
                                crate::model::Family::Ipv6 => 1,
                            };
                            rw.assign(family, addr_dim, local);
                        } else {
                            let whose = if dest { "input" } else { "output" };
                            rw.opaque(
                                addr_dim,
                                format!("the address of the {whose} interface ({})", *text),
                            );
                        }
                        if let Some(p) = opt("--to-ports").and_then(|o| o.words.first()) {
                            match parse_port_range(&p.text) {
                                Some((lo, hi)) => nat_port(&mut rw, port_dim, lo, hi, &text),
                                None => rw.opaque(port_dim, format!("chosen by {}", *text)),
                            }
                        }
                    }
                    _ => match opt("--to").map(|o| &o.value) {
                        Some(Value::Net(n)) => {
                            let mask = n.mask();
                            rw.masked(family, addr_dim, mask, n.addr_u128() & mask);
                        }
                        _ => rw.opaque(addr_dim, format!("chosen by {}", *text)),
                    },
                }
                rw.set_nat_status(dest);
                self.rewrote(&mut it.b, line, &rw);
                it.b.rw = rw;
                return ends(it.b, None);
            }
            "MARK" => {
                for o in &t.options {
                    if let Some((mask, value)) = mark_op(o) {
                        rw.masked(family, Dim::Mark, mask as u128, value as u128);
                    }
                }
                self.rewrote(&mut it.b, line, &rw);
                it.b.rw = rw;
            }
            "CONNMARK" => {
                // Only a packet with a conntrack entry has a connmark to change.
                let (yes, no) = self.split(&it.b, &self.tracked);
                if !no.is_empty() {
                    let mut other = it.clone();
                    other.b.set_region(no);
                    other.rule += 1;
                    work.push(other);
                }
                if yes.is_empty() {
                    return None;
                }
                it.b.set_region(yes);
                let mut known = false;
                // A shift (revision 2) moves the result of every operation,
                // `--set-mark` too: only the copy below stays true.
                let shifted =
                    opt("--left-shift-mark").is_some() || opt("--right-shift-mark").is_some();
                for o in t.options.iter().filter(|_| !shifted) {
                    if let Some((mask, value)) = mark_op(o) {
                        rw.masked(family, Dim::Connmark, mask as u128, value as u128);
                        known = true;
                    }
                }
                if !known {
                    let (into, from) = if opt("--restore-mark").is_some() {
                        (Dim::Mark, Dim::Connmark)
                    } else {
                        (Dim::Connmark, Dim::Mark)
                    };
                    let before = it.b.rw.describe(family).join(", ");
                    rw.opaque(
                        into,
                        format!(
                            "copied from {} by `{}` after [{before}]",
                            field_name(from),
                            target_text(rule)
                        ),
                    );
                }
                self.rewrote(&mut it.b, line, &rw);
                it.b.rw = rw;
            }
            "NOTRACK" => {
                rw.map_conntrack(|_| 1);
                self.rewrote(&mut it.b, line, &rw);
                it.b.rw = rw;
            }
            "CT" => {
                if opt("--notrack").is_some() {
                    rw.map_conntrack(|_| 1);
                    self.rewrote(&mut it.b, line, &rw);
                    it.b.rw = rw;
                }
            }
            name if CONTINUING.contains(&name) => {}
            _ => {
                let v = Verdict::Unknown(format!("`{}` is not modelled", target_text(rule)));
                return ends(it.b, Some(v));
            }
        }
        it.rule += 1;
        Some(Ok(it))
    }

    fn rewrote(&self, b: &mut Branch, line: u32, rw: &Rewrites) {
        for d in [
            Dim::Src,
            Dim::Dst,
            Dim::SrcPort,
            Dim::DstPort,
            Dim::Mark,
            Dim::Connmark,
            Dim::Conntrack,
        ] {
            if b.rw.get(d) != rw.get(d) {
                b.rewritten_at.retain(|(e, _)| *e != d);
                b.rewritten_at.push((d, line));
            }
        }
        let family = self.ctx.family();
        self.note(b, || Step::Rewrite {
            line,
            what: rw.describe(family),
        });
    }
}

/// Where each table's `:NAME POLICY` lines are (1-based line numbers).
fn policy_lines(source: &str) -> HashMap<(TableName, &str), u32> {
    let mut out = HashMap::default();
    let mut table = None;
    for (i, line) in source.lines().enumerate() {
        let line = line.trim_start();
        if let Some(name) = line.strip_prefix('*') {
            table = TableName::parse(name.trim());
        } else if let (Some(t), Some(decl)) = (table, line.strip_prefix(':')) {
            let name = decl.split_whitespace().next().unwrap_or_default();
            out.entry((t, name)).or_insert(i as u32 + 1);
        }
    }
    out
}

/// `(mask, value)` of a MARK/CONNMARK option, as libxt_MARK turns it into
/// the kernel's `(mark & ~mask) ^ value`.
fn mark_op(o: &MatchOption) -> Option<(u32, u32)> {
    let Value::Mark(m) = &o.value else {
        return None;
    };
    Some(match o.name.as_str() {
        "--set-xmark" => (m.mask, m.value),
        "--set-mark" => (m.mask | m.value, m.value),
        "--and-mark" => (!m.value, 0),
        "--or-mark" => (m.value, m.value),
        "--xor-mark" => (0, m.value),
        _ => return None,
    })
}

/// `text` (the target's, for the label of a port iptlint cannot know) is
/// made only when needed.
fn nat_port(
    rw: &mut Rewrites,
    d: Dim,
    lo: u16,
    hi: u16,
    text: &impl std::ops::Deref<Target = String>,
) {
    if lo == hi {
        rw.assign(crate::model::Family::Ipv4, d, lo as u128);
    } else {
        rw.opaque(d, format!("a port in {lo}-{hi} ({})", **text));
    }
}

fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn addr_int(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(a) => u32::from(a) as u128,
        std::net::IpAddr::V6(a) => u128::from(a),
    }
}

/// `-j NAME options` of a rule.
fn target_text(rule: &Rule) -> String {
    rule.target_text()
}

/// The rule with its conditions and target taken away.
fn bare(rule: &Rule) -> Rule {
    let mut bare = Rule {
        source: None,
        destination: None,
        matches: crate::model::List::new(),
        target: None,
        ..rule.clone()
    };
    bare.set_protocol(None, "");
    bare.set_in_interface(None);
    bare.set_out_interface(None);
    bare.set_fragment(None);
    bare
}

/// Each condition of a rule on its own, with its text: the generic ones, and
/// each match with the rule's `-p` (which protocol matches need).
pub(crate) fn conditions(rule: &Rule) -> Vec<(String, Rule)> {
    let base = bare(rule);
    let mut out = Vec::new();
    let mut add = |r: Rule| {
        let text = r.spec_text();
        out.push((text, r));
    };
    if let Some(s) = &rule.source {
        add(Rule {
            source: Some(s.clone()),
            ..base.clone()
        });
    }
    if let Some(d) = &rule.destination {
        add(Rule {
            destination: Some(d.clone()),
            ..base.clone()
        });
    }
    let protocol_word = rule.protocol_written().unwrap_or("");
    if let Some(p) = &rule.protocol {
        let mut r = base.clone();
        r.set_protocol(Some(p.clone()), protocol_word);
        add(r);
    }
    if let Some(i) = rule.in_interface() {
        let mut r = base.clone();
        r.set_in_interface(Some(i.clone()));
        add(r);
    }
    if let Some(o) = rule.out_interface() {
        let mut r = base.clone();
        r.set_out_interface(Some(o.clone()));
        add(r);
    }
    if let Some(f) = rule.fragment() {
        let mut r = base.clone();
        r.set_fragment(Some(f.clone()));
        add(r);
    }
    for m in rule.matches.iter().filter(|m| !m.is_always_true()) {
        let mut r = Rule {
            matches: crate::model::list![m.clone()],
            ..base.clone()
        };
        r.set_protocol(rule.protocol.clone(), protocol_word);
        add(r);
    }
    out
}

/// The rule's conditions as iptables-save prints them, without `-j`.
pub(crate) fn spec_without_target(rule: &Rule) -> String {
    Rule {
        target: None,
        ..rule.clone()
    }
    .spec_text()
}

impl Path {
    /// The packets that can take the path: the devices its hooks have.
    pub fn universe(self, ctx: &SpaceContext) -> PacketSet {
        match self {
            Path::Input => ctx.hook_universe("INPUT"),
            Path::Forward => ctx.hook_universe("FORWARD"),
            Path::Output => ctx.hook_universe("OUTPUT"),
            Path::Hook(h) => ctx.hook_universe(h),
        }
    }
}
