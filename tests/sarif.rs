//! The SARIF output validates against the official SARIF 2.1.0 JSON schema
//! (vendored as test data in tests/data/, from the OASIS sarif-spec
//! repository).

use assert_cmd::Command;
use serde_json::Value;

const DUMP: &str = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j DROP\n-A INPUT -s 192.0.2.1 -j ACCEPT\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n";

fn sarif_of(dump: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.rules");
    std::fs::write(&path, dump).unwrap();
    let out = Command::cargo_bin("iptlint")
        .unwrap()
        .args(["check", "--format", "sarif"])
        .arg(&path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).expect("SARIF output is JSON")
}

#[test]
fn sarif_output_validates_against_the_2_1_0_schema() {
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let log = sarif_of(DUMP);
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );

    // The validator does reject what the schema forbids.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(
        !validator.is_valid(&broken),
        "a level outside the schema's enum must fail validation"
    );

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "IPT002" && r["name"] == "invalid-value")
    );
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 3, "{results:#?}");
    let invalid = results
        .iter()
        .find(|r| r["ruleId"] == "IPT002")
        .expect("the bad port is reported");
    let region = &invalid["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_i64(), region["startColumn"].as_i64()),
        (Some(7), Some(25))
    );
    assert_eq!(invalid["level"], "error");
    let index = invalid["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "IPT002", "ruleIndex points at the rule");
    let duplicate = results
        .iter()
        .find(|r| r["ruleId"] == "IPT203")
        .expect("the duplicate is reported");
    assert_eq!(
        duplicate["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
}
