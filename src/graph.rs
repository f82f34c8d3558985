//! The chain jump graph: one node per chain of every table, one edge per rule
//! that jumps (`-j CHAIN`) or goes (`-g CHAIN`) to a user chain of the same
//! table. Everything the structural lints need to know about how packets move
//! between chains is computed here once, in linear (or `n log n`) time and with
//! iterative walks only: a dump can nest chains 100,000 deep, and a recursive
//! walk would overflow the stack.
//!
//! - which hooks (builtin chains) reach each chain, and by which path: the
//!   kernel decides what a rule may do by the hooks that can reach its chain;
//! - for every hook the *reach line*: the smallest line `L` such that the
//!   rules on lines up to `L` already connect the hook to the chain. The nft
//!   backend checks the whole graph after every rule it adds, so it blames the
//!   rule on that line when a chain becomes reachable from a hook where one of
//!   its rules is not allowed;
//! - which chains always decide a packet's fate (a jump to them never comes
//!   back), and where each chain stops being reachable from its own top.
//!
//! Jumps to a name that is not a chain of the table, and jumps to builtin
//! chains (which the kernel refuses), are not edges: they are listed apart.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

// Hashing chain names and rules is on the hot path of every check: foldhash
// is several times faster than SipHash and still seeded per process, so a
// hostile dump cannot pick colliding names in advance.
use foldhash::HashMap;
use std::fmt::Write as _;

use petgraph::Direction;
use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::model::{Chain, HOOK_NAMES, JumpKind, Rule, Ruleset, Span, TableName, TargetKind};

/// A netfilter hook, by its position in [`HOOK_NAMES`].
pub type Hook = usize;

pub const PREROUTING: Hook = 0;
pub const INPUT: Hook = 1;
pub const FORWARD: Hook = 2;
pub const OUTPUT: Hook = 3;
pub const POSTROUTING: Hook = 4;

/// A set of hooks, one bit per [`Hook`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookSet(u8);

impl HookSet {
    pub const EMPTY: HookSet = HookSet(0);

    pub fn of(hooks: &[Hook]) -> HookSet {
        HookSet(hooks.iter().fold(0, |acc, h| acc | 1 << h))
    }

    pub fn contains(self, hook: Hook) -> bool {
        self.0 & (1 << hook) != 0
    }

    pub fn insert(&mut self, hook: Hook) {
        self.0 |= 1 << hook;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many hooks the set holds.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The set as a number below `2^HOOK_NAMES.len()`, bit `h` for hook `h`
    /// (an index into a table with one entry per set of hooks).
    pub fn bits(self) -> usize {
        self.0 as usize
    }

    /// Every set of hooks, [`HookSet::bits`] order.
    pub fn all() -> impl Iterator<Item = HookSet> {
        (0..1u8 << HOOK_NAMES.len()).map(HookSet)
    }

    pub fn is_subset(self, other: HookSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Hook> {
        (0..HOOK_NAMES.len()).filter(move |h| self.contains(*h))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(|h| HOOK_NAMES[h]).collect()
    }
}

/// The hook a builtin chain name stands for.
pub fn hook_of(name: &str) -> Option<Hook> {
    HOOK_NAMES.iter().position(|h| *h == name)
}

/// A chain: where it is in the ruleset. 8 bytes: a kube-proxy dump has
/// tens of thousands of chains, and the graph lives as long as the lints.
#[derive(Clone, Copy, Debug)]
pub struct ChainNode {
    /// Index into `Table::chains`.
    chain_index: u32,
    /// Index into `Ruleset::tables`.
    table_index: u16,
    table: TableName,
    /// The hook, for a builtin chain of its table; [`NO_HOOK`] for others.
    hook: u8,
}

const NO_HOOK: u8 = u8::MAX;

impl ChainNode {
    pub fn table(&self) -> TableName {
        self.table
    }

    /// Index into `Ruleset::tables`.
    pub fn table_index(&self) -> usize {
        self.table_index as usize
    }

    /// Index into `Table::chains`.
    pub fn chain_index(&self) -> usize {
        self.chain_index as usize
    }

    /// The hook, for a builtin chain of its table.
    pub fn hook(&self) -> Option<Hook> {
        (self.hook != NO_HOOK).then_some(self.hook as Hook)
    }
}

/// A rule that sends packets to another chain. Only what the walks over the
/// graph read for every edge is kept (8 bytes: a kube-proxy dump has a jump
/// for most of its rules); the kind of jump and the spans are the rule's
/// ([`JumpGraph::edge_rule`], [`JumpGraph::edge_kind`]).
#[derive(Clone, Copy, Debug)]
pub struct JumpEdge {
    /// 0-based index of the rule in its chain.
    rule: u32,
    /// The rule's line.
    line: u32,
}

impl JumpEdge {
    /// 0-based index of the rule in its chain.
    pub fn rule(&self) -> usize {
        self.rule as usize
    }

    pub fn line(&self) -> u32 {
        self.line
    }
}

/// A jump the graph has no edge for.
#[derive(Clone, Copy, Debug)]
pub struct StrayJump {
    pub from: NodeIndex,
    /// 0-based index of the rule in its chain.
    pub rule: usize,
}

/// How a hook reaches a chain: the smallest line by which the rules connect
/// them, and the last jump on a path that needs no later line.
#[derive(Clone, Copy, Debug)]
pub struct Reach {
    pub line: u32,
    /// `None` for the hook's own chain.
    pub via: Option<EdgeIndex>,
}

/// A [`Reach`] as the graph keeps it: 8 bytes, `via` [`NO_EDGE`] for `None`.
#[derive(Clone, Copy, Debug)]
struct StoredReach {
    line: u32,
    via: u32,
}

const NO_EDGE: u32 = u32::MAX;

impl StoredReach {
    fn get(self) -> Reach {
        Reach {
            line: self.line,
            via: (self.via != NO_EDGE).then(|| EdgeIndex::new(self.via as usize)),
        }
    }
}

/// "No rule" in the per-node `u32` tables.
const NO_RULE: u32 = u32::MAX;

/// What a rule does to the walk through its chain, when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// No target, or a target that lets the packet go on (LOG, MARK, ...), or
    /// a jump the graph cannot follow.
    Continue,
    /// A verdict that ends the table for the packet (ACCEPT, DROP, DNAT, ...).
    Verdict,
    /// RETURN.
    Return,
    Jump(NodeIndex),
    Goto(NodeIndex),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decides {
    Unknown,
    Yes,
    No,
}

/// The jump graph of a whole ruleset, with what the lints read from it.
///
/// It lives as long as the lints, next to the model, so what it keeps per
/// chain and per edge is kept small: nodes are numbered in file order
/// (tables, then chains), a node's outgoing edges are numbered one after
/// the other in rule order, and the per-node tables hold `u32`s.
pub struct JumpGraph<'a> {
    pub ruleset: &'a Ruleset,
    pub graph: DiGraph<ChainNode, JumpEdge>,
    /// Per table: the node of its first chain (the others follow in order).
    table_first: Vec<u32>,
    /// Per node: where its rules start among all the rules of the ruleset.
    first_rule: Vec<u32>,
    /// Per node, and one more: where its outgoing edges start (they are
    /// numbered in rule order, node after node).
    first_edge: Vec<u32>,
    /// Per node: the hooks that reach it.
    hook_sets: Vec<HookSet>,
    /// Per node: where its reaches start in `reaches`, one per hook of
    /// `hook_sets`, in hook order (most chains are reached by one or two
    /// hooks of five).
    first_reach: Vec<u32>,
    reaches: Vec<StoredReach>,
    decides: Vec<bool>,
    /// Per node: the first rule that every packet reaching it leaves the
    /// chain by, or [`NO_RULE`].
    exit: Vec<u32>,
    /// Jumps to a name that is no chain of the table.
    pub undefined: Vec<StrayJump>,
    /// Jumps to a builtin chain, which the kernel refuses.
    pub to_builtin: Vec<StrayJump>,
}

/// True when the rule certainly matches every packet that reaches it (see
/// [`Rule::is_unconditional`]: only `-m comment` counts as matching everything).
pub fn matches_every_packet(rule: &Rule) -> bool {
    rule.is_unconditional()
}

impl<'a> JumpGraph<'a> {
    pub fn build(ruleset: &'a Ruleset) -> JumpGraph<'a> {
        // Sized exactly: a kube-proxy dump has a jump for most of its rules,
        // and a doubling edge list would hold up to twice what it needs.
        let jumps = ruleset
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules)
            .filter(|r| r.jump_chain().is_some())
            .count();
        let mut graph = DiGraph::with_capacity(ruleset.chain_count(), jumps);
        let mut table_first = Vec::with_capacity(ruleset.tables.len());
        for (ti, table) in ruleset.tables.iter().enumerate() {
            table_first.push(index_u32(graph.node_count()));
            for (ci, chain) in table.chains.iter().enumerate() {
                let hook = if chain.builtin {
                    hook_of(&chain.name)
                } else {
                    None
                };
                graph.add_node(ChainNode {
                    chain_index: index_u32(ci),
                    table_index: u16::try_from(ti).expect("a ruleset has one table per name"),
                    table: table.name,
                    hook: hook.map_or(NO_HOOK, |h| h as u8),
                });
            }
        }
        let mut undefined = Vec::new();
        let mut to_builtin = Vec::new();
        let mut first_rule = Vec::with_capacity(graph.node_count());
        let mut first_edge = Vec::with_capacity(graph.node_count() + 1);
        let mut rules = 0;
        for (ti, table) in ruleset.tables.iter().enumerate() {
            // Only while building: `find` looks a name up in the model.
            let mut names: HashMap<&str, NodeIndex> =
                HashMap::with_capacity_and_hasher(table.chains.len(), Default::default());
            for (ci, chain) in table.chains.iter().enumerate() {
                let id = NodeIndex::new(table_first[ti] as usize + ci);
                names.entry(chain.name.as_str()).or_insert(id);
            }
            for (ci, chain) in table.chains.iter().enumerate() {
                let from = NodeIndex::new(table_first[ti] as usize + ci);
                first_rule.push(index_u32(rules));
                first_edge.push(index_u32(graph.edge_count()));
                rules += chain.rules.len();
                for (ri, rule) in chain.rules.iter().enumerate() {
                    let Some((name, _)) = rule.jump_chain() else {
                        continue;
                    };
                    let stray = StrayJump { from, rule: ri };
                    match names.get(name) {
                        None => undefined.push(stray),
                        Some(&to) if table.chains[graph[to].chain_index()].builtin => {
                            to_builtin.push(stray)
                        }
                        Some(&to) => {
                            graph.add_edge(
                                from,
                                to,
                                JumpEdge {
                                    rule: index_u32(ri),
                                    line: rule.span.line,
                                },
                            );
                        }
                    }
                }
            }
        }
        first_edge.push(index_u32(graph.edge_count()));
        let mut jg = JumpGraph {
            ruleset,
            decides: vec![false; graph.node_count()],
            exit: Vec::new(),
            hook_sets: Vec::new(),
            first_reach: Vec::new(),
            reaches: Vec::new(),
            graph,
            table_first,
            first_rule,
            first_edge,
            undefined,
            to_builtin,
        };
        jg.compute_reach();
        jg.compute_decides();
        jg.compute_exits();
        jg
    }

    // -----------------------------------------------------------------------------------------
    // Looking things up
    // -----------------------------------------------------------------------------------------

    pub fn node(&self, table_index: usize, chain_index: usize) -> NodeIndex {
        debug_assert!(chain_index < self.ruleset.tables[table_index].chains.len());
        NodeIndex::new(self.table_first[table_index] as usize + chain_index)
    }

    /// The chain named `name` in the table at `table_index` (a walk over
    /// the table's chains: the graph keeps no map of names).
    pub fn find(&self, table_index: usize, name: &str) -> Option<NodeIndex> {
        let ci = self.ruleset.tables[table_index]
            .chains
            .iter()
            .position(|c| c.name == name)?;
        Some(self.node(table_index, ci))
    }

    /// The span of the rule that makes the jump.
    pub fn edge_span(&self, edge: EdgeIndex) -> Span {
        self.edge_rule(edge).1.span
    }

    /// The `-j NAME` / `-g NAME` part of the rule that makes the jump.
    pub fn edge_target_span(&self, edge: EdgeIndex) -> Span {
        let rule = self.edge_rule(edge).1;
        rule.target_span()
    }

    /// Whether the edge is a jump (`-j`) or a goto (`-g`).
    pub fn edge_kind(&self, edge: EdgeIndex) -> JumpKind {
        let rule = self.edge_rule(edge).1;
        rule.target.as_ref().expect("a jump has a target").jump
    }

    pub fn chain(&self, node: NodeIndex) -> &'a Chain {
        let n = self.graph[node];
        &self.ruleset.tables[n.table_index()].chains[n.chain_index()]
    }

    pub fn table(&self, node: NodeIndex) -> TableName {
        self.graph[node].table
    }

    /// The position of rule `rule` of `node` among all the rules of the
    /// ruleset, tables, chains and rules in file order: an index for tables
    /// with one entry per rule.
    pub fn rule_index(&self, node: NodeIndex, rule: usize) -> usize {
        self.first_rule[node.index()] as usize + rule
    }

    pub fn rule(&self, node: NodeIndex, rule: usize) -> &'a Rule {
        &self.chain(node).rules[rule]
    }

    /// The rule that makes an edge.
    pub fn edge_rule(&self, edge: EdgeIndex) -> (NodeIndex, &'a Rule) {
        let (from, _) = self.graph.edge_endpoints(edge).expect("edge exists");
        (from, self.rule(from, self.graph[edge].rule()))
    }

    /// The edge rule `rule` of `node` makes, if it jumps or goes to a user
    /// chain of the table.
    fn edge_of_rule(&self, node: NodeIndex, rule: usize) -> Option<EdgeIndex> {
        let (start, end) = (
            self.first_edge[node.index()] as usize,
            self.first_edge[node.index() + 1] as usize,
        );
        let edges = &self.graph.raw_edges()[start..end];
        let i = edges
            .binary_search_by_key(&rule, |e| e.weight.rule())
            .ok()?;
        Some(EdgeIndex::new(start + i))
    }

    /// The jumps and gotos that lead to a chain, in file order.
    pub fn jumps_into(&self, node: NodeIndex) -> Vec<EdgeIndex> {
        let mut edges: Vec<EdgeIndex> = self
            .graph
            .edges_directed(node, Direction::Incoming)
            .map(|e| e.id())
            .collect();
        edges.sort_by_key(|e| self.edge_span(*e).start);
        edges
    }

    // -----------------------------------------------------------------------------------------
    // Reachability
    // -----------------------------------------------------------------------------------------

    /// The hooks that can send a packet into this chain.
    pub fn hooks(&self, node: NodeIndex) -> HookSet {
        self.hook_sets[node.index()]
    }

    /// True when some builtin chain reaches this chain (or it is one).
    pub fn is_reachable(&self, node: NodeIndex) -> bool {
        !self.hooks(node).is_empty()
    }

    pub fn reach(&self, node: NodeIndex, hook: Hook) -> Option<Reach> {
        let hooks = self.hook_sets[node.index()];
        if !hooks.contains(hook) {
            return None;
        }
        let before = (hooks.bits() & ((1 << hook) - 1)).count_ones() as usize;
        Some(self.reaches[self.first_reach[node.index()] as usize + before].get())
    }

    /// The reaches of a node, one per hook of [`JumpGraph::hooks`].
    fn reaches_of(&self, node: NodeIndex) -> &[StoredReach] {
        let start = self.first_reach[node.index()] as usize;
        &self.reaches[start..start + self.hook_sets[node.index()].len()]
    }

    /// The earliest line by which any hook reaches this chain.
    pub fn reach_line(&self, node: NodeIndex) -> Option<u32> {
        self.reaches_of(node).iter().map(|r| r.line).min()
    }

    /// The last jumps (at most `limit`) on the path by which `hook` reaches
    /// the chain, first jump first, and whether that is the whole path. The
    /// walk is bounded: a chain can be 100,000 jumps deep.
    pub fn path_from(&self, hook: Hook, node: NodeIndex, limit: usize) -> (Vec<EdgeIndex>, bool) {
        let mut path = Vec::new();
        let mut at = node;
        let mut complete = true;
        while let Some(Reach {
            via: Some(edge), ..
        }) = self.reach(at, hook)
        {
            if path.len() == limit {
                complete = false;
                break;
            }
            path.push(edge);
            at = self.graph.edge_endpoints(edge).expect("edge exists").0;
        }
        path.reverse();
        (path, complete)
    }

    /// The jump on the path from `hook` that the chain's reach line comes
    /// from: the rule that, when added, first connected the hook to the chain.
    /// `None` for the hook's own chain.
    pub fn connecting_jump(&self, hook: Hook, node: NodeIndex) -> Option<EdgeIndex> {
        let line = self.reach(node, hook)?.line;
        let mut at = node;
        // Reach lines never grow walking back towards the hook; the jump on
        // `line` is the last one whose source was reached earlier.
        while let Some(Reach {
            via: Some(edge), ..
        }) = self.reach(at, hook)
        {
            let from = self.graph.edge_endpoints(edge).expect("edge exists").0;
            let from_line = self.reach(from, hook).map_or(0, |r| r.line);
            if self.graph[edge].line() == line && from_line <= line {
                return Some(edge);
            }
            at = from;
        }
        None
    }

    /// Bottleneck shortest paths, once per hook: `reach[v][h].line` is the
    /// smallest over all paths from `h` to `v` of the largest rule line on
    /// the path. Dijkstra with `max` in place of `+`.
    ///
    /// The walks fill a table of every hook for every node; what is kept is
    /// only the hooks that reach each node.
    fn compute_reach(&mut self) {
        const UNREACHED: StoredReach = StoredReach {
            line: u32::MAX,
            via: NO_EDGE,
        };
        let n = self.graph.node_count();
        // Per hook: every node's reach.
        let mut columns = vec![vec![UNREACHED; n]; HOOK_NAMES.len()];
        for (hook, reach) in columns.iter_mut().enumerate() {
            let mut heap = BinaryHeap::new();
            for node in self.graph.node_indices() {
                if self.graph[node].hook() == Some(hook) {
                    reach[node.index()] = StoredReach {
                        line: 0,
                        via: NO_EDGE,
                    };
                    heap.push(Reverse((0u32, node.index() as u32)));
                }
            }
            while let Some(Reverse((line, at))) = heap.pop() {
                let at = NodeIndex::new(at as usize);
                if reach[at.index()].line < line {
                    continue;
                }
                for e in self.graph.edges(at) {
                    let to = e.target();
                    let cand = line.max(e.weight().line());
                    // `u32::MAX` is no line of a file under 4 GiB: unreached.
                    if cand < reach[to.index()].line && self.graph[to].hook().is_none() {
                        reach[to.index()] = StoredReach {
                            line: cand,
                            via: index_u32(e.id().index()),
                        };
                        heap.push(Reverse((cand, to.index() as u32)));
                    }
                }
            }
        }
        self.hook_sets = Vec::with_capacity(n);
        self.first_reach = Vec::with_capacity(n);
        self.reaches = Vec::new();
        for node in 0..n {
            let mut hooks = HookSet::EMPTY;
            self.first_reach.push(index_u32(self.reaches.len()));
            for (hook, reach) in columns.iter().enumerate() {
                if reach[node].line != u32::MAX {
                    hooks.insert(hook);
                    self.reaches.push(reach[node]);
                }
            }
            self.hook_sets.push(hooks);
        }
        self.reaches.shrink_to_fit();
    }

    // -----------------------------------------------------------------------------------------
    // What rules and chains do to a packet
    // -----------------------------------------------------------------------------------------

    /// What a rule (0-based index in its chain) does when it matches.
    pub fn flow(&self, node: NodeIndex, rule: usize) -> Flow {
        let Some(target) = &self.rule(node, rule).target else {
            return Flow::Continue;
        };
        match &target.kind {
            TargetKind::Return => Flow::Return,
            TargetKind::Chain => match self.edge_of_rule(node, rule) {
                Some(e) => {
                    let to = self.graph.raw_edges()[e.index()].target();
                    match target.jump {
                        JumpKind::Jump => Flow::Jump(to),
                        JumpKind::Goto => Flow::Goto(to),
                    }
                }
                // An undefined chain or a builtin one: refused, nothing to follow.
                None => Flow::Continue,
            },
            kind if kind.is_terminal_verdict(&target.name) => Flow::Verdict,
            _ => Flow::Continue,
        }
    }

    /// True when every packet that enters the chain gets its verdict there
    /// (or in a chain it passes to), so a jump to it never comes back.
    /// Conservative: `false` when iptlint cannot be sure.
    pub fn always_decides(&self, node: NodeIndex) -> bool {
        self.decides[node.index()]
    }

    /// The first rule (0-based) by which every packet that reaches it leaves
    /// the chain: an unconditional verdict, RETURN, goto, or jump to a chain
    /// that always decides. The rules after it never see a packet.
    pub fn exit_rule(&self, node: NodeIndex) -> Option<usize> {
        let r = self.exit[node.index()];
        (r != NO_RULE).then_some(r as usize)
    }

    /// True when the rule (0-based index) leaves the chain for every packet
    /// it sees.
    pub fn always_leaves(&self, node: NodeIndex, rule: usize) -> bool {
        matches_every_packet(self.rule(node, rule))
            && match self.flow(node, rule) {
                Flow::Verdict | Flow::Return | Flow::Goto(_) => true,
                Flow::Jump(to) => self.decides[to.index()],
                Flow::Continue => false,
            }
    }

    /// A least fixpoint over the graph with a cursor per chain, so every rule
    /// is looked at a bounded number of times. A chain decides when it reaches
    /// an unconditional verdict (or an unconditional jump/goto to a chain that
    /// decides) before anything that could return: a RETURN, or a goto to a
    /// chain that might return (the return would leave this chain too).
    fn compute_decides(&mut self) {
        let n = self.graph.node_count();
        let mut state = vec![Decides::Unknown; n];
        let mut cursor = vec![0usize; n];
        let mut waiters: Vec<Vec<NodeIndex>> = vec![Vec::new(); n];
        let mut work: Vec<NodeIndex> = self.graph.node_indices().collect();
        while let Some(c) = work.pop() {
            if state[c.index()] != Decides::Unknown {
                continue;
            }
            let chain = self.chain(c);
            let mut outcome = None;
            while cursor[c.index()] < chain.rules.len() {
                let rule = &chain.rules[cursor[c.index()]];
                let every = matches_every_packet(rule);
                let flow = self.flow(c, cursor[c.index()]);
                let is_goto = matches!(flow, Flow::Goto(_));
                match flow {
                    Flow::Continue => {}
                    Flow::Verdict if every => outcome = Some(Decides::Yes),
                    Flow::Verdict => {}
                    Flow::Return => outcome = Some(Decides::No),
                    Flow::Goto(x) | Flow::Jump(x) => match (state[x.index()], every) {
                        (Decides::Yes, true) => outcome = Some(Decides::Yes),
                        (Decides::Yes, false) => {}
                        // A chain that jumps to itself loops: the kernel refuses it.
                        (Decides::Unknown, _) if x == c => outcome = Some(Decides::No),
                        // Wait for `x` when its answer decides ours.
                        (Decides::Unknown, _) if is_goto || every => {
                            waiters[x.index()].push(c);
                            break;
                        }
                        (Decides::Unknown, _) => {}
                        // A goto to a chain that may return returns from here too.
                        (Decides::No, _) if is_goto => outcome = Some(Decides::No),
                        (Decides::No, _) => {}
                    },
                }
                if outcome.is_some() {
                    break;
                }
                cursor[c.index()] += 1;
            }
            if outcome.is_none() && cursor[c.index()] >= chain.rules.len() {
                outcome = Some(Decides::No);
            }
            if let Some(o) = outcome {
                state[c.index()] = o;
                work.append(&mut waiters[c.index()]);
            }
        }
        self.decides = state.iter().map(|s| *s == Decides::Yes).collect();
    }

    fn compute_exits(&mut self) {
        self.exit = self
            .graph
            .node_indices()
            .map(|node| {
                (0..self.chain(node).rules.len())
                    .find(|r| self.always_leaves(node, *r))
                    .map_or(NO_RULE, index_u32)
            })
            .collect();
    }

    // -----------------------------------------------------------------------------------------
    // Cycles
    // -----------------------------------------------------------------------------------------

    /// Every set of chains that jump to each other in a circle (strongly
    /// connected components with a cycle), each sorted by node.
    ///
    /// Only the chains left after taking away, again and again, those no
    /// jump leads to (no loop goes through them) are split into components:
    /// most graphs have no loop, and a list per chain of a kube dump is a
    /// megabyte.
    pub fn cycles(&self) -> Vec<Vec<NodeIndex>> {
        let n = self.graph.node_count();
        let mut indegree = vec![0u32; n];
        for e in self.graph.raw_edges() {
            indegree[e.target().index()] += 1;
        }
        let mut work: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|v| indegree[v.index()] == 0)
            .collect();
        while let Some(v) = work.pop() {
            for e in self.graph.edges(v) {
                let t = e.target();
                indegree[t.index()] -= 1;
                if indegree[t.index()] == 0 {
                    work.push(t);
                }
            }
        }
        // What is left: the chains on a loop, and those a loop leads to.
        let left: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|v| indegree[v.index()] > 0)
            .collect();
        if left.is_empty() {
            return Vec::new();
        }
        drop(indegree);
        let inside: HashMap<NodeIndex, u32> = left
            .iter()
            .enumerate()
            .map(|(i, v)| (*v, i as u32))
            .collect();
        let mut sub: DiGraph<(), ()> = DiGraph::with_capacity(left.len(), 0);
        for _ in &left {
            sub.add_node(());
        }
        for (i, v) in left.iter().enumerate() {
            for e in self.graph.edges(*v) {
                if let Some(&t) = inside.get(&e.target()) {
                    sub.add_edge(NodeIndex::new(i), NodeIndex::new(t as usize), ());
                }
            }
        }
        let mut out: Vec<Vec<NodeIndex>> = kosaraju_scc(&sub)
            .into_iter()
            .map(|scc| scc.into_iter().map(|v| left[v.index()]).collect::<Vec<_>>())
            .filter(|scc| scc.len() > 1 || self.graph.edges(scc[0]).any(|e| e.target() == scc[0]))
            .map(|mut scc| {
                scc.sort();
                scc
            })
            .collect();
        out.sort();
        out
    }

    /// For a cycle that a hook reaches: the smallest line by which the rules
    /// up to it make a reachable loop inside `scc` (what the nft backend
    /// blames), and the loop as it stands then, edges in order, starting at a
    /// chain a hook reaches by that line. `None` when no hook reaches it.
    pub fn closing_loop(&self, scc: &[NodeIndex]) -> Option<(u32, Vec<EdgeIndex>)> {
        let inside: HashMap<NodeIndex, usize> =
            scc.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let edges: Vec<EdgeIndex> = scc
            .iter()
            .flat_map(|n| self.graph.edges(*n))
            .filter(|e| inside.contains_key(&e.target()))
            .map(|e| e.id())
            .collect();
        let mut lines: Vec<u32> = edges.iter().map(|e| self.graph[*e].line()).collect();
        lines.extend(scc.iter().filter_map(|n| self.reach_line(*n)));
        lines.sort_unstable();
        lines.dedup();
        // `lines` holds every line at which the answer can change.
        let last = *lines.last()?;
        self.loop_by(scc, &inside, &edges, last)?;
        let (mut lo, mut hi) = (0usize, lines.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.loop_by(scc, &inside, &edges, lines[mid]).is_some() {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let line = lines[lo];
        self.loop_by(scc, &inside, &edges, line)
            .map(|cycle| (line, cycle))
    }

    /// A loop in `scc` made of edges on lines up to `line`, through a chain
    /// that a hook reaches by `line`.
    fn loop_by(
        &self,
        scc: &[NodeIndex],
        inside: &HashMap<NodeIndex, usize>,
        edges: &[EdgeIndex],
        line: u32,
    ) -> Option<Vec<EdgeIndex>> {
        let mut sub: DiGraph<(), EdgeIndex> = DiGraph::with_capacity(scc.len(), edges.len());
        for _ in scc {
            sub.add_node(());
        }
        for e in edges.iter().filter(|e| self.graph[**e].line() <= line) {
            let (a, b) = self.graph.edge_endpoints(*e).expect("edge exists");
            sub.add_edge(NodeIndex::new(inside[&a]), NodeIndex::new(inside[&b]), *e);
        }
        for comp in kosaraju_scc(&sub) {
            let cyclic = comp.len() > 1 || sub.edges(comp[0]).any(|e| e.target() == comp[0]);
            if !cyclic {
                continue;
            }
            let Some(start) = comp
                .iter()
                .copied()
                .filter(|n| self.reach_line(scc[n.index()]).is_some_and(|l| l <= line))
                .min_by_key(|n| (self.reach_line(scc[n.index()]), n.index()))
            else {
                continue;
            };
            return Some(cycle_through(&sub, &comp, start));
        }
        None
    }

    /// Any loop in `scc`, for cycles no hook reaches.
    pub fn any_loop(&self, scc: &[NodeIndex]) -> Vec<EdgeIndex> {
        let inside: HashMap<NodeIndex, usize> =
            scc.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut sub: DiGraph<(), EdgeIndex> = DiGraph::new();
        for _ in scc {
            sub.add_node(());
        }
        for n in scc {
            for e in self.graph.edges(*n) {
                if let Some(&b) = inside.get(&e.target()) {
                    sub.add_edge(NodeIndex::new(inside[n]), NodeIndex::new(b), e.id());
                }
            }
        }
        let all: Vec<NodeIndex> = sub.node_indices().collect();
        cycle_through(&sub, &all, NodeIndex::new(0))
    }

    // -----------------------------------------------------------------------------------------
    // Depth
    // -----------------------------------------------------------------------------------------

    /// The longest chain of jumps from a hook to each chain that hooks reach,
    /// when the reachable graph has no cycle (`None` when it has one).
    /// `edge_limit` leaves out rules after that line.
    pub fn depths(&self, edge_limit: u32) -> Option<Vec<(u32, Option<EdgeIndex>)>> {
        let n = self.graph.node_count();
        let reachable = |v: NodeIndex| self.reach_line(v).is_some_and(|l| l <= edge_limit);
        let usable = |e: &petgraph::graph::EdgeReference<'_, JumpEdge>| {
            e.weight().line() <= edge_limit && reachable(e.source())
        };
        let mut indegree = vec![0usize; n];
        for e in self.graph.edge_references().filter(|e| usable(e)) {
            indegree[e.target().index()] += 1;
        }
        let mut depth: Vec<(u32, Option<EdgeIndex>)> = vec![(0, None); n];
        let mut queue: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|v| reachable(*v) && indegree[v.index()] == 0)
            .collect();
        let mut seen = 0usize;
        while let Some(v) = queue.pop() {
            seen += 1;
            for e in self.graph.edges(v).filter(|e| usable(e)) {
                let t = e.target();
                if depth[v.index()].0 + 1 > depth[t.index()].0 {
                    depth[t.index()] = (depth[v.index()].0 + 1, Some(e.id()));
                }
                indegree[t.index()] -= 1;
                if indegree[t.index()] == 0 {
                    queue.push(t);
                }
            }
        }
        let total = self.graph.node_indices().filter(|v| reachable(*v)).count();
        (seen == total).then_some(depth)
    }

    // -----------------------------------------------------------------------------------------
    // Output
    // -----------------------------------------------------------------------------------------

    fn table_selected(&self, node: NodeIndex, only: Option<TableName>) -> bool {
        only.is_none_or(|t| self.graph[node].table() == t)
    }

    /// Graphviz DOT: builtin chains are entry points (boxes, top rank), goto
    /// edges dashed, unreachable chains grey and dashed, empty chains marked.
    /// Edge labels are 1-based rule numbers (`#3`).
    pub fn to_dot(&self, only: Option<TableName>) -> String {
        let mut out = String::from(
            "digraph iptables {\n    rankdir=LR;\n    node [fontname=\"monospace\"];\n",
        );
        for (ti, table) in self.ruleset.tables.iter().enumerate() {
            if only.is_some_and(|t| t != table.name) {
                continue;
            }
            let _ = writeln!(out, "    subgraph \"cluster_{}\" {{", table.name);
            let _ = writeln!(out, "        label=\"{}\";", table.name);
            let mut entries = Vec::new();
            for (ci, chain) in table.chains.iter().enumerate() {
                let node = self.node(ti, ci);
                let id = dot_id(table.name, &chain.name);
                let mut label = dot_escape(&chain.name);
                let mut attrs = Vec::new();
                if self.graph[node].hook().is_some() {
                    attrs.push("shape=box".to_string());
                    attrs.push("style=bold".to_string());
                    if let Some(p) = chain.policy {
                        label.push_str(&format!("\\npolicy {}", p.as_str()));
                    }
                    entries.push(id.clone());
                } else if !self.is_reachable(node) {
                    attrs.push("style=dashed".to_string());
                    attrs.push("color=grey50".to_string());
                    attrs.push("fontcolor=grey50".to_string());
                    label.push_str("\\n(unreachable)");
                }
                if chain.rules.is_empty() && self.graph[node].hook().is_none() {
                    label.push_str("\\n(empty)");
                }
                attrs.insert(0, format!("label=\"{label}\""));
                let _ = writeln!(out, "        {id} [{}];", attrs.join(", "));
            }
            if !entries.is_empty() {
                let _ = writeln!(out, "        {{ rank=source; {}; }}", entries.join("; "));
            }
            out.push_str("    }\n");
        }
        for e in self.graph.edge_references() {
            if !self.table_selected(e.source(), only) {
                continue;
            }
            let table = self.graph[e.source()].table();
            let from = dot_id(table, &self.chain(e.source()).name);
            let to = dot_id(table, &self.chain(e.target()).name);
            let style = match self.edge_kind(e.id()) {
                JumpKind::Jump => "",
                JumpKind::Goto => ", style=dashed",
            };
            let _ = writeln!(
                out,
                "    {from} -> {to} [label=\"#{}\"{style}];",
                e.weight().rule() + 1
            );
        }
        out.push_str("}\n");
        out
    }

    /// The graph as JSON for tools (version 1; fields may be added, never
    /// renamed or removed).
    pub fn to_json(&self, only: Option<TableName>) -> String {
        #[derive(Serialize)]
        struct Out<'x> {
            version: u32,
            tables: Vec<TableOut<'x>>,
        }
        #[derive(Serialize)]
        struct TableOut<'x> {
            name: &'static str,
            chains: Vec<ChainOut<'x>>,
            edges: Vec<EdgeOut<'x>>,
        }
        #[derive(Serialize)]
        struct ChainOut<'x> {
            name: &'x str,
            builtin: bool,
            line: u32,
            rules: usize,
            reachable: bool,
            hooks: Vec<&'static str>,
            empty: bool,
            always_decides: bool,
        }
        #[derive(Serialize)]
        struct EdgeOut<'x> {
            from: &'x str,
            to: &'x str,
            kind: &'static str,
            rule: usize,
            line: u32,
        }
        let mut tables = Vec::new();
        for (ti, table) in self.ruleset.tables.iter().enumerate() {
            if only.is_some_and(|t| t != table.name) {
                continue;
            }
            let mut chains = Vec::new();
            let mut edges = Vec::new();
            for (ci, chain) in table.chains.iter().enumerate() {
                let node = self.node(ti, ci);
                chains.push(ChainOut {
                    name: &chain.name,
                    builtin: self.graph[node].hook().is_some(),
                    line: chain.span.line,
                    rules: chain.rules.len(),
                    reachable: self.is_reachable(node),
                    hooks: self.hooks(node).names(),
                    empty: chain.rules.is_empty(),
                    always_decides: self.always_decides(node),
                });
                let mut out_edges: Vec<_> = self.graph.edges(node).collect();
                out_edges.sort_by_key(|e| e.weight().rule());
                for e in out_edges {
                    edges.push(EdgeOut {
                        from: &chain.name,
                        to: &self.chain(e.target()).name,
                        kind: match self.edge_kind(e.id()) {
                            JumpKind::Jump => "jump",
                            JumpKind::Goto => "goto",
                        },
                        rule: e.weight().rule() + 1,
                        line: e.weight().line(),
                    });
                }
            }
            tables.push(TableOut {
                name: table.name.as_str(),
                chains,
                edges,
            });
        }
        let mut s = serde_json::to_string_pretty(&Out { version: 1, tables })
            .expect("the graph serializes");
        s.push('\n');
        s
    }
}

/// A cycle through `start` inside the strongly connected component `comp` of
/// `sub`, as the original edges (the weights of `sub`), found by an iterative
/// breadth-first walk back to `start`.
fn cycle_through(
    sub: &DiGraph<(), EdgeIndex>,
    comp: &[NodeIndex],
    start: NodeIndex,
) -> Vec<EdgeIndex> {
    let mut in_comp = vec![false; sub.node_count()];
    for n in comp {
        in_comp[n.index()] = true;
    }
    let mut parent: Vec<Option<petgraph::graph::EdgeIndex>> = vec![None; sub.node_count()];
    let mut seen = vec![false; sub.node_count()];
    let mut queue = std::collections::VecDeque::from([start]);
    let mut closing = None;
    while let Some(v) = queue.pop_front() {
        let mut outgoing: Vec<_> = sub.edges(v).collect();
        outgoing.sort_by_key(|e| e.id());
        for e in outgoing {
            let t = e.target();
            if !in_comp[t.index()] {
                continue;
            }
            if t == start {
                closing = Some(e.id());
                break;
            }
            if !seen[t.index()] {
                seen[t.index()] = true;
                parent[t.index()] = Some(e.id());
                queue.push_back(t);
            }
        }
        if closing.is_some() {
            break;
        }
    }
    let Some(last) = closing else {
        return Vec::new();
    };
    let mut path = vec![sub[last]];
    let mut at = sub.edge_endpoints(last).expect("edge exists").0;
    while at != start {
        let e = parent[at.index()].expect("walked from start");
        path.push(sub[e]);
        at = sub.edge_endpoints(e).expect("edge exists").0;
    }
    path.reverse();
    path
}

/// A count or position that fits in 32 bits: spans are 32-bit byte offsets,
/// so a ruleset has fewer than 2^32 chains, rules and jumps.
fn index_u32(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 chains, rules and jumps")
}

fn dot_id(table: TableName, chain: &str) -> String {
    format!("\"{}/{}\"", table, dot_escape(chain))
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
