//! Writes the generated Gavel bundles and the shared requests to files, so
//! other tools (callgrind over `gavel-bench`'s `decide_count`, `gavel
//! decide`) can run the peer benchmark's workload:
//! `dump DIR` → `DIR/bundle-{100,1000,10000}.json`, `DIR/requests.jsonl`.

use anyhow::Context;
use gavel_bench_peers::{BUNDLE_SEED, BundleSpec, REQUEST_SEED, REQUESTS, requests};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).context("usage: dump DIR")?;
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for rules in [100, 1_000, 10_000] {
        let path = dir.join(format!("bundle-{rules}.json"));
        std::fs::write(&path, BundleSpec::generate(rules, BUNDLE_SEED).gavel_json())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let lines: Vec<String> = requests(REQUESTS, REQUEST_SEED)
        .iter()
        .map(|r| r.json())
        .collect();
    let path = dir.join("requests.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
