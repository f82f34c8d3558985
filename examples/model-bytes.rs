//! Where a parsed model's memory goes: bytes of each kind of element, inline
//! and on the heap, per rule. For the compact-model work (issue 4/9 memory).
use iptlint::model::*;
use std::mem::size_of;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Default)]
struct Tally(std::collections::BTreeMap<&'static str, (usize, usize)>);
impl Tally {
    fn add(&mut self, k: &'static str, bytes: usize) {
        let e = self.0.entry(k).or_default();
        e.0 += bytes;
        if bytes > 0 {
            e.1 += 1;
        }
    }
}

fn words(t: &mut Tally, o: &MatchOption) {
    t.add("option.name heap", o.name.heap_bytes());
    t.add(
        "option.alias heap",
        o.alias
            .as_ref()
            .map_or(0, |a| size_of::<Text>() + a.heap_bytes()),
    );
    // One word is kept inline; more spill to the heap.
    if o.words.spilled() {
        t.add("option.words vec", o.words.capacity() * size_of::<Word>());
    }
    for w in &o.words {
        t.add("word text heap", w.text.heap_bytes());
    }
    // An interface name is kept inline.
    let v = match &o.value {
        Value::Ports(p) => p.capacity() * size_of::<PortRange>(),
        Value::States(p) => p.capacity(),
        Value::Net(_) => size_of::<Net>(),
        Value::AddrRange(_) => size_of::<AddrRange>(),
        Value::Words(w) => {
            w.capacity() * size_of::<Text>() + w.iter().map(|s| s.heap_bytes()).sum::<usize>()
        }
        _ => 0,
    };
    t.add("value heap", v);
}

fn main() {
    iptlint::disable_transparent_huge_pages();
    sizes();
    let path = std::env::args().nth(1).expect("usage: model-bytes DUMP");
    let src = std::fs::read_to_string(&path).expect("readable");
    let parsed = iptlint::syntax::parse(&src, None);
    let mut t = Tally::default();
    let mut rules = 0;
    for table in &parsed.ruleset.tables {
        for chain in &table.chains {
            t.add("chain inline", size_of::<Chain>());
            t.add(
                "chain.rules vec",
                chain.rules.capacity() * size_of::<Rule>(),
            );
            t.add("chain.name heap", chain.name.heap_bytes());
            for r in &chain.rules {
                rules += 1;
                if let Some(s) = &r.source {
                    t.add("addr vec", s.value.capacity() * size_of::<AddrSpec>());
                }
                if let Some(s) = &r.destination {
                    t.add("addr vec", s.value.capacity() * size_of::<AddrSpec>());
                }
                // A protocol allocates only when not written as a known name
                // (`-p 6`, `-p TCP`): rare, not counted.
                // The box of interfaces, `-f` and counters most rules lack.
                let rare = r.in_interface().is_some()
                    || r.out_interface().is_some()
                    || r.fragment().is_some()
                    || r.counters().is_some();
                t.add(
                    "rule rare box",
                    usize::from(rare)
                        * (size_of::<Option<Counters>>()
                            + 2 * size_of::<Option<Negatable<Interface>>>()
                            + size_of::<Option<Negatable<()>>>()),
                );
                t.add(
                    "rule.matches vec",
                    r.matches.capacity() * size_of::<Match>(),
                );
                for m in &r.matches {
                    t.add("match.module heap", m.module.heap_bytes());
                    t.add(
                        "match.options vec",
                        m.options.capacity() * size_of::<MatchOption>(),
                    );
                    for o in &m.options {
                        words(&mut t, o);
                    }
                }
                if let Some(tg) = &r.target {
                    t.add("target.name heap", tg.name.heap_bytes());
                    t.add(
                        "target.options vec",
                        tg.options.capacity() * size_of::<MatchOption>(),
                    );
                    for o in &tg.options {
                        words(&mut t, o);
                    }
                }
            }
        }
    }
    println!(
        "{} rules, {} bytes of input ({} per rule)",
        rules,
        src.len(),
        src.len() / rules.max(1)
    );
    println!(
        "size_of Rule {} Match {} MatchOption {} Word {} Value {} Target {}",
        size_of::<Rule>(),
        size_of::<Match>(),
        size_of::<MatchOption>(),
        size_of::<Word>(),
        size_of::<Value>(),
        size_of::<Target>()
    );
    let mut total = 0;
    for (k, (b, n)) in &t.0 {
        total += b;
        println!(
            "{k:24} {:>12} bytes {:>10} allocs {:>7.1} per rule",
            b,
            n,
            *b as f64 / rules as f64
        );
    }
    println!(
        "total {} bytes, {:.1} per rule, {:.2}x input",
        total,
        total as f64 / rules as f64,
        total as f64 / src.len() as f64
    );
}
#[allow(dead_code)]
fn sizes() {
    println!(
        "Span {} OptSpan {} Counters {} src {} proto {} iface {} frag {} target {} optTarget {} Net {} AddrSpec {} TargetKind {} Interface {} Protocol {}",
        size_of::<Span>(),
        size_of::<Option<Span>>(),
        size_of::<Option<Counters>>(),
        size_of::<Option<Negatable<List<AddrSpec>>>>(),
        size_of::<Option<Negatable<Protocol>>>(),
        size_of::<Option<Negatable<Interface>>>(),
        size_of::<Option<Negatable<()>>>(),
        size_of::<Target>(),
        size_of::<Option<Target>>(),
        size_of::<Net>(),
        size_of::<AddrSpec>(),
        size_of::<TargetKind>(),
        size_of::<Interface>(),
        size_of::<Protocol>()
    );
}
