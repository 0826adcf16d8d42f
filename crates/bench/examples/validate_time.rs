//! Splits the cost of validating a generated 10,000-rule bundle.
fn main() {
    let text = gavel_bench::structured_bundle_json(10_000);
    let doc = gavel_policy::parse_document(&text, gavel_policy::Format::Json).expect("parses");
    let schema: serde_json::Value =
        serde_json::from_str(gavel_policy::RULE_SCHEMA).expect("schema");
    let v = jsonschema::draft7::new(&schema).expect("compiles");
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let j = doc.to_json();
        let a = t.elapsed();
        let t = std::time::Instant::now();
        let ok = j["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .all(|r| v.is_valid(r));
        let b = t.elapsed();
        let t = std::time::Instant::now();
        drop(j);
        let c = t.elapsed();
        let t = std::time::Instant::now();
        let bundle = gavel_policy::Bundle::from_document(doc.clone()).expect("valid");
        let d = t.elapsed();
        eprintln!(
            "to_json {a:?} is_valid {b:?} ({ok}) drop {c:?} from_document {d:?} {}",
            bundle.rules.len()
        );
    }
}
