//! `iptlint diff` and `trace` on any bytes. Two oracles need no reference:
//! a readable dump is equivalent to itself on every path (no difference at
//! all, not even "may differ": a condition written the same on both sides is
//! the same condition), and `optimize --remove-dead` never makes a packet's
//! fate differ for certain. The trace walk (`record`) must not panic either.
#![no_main]

use iptlint::fate::{Conditions, DEFAULT_MAX_PIECES, Path, Walker, compare};
use iptlint::optimize::{Options, optimize};
use iptlint::space::SpaceContext;
use iptlint::syntax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = iptlint::source::Source::decode(data.to_vec());
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
        // A walk or comparison past its budget gives up with an error
        // (`iptlint diff` exits 2): nothing to check then, only no panic.
        let (Ok(la), Ok(again)) = (
            wa.walk(path, &universe, &mut conds),
            wa.walk(path, &universe, &mut conds),
        ) else {
            continue;
        };
        if let Ok(same) = compare(path, &ctx, &la, &again, DEFAULT_MAX_PIECES) {
            assert!(
                same.is_empty(),
                "a dump differs from itself on {}:\n{}",
                path.name(),
                &*text
            );
        }
        let Ok(lb) = wb.walk(path, &universe, &mut conds) else {
            continue;
        };
        if let Ok(found) = compare(path, &ctx, &la, &lb, DEFAULT_MAX_PIECES) {
            let certain: Vec<_> = found.into_iter().filter(|d| d.certain).collect();
            assert!(
                certain.is_empty(),
                "optimize changed a packet's fate on {}:\n{}\n--- optimized:\n{printed}\n{:?}",
                path.name(),
                &*text,
                certain.first().map(|d| &d.witness)
            );
        }
        let _ = traced.walk(path, &universe, &mut conds);
    }
});
