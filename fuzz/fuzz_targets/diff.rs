//! `iptlint diff` and `trace` on any bytes. Two oracles need no reference:
//! a readable dump is equivalent to itself on every path (no difference at
//! all, not even "may differ": a condition written the same on both sides is
//! the same condition), and `optimize --remove-dead` never makes a packet's
//! fate differ for certain. The trace walk (`record`) must not panic either.
#![no_main]

use iptlint::fate::{Conditions, Path, Walker, compare};
use iptlint::optimize::{Options, optimize};
use iptlint::space::SpaceContext;
use iptlint::syntax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::check::decode(data.to_vec());
    let parsed = syntax::parse(&text, None);
    if parsed
        .findings
        .iter()
        .any(|f| f.is_input_error() || f.lint.code == "IPT006")
    {
        return;
    }
    let a = &parsed.ruleset;
    let optimized = optimize(
        a,
        &Options {
            ipsets: false,
            remove_dead: true,
        },
    );
    let printed = optimized.ruleset.to_string();
    let b = syntax::parse(&printed, Some(a.family)).ruleset;
    let rules = a
        .tables
        .iter()
        .chain(&b.tables)
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules);
    let ctx = SpaceContext::for_rules(a.family, rules);
    let universe = ctx.universe();
    let wa = Walker::new(a, &ctx, &text, false);
    let wb = Walker::new(&b, &ctx, &printed, false);
    let traced = Walker::new(a, &ctx, &text, true);
    let mut conds = Conditions::default();
    for path in Path::ALL {
        let la = wa.walk(path, &universe, &mut conds);
        let again = wa.walk(path, &universe, &mut conds);
        assert!(
            compare(path, &ctx, &la, &again).is_empty(),
            "a dump differs from itself on {}:\n{text}",
            path.name()
        );
        let lb = wb.walk(path, &universe, &mut conds);
        let certain: Vec<_> = compare(path, &ctx, &la, &lb)
            .into_iter()
            .filter(|d| d.certain)
            .collect();
        assert!(
            certain.is_empty(),
            "optimize changed a packet's fate on {}:\n{text}\n--- optimized:\n{printed}\n{:?}",
            path.name(),
            certain.first().map(|d| &d.witness)
        );
        traced.walk(path, &universe, &mut conds);
    }
});
