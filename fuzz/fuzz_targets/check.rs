//! The whole `check` pipeline on any bytes: decode, parse, graph, every lint,
//! suppressions, then every output format and the jump graph's DOT and JSON,
//! as `iptlint check` and `iptlint graph` run them.
//!
//! translate, optimize and diff do not exist yet; each gets its own target
//! here when it lands.
#![no_main]

use iptlint::check::check_source;
use iptlint::graph::JumpGraph;
use iptlint::report;
use iptlint::source::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = Source::decode(data.to_vec());
    let report = check_source("fuzz.rules".into(), text.clone(), None);
    let reports = [report];
    let json = report::json::render(&reports);
    serde_json::from_str::<serde_json::Value>(&json).expect("the JSON report is JSON");
    report::sarif::render(&reports);
    report::compact::render(&reports);
    report::github::render(&reports);
    report::human::render(&reports, true);

    let parsed = iptlint::syntax::parse(&text, None);
    let graph = JumpGraph::build(&parsed.ruleset);
    graph.to_dot(None);
    graph.to_json(None);
});
