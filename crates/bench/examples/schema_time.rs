//! Experiment: cost of JSON Schema validation per rule.
fn main() {
    let text = gavel_bench::grouped_bundle_json(10_000, 42);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rules = doc["rules"].as_array().expect("rules").clone();
    let rule_schema: serde_json::Value =
        serde_json::from_str(gavel_policy::RULE_SCHEMA).expect("schema");
    let v = jsonschema::draft7::new(&rule_schema).expect("compiles");
    let t = std::time::Instant::now();
    let ok = rules.iter().filter(|r| v.is_valid(r)).count();
    eprintln!("direct rule schema: {:?} ({ok} valid)", t.elapsed());
    let mut no_pattern_props = rule_schema.clone();
    no_pattern_props["definitions"]["conditions"] = serde_json::json!({"type": "object"});
    let v = jsonschema::draft7::new(&no_pattern_props).expect("compiles");
    let t = std::time::Instant::now();
    let ok = rules.iter().filter(|r| v.is_valid(r)).count();
    eprintln!("without patternProperties: {:?} ({ok} valid)", t.elapsed());
    let mut no_patterns = no_pattern_props.clone();
    no_patterns["properties"]["id"] = serde_json::json!({"type": "string"});
    no_patterns["properties"]["agent"] = serde_json::json!({"type": "string"});
    let v = jsonschema::draft7::new(&no_patterns).expect("compiles");
    let t = std::time::Instant::now();
    let ok = rules.iter().filter(|r| v.is_valid(r)).count();
    eprintln!("without any pattern: {:?} ({ok} valid)", t.elapsed());
    let arr = serde_json::json!({"type": "array", "items": rule_schema});
    let v = jsonschema::draft7::new(&arr).expect("compiles");
    let all = serde_json::Value::Array(rules.clone());
    let t = std::time::Instant::now();
    eprintln!("array inline: {} {:?}", v.is_valid(&all), t.elapsed());
    let arr = serde_json::json!({"type": "array", "items": {"$ref": "#/definitions/rule"}, "definitions": {"rule": rule_schema}});
    let v = jsonschema::draft7::new(&arr).expect("compiles");
    let t = std::time::Instant::now();
    eprintln!("array via ref: {} {:?}", v.is_valid(&all), t.elapsed());
}

#[allow(dead_code)]
fn unused() {}
