//! Times the lint of a generated 10,000-rule bundle once (a quick check
//! while optimising; the numbers to report come from `cargo bench`).
fn main() {
    let text = if std::env::args().any(|a| a == "--random") {
        gavel_bench::grouped_bundle_json(10_000, 42)
    } else {
        gavel_bench::structured_bundle_json(10_000)
    };
    let t = std::time::Instant::now();
    let doc = gavel_policy::parse_document(&text, gavel_policy::Format::Json).expect("parses");
    eprintln!("parse {:?}", t.elapsed());
    for _ in 0..2 {
        let t = std::time::Instant::now();
        let b = gavel_policy::Bundle::from_document(doc.clone()).expect("valid");
        eprintln!("validate {:?} ({} rules)", t.elapsed(), b.rules.len());
    }
    let t = std::time::Instant::now();
    let j = doc.to_json();
    eprintln!("to_json {:?} {}", t.elapsed(), j.is_object());
    let t = std::time::Instant::now();
    let r = gavel_policy::lint(&doc, &gavel_policy::LintConfig::default());
    eprintln!("lint {:?} ({} findings)", t.elapsed(), r.findings.len());
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &r.findings {
        *by.entry(f.code).or_default() += 1;
    }
    eprintln!("{by:?}");
}
