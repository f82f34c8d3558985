//! Packets that surely reach a rule and match it: the live side of the
//! dead-rule analysis.
//!
//! The dead-rule lints prove "no packet gets here" with over-approximations
//! (`may` sets, entry sets that only grow). This module answers the opposite
//! question with under-approximations: for a rule, a set of packets each of
//! which certainly walks to the rule and matches it. A test sends one of them
//! through a real kernel and expects the rule's counter to move; `trace` can
//! show one as an example.
//!
//! # The walk, and why it is sound
//!
//! Packets start at a builtin chain of one table, from a set the caller gives
//! (every packet of the hook, or only those a test bench can produce),
//! intersected with [`SpaceContext::hook_universe`]. The chain's rules are
//! read in order, keeping `rest`: the start packets that certainly got this
//! far unchanged.
//!
//! - `sure(R) = rest ∩ must(R)`: a packet of `rest` is at `R` as it entered,
//!   and `must(R)` under-approximates what `R` matches, so it matches `R`.
//! - Then, unless `R` only lets its packets go on unchanged (no target, or a
//!   logging target), `rest = rest − may(R)`: `may(R)` over-approximates what
//!   `R` matches, so every packet left in `rest` was not matched by `R` and
//!   was neither decided, sent elsewhere nor rewritten by it.
//! - A jump or goto `R` to a user chain enters that chain with `sure(R)`: a
//!   jump does not change the packet, so the same walk applies there. The
//!   walk of the user chain also gives the packets that surely come back
//!   unchanged: those a RETURN surely matches, those left in its `rest` at
//!   its end, and those that surely come back from a chain it goes to with
//!   `-g`. After a jump (not a goto) they are added back to `rest`: they
//!   surely matched `R`, went through the chain untouched and go on with the
//!   rule after `R`.
//! - Packets an ACCEPT rule surely matches, and those that surely reach the
//!   end of the builtin chain (or a RETURN in it) when its policy is ACCEPT,
//!   leave the table accepted and unchanged: [`SureReach::accepted`]. A
//!   caller can start the next table or hook of their way with them.
//!
//! A rule with a condition iptlint does not model has an empty `must`, so it
//! gets no sure packets, and its `may` still removes what it might match
//! from `rest`. A target that rewrites the packet (MARK, ...) ends the walk
//! for what it may match: the packet that goes on is no longer the one that
//! entered, and the walk only speaks of packets as they entered.
//!
//! # What it assumes
//!
//! Only the table walked is looked at: the packets are assumed to arrive at
//! its builtin chain as the start set says, so other tables of the same hook
//! must not drop or rewrite them first (a test bench loads only this table).
//!
//! # Limits
//!
//! User chains are followed [`MAX_DEPTH`] jumps deep, never into a chain that
//! is already on the path (iptables refuses loops anyway). When `rest` splits
//! into more than [`MAX_PIECES`] pieces, the rest of that chain gets no sure
//! packets on this path. Both only make the result smaller: a rule without
//! sure packets may still be live; a rule with sure packets is live.
//!
//! A user chain is walked once per path that surely reaches it, so the cost
//! grows with the number of jump sites along the paths, not only with the
//! number of rules.

use crate::model::{JumpKind, Policy, Ruleset, TargetKind};
use crate::space::{Packet, PacketSet, SpaceContext, rule_match_space};

/// User-chain jumps followed at most from a builtin chain.
pub const MAX_DEPTH: usize = 16;
/// Pieces `rest` may have before the walk of a chain stops.
pub const MAX_PIECES: usize = 2048;

/// Packets that surely get to a rule from one hook and match it.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The builtin chain the packets start from (`INPUT`, `FORWARD`, ...).
    pub hook: String,
    /// Every packet of the set, entering `hook`, walks to the rule unchanged
    /// and matches it.
    pub packets: PacketSet,
}

/// What [`sure_reach`] finds in one table.
#[derive(Clone, Debug)]
pub struct SureReach {
    /// Per chain of the table (indexes as in `Table::chains`) and rule: the
    /// packets that surely reach the rule and match it, one [`Reach`] per
    /// hook they can come from.
    pub rules: Vec<Vec<Vec<Reach>>>,
    /// Per chain: for a builtin chain that was walked, the start packets
    /// that surely leave the table accepted and unchanged (an ACCEPT rule
    /// in it or in a chain it sends them to surely matches them, or they
    /// surely meet its ACCEPT policy). They go on to the next table or hook
    /// exactly as they came, so they can start the walk there.
    pub accepted: Vec<Option<PacketSet>>,
}

/// The packets that surely reach each rule of table `table` of the ruleset
/// and match it, and those each builtin chain surely accepts unchanged.
///
/// `start` gives, per builtin chain, the packets to start with (`None`: the
/// chain is not walked); they are intersected with the hook's packets.
/// Build `ctx` from the ruleset (plus any interface names the caller wants in
/// its witnesses), as [`SpaceContext::new`] describes.
pub fn sure_reach(
    ruleset: &Ruleset,
    table: usize,
    ctx: &SpaceContext,
    start: impl Fn(&str) -> Option<PacketSet>,
) -> SureReach {
    let table = &ruleset.tables[table];
    let mut out: Vec<Vec<Vec<Reach>>> = table
        .chains
        .iter()
        .map(|c| vec![Vec::new(); c.rules.len()])
        .collect();
    let mut accepted: Vec<Option<PacketSet>> = vec![None; table.chains.len()];
    let walker = Walker {
        table: &table.chains,
        ctx,
    };
    for (ci, chain) in table.chains.iter().enumerate() {
        if !chain.builtin {
            continue;
        }
        let Some(set) = start(&chain.name) else {
            continue;
        };
        let entry = set.intersect(&ctx.hook_universe(&chain.name));
        let mut path = vec![ci];
        let mut took = ctx.empty();
        // What comes back to a builtin chain's end meets its policy.
        let policy = walker.walk(&chain.name, ci, entry, &mut path, &mut out, &mut took);
        if chain.policy == Some(Policy::Accept) {
            took = took.union(&policy);
        }
        accepted[ci] = Some(took);
    }
    SureReach {
        rules: out,
        accepted,
    }
}

/// A packet of `reaches` (the first hook that has one), as close to
/// `preferred` as the set allows.
pub fn witness<'r>(
    reaches: &'r [Reach],
    ctx: &SpaceContext,
    preferred: &Packet,
) -> Option<(&'r str, Packet)> {
    reaches.iter().find_map(|r| {
        r.packets
            .witness_near(ctx, preferred)
            .map(|p| (r.hook.as_str(), p))
    })
}

struct Walker<'a> {
    table: &'a [crate::model::Chain],
    ctx: &'a SpaceContext,
}

impl Walker<'_> {
    /// Walks chain `ci` with the packets `entry` that surely enter it from
    /// `hook` unchanged. Returns the packets of `entry` that surely come back
    /// from it unchanged, to the rule after the jump that called it: those
    /// a RETURN surely matches, those that surely fall off its end, and those
    /// that surely come back from a chain it goes to (`-g`). Adds the
    /// packets an ACCEPT rule surely matches to `accepted`.
    fn walk(
        &self,
        hook: &str,
        ci: usize,
        entry: PacketSet,
        path: &mut Vec<usize>,
        out: &mut [Vec<Vec<Reach>>],
        accepted: &mut PacketSet,
    ) -> PacketSet {
        let chain = &self.table[ci];
        let mut back = self.ctx.empty();
        let mut rest = entry;
        for (ri, rule) in chain.rules.iter().enumerate() {
            if rest.is_empty() {
                return back;
            }
            let space = rule_match_space(rule, self.ctx);
            let sure = rest.intersect(space.must());
            // Packets the rule surely sends away and that surely come back
            // unchanged to the next rule.
            let mut returned = self.ctx.empty();
            if !sure.is_empty() {
                record(&mut out[ci][ri], hook, &sure);
                let target = rule.target.as_ref();
                if target.is_some_and(|t| t.kind == TargetKind::Return) {
                    back = back.union(&sure);
                } else if target.is_some_and(|t| t.kind == TargetKind::Accept) {
                    *accepted = accepted.union(&sure);
                } else if let Some(to) = self.chain_target(rule)
                    && !path.contains(&to)
                    && path.len() <= MAX_DEPTH
                {
                    path.push(to);
                    let came_back = self.walk(hook, to, sure, path, out, accepted);
                    path.pop();
                    match target.map(|t| t.jump) {
                        Some(JumpKind::Goto) => back = back.union(&came_back),
                        _ => returned = came_back,
                    }
                }
            }
            if !passes_unchanged(rule) {
                rest = rest.difference(&space.may).union(&returned);
                if rest.cube_count() > MAX_PIECES {
                    rest.compact();
                    if rest.cube_count() > MAX_PIECES {
                        return back;
                    }
                }
            }
        }
        back.union(&rest)
    }

    /// The user chain a `-j`/`-g` rule sends its packets to, if it exists.
    fn chain_target(&self, rule: &crate::model::Rule) -> Option<usize> {
        let t = rule.target.as_ref()?;
        if t.kind != TargetKind::Chain {
            return None;
        }
        let name = &t.name;
        debug_assert!(matches!(t.jump, JumpKind::Jump | JumpKind::Goto));
        self.table.iter().position(|c| &c.name == name)
    }
}

/// True when every packet the rule matches goes on to the next rule exactly
/// as it was: no target, or one that only logs.
fn passes_unchanged(rule: &crate::model::Rule) -> bool {
    match &rule.target {
        None => true,
        Some(t) => {
            t.kind == TargetKind::Extension && super::PURE_TARGETS.contains(&t.name.as_str())
        }
    }
}

fn record(reaches: &mut Vec<Reach>, hook: &str, sure: &PacketSet) {
    match reaches.iter_mut().find(|r| r.hook == hook) {
        Some(r) => r.packets = r.packets.union(sure),
        None => reaches.push(Reach {
            hook: hook.to_string(),
            packets: sure.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;
    use crate::space::Dim;

    fn parse(text: &str) -> Ruleset {
        crate::syntax::parse(text, Some(Family::Ipv4)).ruleset
    }

    fn chain(rs: &Ruleset, name: &str) -> usize {
        rs.tables[0]
            .chains
            .iter()
            .position(|c| c.name == name)
            .expect("chain")
    }

    fn reaches(text: &str) -> (Ruleset, SpaceContext, Vec<Vec<Vec<Reach>>>) {
        let rs = parse(text);
        let ctx = SpaceContext::for_ruleset(&rs);
        let all = sure_reach(&rs, 0, &ctx, |_| Some(ctx.universe())).rules;
        (rs, ctx, all)
    }

    #[test]
    fn earlier_deciding_rules_are_taken_out() {
        let (rs, ctx, all) = reaches(
            "*filter\n:INPUT ACCEPT [0:0]\n\
             -A INPUT -p tcp -m tcp --dport 22 -j DROP\n\
             -A INPUT -p tcp -j ACCEPT\n\
             COMMIT\n",
        );
        let input = chain(&rs, "INPUT");
        let (hook, p) = witness(&all[input][1], &ctx, &Packet::default()).expect("live");
        assert_eq!(hook, "INPUT");
        assert_eq!(p.protocol, 6);
        assert_ne!(p.dport, 22, "port 22 is dropped by rule 1");
        let near22 = Packet {
            dport: 22,
            ..Packet::default()
        };
        let sure = &all[input][1][0].packets;
        assert!(!sure.contains(&ctx, &near22));
    }

    #[test]
    fn logging_rules_pass_and_marks_block() {
        let (rs, ctx, all) = reaches(
            "*filter\n:OUTPUT ACCEPT [0:0]\n\
             -A OUTPUT -p udp -j LOG\n\
             -A OUTPUT -p udp -j ACCEPT\n\
             -A OUTPUT -p icmp -j MARK --set-xmark 0x1/0xffffffff\n\
             -A OUTPUT -j ACCEPT\n\
             COMMIT\n",
        );
        let out = chain(&rs, "OUTPUT");
        // LOG lets UDP go on: rule 2 is surely reached by UDP.
        let sure2 = &all[out][1][0].packets;
        assert_eq!(sure2.bounds(Dim::Protocol), Some((17, 17)));
        // MARK may rewrite: rule 4 gets neither UDP (accepted) nor ICMP.
        let sure4 = &all[out][3][0].packets;
        let icmp = Packet {
            protocol: 1,
            out_interface: Some("eth0".into()),
            ..Packet::default()
        };
        assert!(!sure4.contains(&ctx, &icmp));
        let tcp = Packet {
            out_interface: Some("eth0".into()),
            ..Packet::default()
        };
        assert!(sure4.contains(&ctx, &tcp));
    }

    #[test]
    fn user_chains_get_what_the_jump_surely_sends() {
        let (rs, ctx, all) = reaches(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:U - [0:0]\n\
             -A INPUT -s 10.0.0.0/8 -j U\n\
             -A FORWARD -p udp -g U\n\
             -A U -p tcp -j RETURN\n\
             -A U -j DROP\n\
             COMMIT\n",
        );
        let u = chain(&rs, "U");
        let hooks: Vec<&str> = all[u][1].iter().map(|r| r.hook.as_str()).collect();
        assert_eq!(hooks, ["INPUT", "FORWARD"]);
        let from_input = &all[u][1][0].packets;
        assert_eq!(
            from_input.bounds(Dim::Src),
            Some((0x0a00_0000, 0x0aff_ffff))
        );
        let tcp = Packet {
            src: 0x0a00_0001,
            in_interface: Some("eth0".into()),
            ..Packet::default()
        };
        assert!(!from_input.contains(&ctx, &tcp), "tcp returns at rule 1");
        let udp = Packet {
            protocol: 17,
            ..tcp
        };
        assert!(from_input.contains(&ctx, &udp));
    }

    #[test]
    fn packets_that_surely_come_back_go_on() {
        let (rs, ctx, all) = reaches(
            "*filter\n:INPUT ACCEPT [0:0]\n:U - [0:0]\n:V - [0:0]\n\
             -A INPUT -j U\n\
             -A INPUT -j ACCEPT\n\
             -A U -p tcp -j RETURN\n\
             -A U -p udp -j DROP\n\
             -A U -p icmp -g V\n\
             -A V -s 10.0.0.0/8 -j DROP\n\
             COMMIT\n",
        );
        let input = chain(&rs, "INPUT");
        let sure = &all[input][1][0].packets;
        let base = Packet {
            in_interface: Some("eth0".into()),
            ..Packet::default()
        };
        let with = |protocol: u8, src: u128| Packet {
            protocol,
            src,
            ..base.clone()
        };
        assert!(sure.contains(&ctx, &with(6, 0)), "tcp returns");
        assert!(!sure.contains(&ctx, &with(17, 0)), "udp is dropped");
        assert!(sure.contains(&ctx, &with(1, 0)), "icmp falls off V");
        assert!(!sure.contains(&ctx, &with(1, 0x0a00_0001)), "dropped in V");
        assert!(sure.contains(&ctx, &with(47, 0)), "gre falls off U");
    }

    #[test]
    fn accepted_packets_leave_unchanged() {
        let rs = parse(
            "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT DROP [0:0]\n:U - [0:0]\n\
             -A PREROUTING -p tcp -j U\n\
             -A PREROUTING -p udp -j DROP\n\
             -A PREROUTING -p icmp -j MARK --set-xmark 0x1/0xffffffff\n\
             -A U -s 10.0.0.0/8 -j ACCEPT\n\
             -A INPUT -p tcp -j ACCEPT\n\
             COMMIT\n",
        );
        let ctx = SpaceContext::for_ruleset(&rs);
        let found = sure_reach(&rs, 0, &ctx, |_| Some(ctx.universe()));
        let pre = chain(&rs, "PREROUTING");
        let took = found.accepted[pre].as_ref().expect("walked");
        let with = |protocol: u8, src: u128| Packet {
            protocol,
            src,
            in_interface: Some("eth0".into()),
            ..Packet::default()
        };
        assert!(took.contains(&ctx, &with(6, 0x0a00_0001)), "accepted in U");
        assert!(
            took.contains(&ctx, &with(6, 0x0b00_0001)),
            "back from U, policy"
        );
        assert!(!took.contains(&ctx, &with(17, 0)), "dropped");
        assert!(!took.contains(&ctx, &with(1, 0)), "marked: changed");
        assert!(took.contains(&ctx, &with(47, 0)), "policy ACCEPT");
        // INPUT's policy is DROP: only its ACCEPT rule lets packets go on.
        let input = found.accepted[chain(&rs, "INPUT")]
            .as_ref()
            .expect("walked");
        assert!(input.contains(&ctx, &with(6, 0)));
        assert!(!input.contains(&ctx, &with(17, 0)));
        assert!(
            found.accepted[chain(&rs, "U")].is_none(),
            "user chains start nothing"
        );
    }

    #[test]
    fn unmodelled_matches_give_no_sure_packets_and_block() {
        let (rs, _, all) = reaches(
            "*filter\n:INPUT ACCEPT [0:0]\n\
             -A INPUT -m statistic --mode random --probability 0.5 -j DROP\n\
             -A INPUT -j ACCEPT\n\
             COMMIT\n",
        );
        let input = chain(&rs, "INPUT");
        assert!(all[input][0].is_empty());
        assert!(all[input][1].is_empty());
    }
}
