//! The examples each command's `--help` ends with: one or two command lines
//! a user can run from the repository's root (they use its `fixtures/`).

pub const ROOT: &str = "Examples:
  gavel validate fixtures/bundles/inbox-triage.yaml
  gavel lint fixtures/bundles/*.yaml --format json";

pub const VALIDATE: &str = "Examples:
  gavel validate fixtures/bundles/inbox-triage.yaml
  gavel validate fixtures/bundles/budgets.json --format json";

pub const DECIDE: &str = "Examples:
  echo '{\"agent\": \"inbox.triage\", \"action\": \"quarantine\", \"context\": {\"risk_score\": 95, \"category\": \"phishing\"}}' \\
    | gavel decide --bundle fixtures/bundles/inbox-triage.yaml --request - --explain
  gavel decide --bundle fixtures/bundles/inbox-triage.yaml --requests requests.jsonl --format json";

pub const LINT: &str = "Examples:
  gavel lint fixtures/bundles/*.yaml
  gavel lint fixtures/bundles/deployment-safety.yaml --format sarif > lint.sarif";

pub const DIFF: &str = "Examples:
  gavel diff fixtures/bundles/inbox-triage.yaml my-inbox-triage.yaml
  gavel diff fixtures/bundles/inbox-triage.yaml my-inbox-triage.yaml --format json";

pub const KEYS: &str = "Examples:
  gavel keys gen --name alice --email alice@example.com
  gavel keys list --format json";

pub const KEYS_GEN: &str = "Examples:
  gavel keys gen --name alice --email alice@example.com
  gavel keys gen --name bob --email bob@example.com --roles approver --as alice";

pub const KEYS_LIST: &str = "Examples:
  gavel keys list
  gavel keys list --format json";

pub const KEYS_EXPORT: &str = "Examples:
  gavel keys export alice > alice.pub.json
  gavel keys export --operator > console-operator.pub.json";

pub const KEYS_TRUST: &str = "Examples:
  gavel keys trust bob.pub.json --roles approver --as alice
  gavel keys trust team-trust.json --roles approver,analyst --as alice --format json";

pub const KEYS_EXPORT_TRUST: &str = "Examples:
  gavel keys export-trust > team-trust.json";

pub const KEYS_UNTRUST: &str = "Examples:
  gavel keys untrust 3f2a9c0d1e4b5a6c --as alice";

pub const KEYS_ROTATE: &str = "Examples:
  gavel keys rotate alice";

pub const KEYS_BACKUP: &str = "Examples:
  gavel keys backup alice --out alice.key.age
  gavel keys backup alice --out alice.key.age --passphrase-file pass.txt --format json";

pub const KEYS_RESTORE: &str = "Examples:
  gavel keys restore alice.key.age
  gavel keys restore alice.key.age --passphrase-file pass.txt --format json";

pub const KEYS_SECRET: &str = "Examples:
  printf '%s' \"$TEAM_SECRET\" | gavel keys secret team
  gavel keys secret team --from-file secret.txt";

pub const SIGN: &str = "Examples:
  gavel sign --type bundle fixtures/bundles/inbox-triage.yaml --as alice > inbox-triage.dsse.json
  gavel sign --type bundle fixtures/bundles/inbox-triage.yaml --expires-in 2w";

pub const VERIFY: &str = "Examples:
  gavel verify inbox-triage.dsse.json
  gavel verify inbox-triage.dsse.json --key alice.pub.json --format json";

pub const SCORECARD: &str = "Examples:
  gavel scorecard eval fixtures/governance/scorecards --policy fixtures/governance/policy.yaml";

pub const SCORECARD_RUNS: &str = "Examples:
  gavel scorecard runs --workflow wf-1 --limit 20
  gavel scorecard runs --verdict no_go --since 2026-11-01 --format json";

pub const SCORECARD_EVAL: &str = "Examples:
  gavel scorecard eval fixtures/governance/scorecards/invoice-triage.json \\
    --policy fixtures/governance/policy.yaml --no-log
  gavel scorecard eval fixtures/governance/scorecards --policy fixtures/governance/policy.yaml \\
    --log decisions.jsonl --format json";

pub const OVERRIDE: &str = "Examples:
  gavel override issue --workflow invoice-triage --verdict pilot --reason 'Board approved a pilot run'
  gavel override verify override.json";

pub const OVERRIDE_ISSUE: &str = "Examples:
  gavel override issue --workflow invoice-triage --verdict pilot \\
    --reason 'Board approved a pilot run' --as sam > override.json
  gavel override issue --workflow invoice-triage --bypass-micro-pilot \\
    --reason 'Security reviewed the sandbox' --expires-in 12h";

pub const OVERRIDE_VERIFY: &str = "Examples:
  gavel override verify override.json
  gavel override verify override.json --key sam.pub.json --format json";

pub const SIM: &str = "Examples:
  gavel sim fixtures/bundles/inbox-triage.yaml
  gavel sim fixtures/bundles/inbox-triage.yaml --count 1000000 --results cases.jsonl --format json";

pub const SIM_COMPARE: &str = "Examples:
  gavel sim compare fixtures/bundles/inbox-triage.yaml my-inbox-triage.yaml
  gavel sim compare old.yaml new.yaml --dataset fixtures/tests/inbox-triage.cases.json --format json";

pub const SIM_REPLAY: &str = "Examples:
  gavel sim replay my-inbox-triage.yaml decisions.jsonl
  gavel sim replay my-inbox-triage.yaml decisions.jsonl --results changes.jsonl --format json";

pub const TEST: &str = "Examples:
  gavel test fixtures/bundles/inbox-triage.yaml fixtures/tests/inbox-triage.cases.json
  gavel test fixtures/bundles/two-approver.yaml fixtures/tests/two-approver.cases.json --format json";

pub const VERSION: &str = "Examples:
  gavel version suggest fixtures/bundles/inbox-triage.yaml my-inbox-triage.yaml";

pub const VERSION_SUGGEST: &str = "Examples:
  gavel version suggest fixtures/bundles/inbox-triage.yaml my-inbox-triage.yaml
  gavel version suggest old.yaml new.yaml --format json";

pub const INIT: &str = "Examples:
  gavel init
  gavel init --examples --format json";

pub const BUNDLE: &str = "Examples:
  gavel bundle new fixtures/bundles/inbox-triage.yaml --notes 'First draft'
  gavel bundle list --status draft --format json";

pub const BUNDLE_NEW: &str = "Examples:
  gavel bundle new fixtures/bundles/inbox-triage.yaml --notes 'First draft'
  gavel bundle new my-inbox-triage.yaml --as alice --format json";

pub const BUNDLE_LIST: &str = "Examples:
  gavel bundle list
  gavel bundle list --name inbox-triage --status draft --limit 10 --format json";

pub const BUNDLE_SHOW: &str = "Examples:
  gavel bundle show inbox-triage@1.0.0
  gavel bundle show sha256:3f2a9c0d --format json";

pub const BUNDLE_EDIT: &str = "Examples:
  gavel bundle edit inbox-triage@1.0.0 my-inbox-triage.yaml";

pub const BUNDLE_RM: &str = "Examples:
  gavel bundle rm inbox-triage@1.0.0";

pub const BUNDLE_DIFF: &str = "Examples:
  gavel bundle diff inbox-triage@1.0.0 inbox-triage@1.1.0
  gavel bundle diff inbox-triage@1.0.0 sha256:3f2a9c0d --format json";

pub const BUNDLE_HISTORY: &str = "Examples:
  gavel bundle history inbox-triage
  gavel bundle history inbox-triage --format json";

pub const BUNDLE_EXPORT: &str = "Examples:
  gavel bundle export inbox-triage@1.0.0 --out inbox-triage.dsse.json
  gavel bundle export inbox-triage@1.0.0 --as alice --expires-in 30d > inbox-triage.dsse.json";

pub const BUNDLE_IMPORT: &str = "Examples:
  gavel bundle import inbox-triage.dsse.json
  gavel bundle import studio-export.json --secret-file team.secret --format json";
pub const AUDIT: &str = "Examples:
  gavel audit verify
  gavel audit list --action key.trust --limit 20";

pub const AUDIT_LIST: &str = "Examples:
  gavel audit list --actor alice --since 2026-11-01
  gavel audit list --subject inbox-agents@1.0.0 --format json";

pub const AUDIT_VERIFY: &str = "Examples:
  gavel audit verify
  gavel audit verify --checkpoint checkpoint.json --format json";

pub const AUDIT_EXPORT: &str = "Examples:
  gavel audit export --out audit.jsonl
  python3 tests/audit_verify.py audit.jsonl";

pub const AUDIT_CHECKPOINT: &str = "Examples:
  gavel audit checkpoint --out checkpoint.json
  gavel audit verify --checkpoint checkpoint.json";

pub const ENV: &str = "Examples:
  gavel env list
  gavel env set staging --canary off --bake-time 0";

pub const ENV_ADD: &str = "Examples:
  gavel env add qa
  gavel env add eu-prod --quorum 2 --canary on --bake-time 24h --min-samples 500";

pub const ENV_SET: &str = "Examples:
  gavel env set prod --quorum 3
  gavel env set dev --canary off --bake-time 0";

pub const SUBMIT: &str = "Examples:
  gavel submit inbox-triage@1.2.0
  gavel submit sha256:3f2a9c1e --format json";

pub const APPROVE: &str = "Examples:
  gavel approve inbox-triage@1.2.0 --env staging --comment 'Diff and impact reviewed'
  gavel approve inbox-triage@1.2.0 --env prod --comment 'LGTM' --as bob --format json";

pub const REJECT: &str = "Examples:
  gavel reject inbox-triage@1.2.0 --env prod --comment 'Denies every refund under $5: see case c-17'";

pub const ACTIVATE: &str = "Examples:
  gavel activate inbox-triage@1.2.0 --env staging
  gavel activate inbox-triage@1.2.0 --env prod --expect-active sha256:9b1c0d2e --expect-canary none";

pub const PROMOTE: &str = "Examples:
  gavel promote inbox-triage --env prod --metrics fixtures/canary/metrics.json
  gavel promote inbox-triage --env prod --metrics - --format json < metrics.json";

pub const MONITOR: &str = "Examples:
  gavel monitor --env prod --bundle inbox-triage --metrics fixtures/canary/metrics.json";

pub const ROLLBACK: &str = "Examples:
  gavel rollback --env prod --reason 'Deny rate doubled after 1.2.0' --bundle inbox-triage";

pub const INCIDENTS: &str = "Examples:
  gavel incidents --open
  gavel incident resolve 3 --comment 'Rule r-12 fixed in 1.2.1'";

pub const INCIDENT_RESOLVE: &str = "Examples:
  gavel incident resolve 3 --comment 'Rule r-12 fixed in 1.2.1'";

pub const STATUS: &str = "Examples:
  gavel status
  gavel status --bundle inbox-triage --env prod --format json";

pub const CANARY: &str = "Examples:
  gavel canary check --metrics fixtures/canary/metrics.json
  gavel canary check --metrics fixtures/canary/metrics.json --min-samples 500 --format json";

pub const CANARY_CHECK: &str = "Examples:
  gavel canary check --metrics fixtures/canary/metrics.json
  gavel canary check --metrics - --min-samples 500 --format json < fixtures/canary/metrics.json";

pub const REVIEW: &str = "Examples:
  gavel review pack inbox-triage@1.2.0 --env prod --out pkg.json        # on the console; then, on the reviewer's machine:
  gavel review sign pkg.json --decision approve --comment 'Diff and impact reviewed' --out rita.approval.json";

pub const REVIEW_PACK: &str = "Examples:
  gavel review pack inbox-triage@1.2.0 --env prod --out inbox-triage-1.2.0.review.json
  gavel review pack sha256:3f2a9c1e --env staging --as alice --expires-in 3d --format json > pkg.json";

pub const REVIEW_SHOW: &str = "Examples:
  gavel review show inbox-triage-1.2.0.review.json
  gavel review show inbox-triage-1.2.0.review.json --format json";

pub const REVIEW_SIGN: &str = "Examples:
  gavel review sign inbox-triage-1.2.0.review.json --decision approve --comment 'Diff and impact reviewed' --out rita.approval.json
  gavel review sign pkg.json --decision reject --comment 'Denies every refund under $5: see case c-17' --out rita.rejection.json --as rita";

pub const REVIEW_IMPORT: &str = "Examples:
  gavel review import rita.approval.json
  gavel review import rita.approval.json --format json";

pub const REGISTRY: &str = "Examples:
  gavel registry add team oci://registry.example.com/policies
  gavel registry list --format json";

pub const REGISTRY_ADD: &str = "Examples:
  gavel registry add team oci+http://127.0.0.1:5055/policies
  echo \"$REGISTRY_TOKEN\" | gavel registry add team oci://registry.example.com/policies --username ci";

pub const REGISTRY_LIST: &str = "Examples:
  gavel registry list
  gavel registry list --format json";

pub const REGISTRY_RM: &str = "Examples:
  gavel registry rm team";

pub const BUNDLE_BIND: &str = "Examples:
  gavel bundle bind inbox-triage team";

pub const PUSH: &str = "Examples:
  gavel push inbox-triage@1.0.0 --dry-run
  gavel push inbox-triage@1.0.0 --format json";

pub const PULL: &str = "Examples:
  gavel pull inbox-triage@1.0.0";

pub const AGENT: &str = "Examples:
  gavel agent check-config agent.yaml
  gavel agent run --config agent.yaml";

pub const AGENT_RUN: &str = "Examples:
  gavel agent run --config agent.yaml
  GAVEL_AGENT_LISTEN=0.0.0.0:8181 gavel agent run --config agent.yaml
  curl -s localhost:8181/v1/decide -d '{\"agent\": \"inbox.triage\", \"action\": \"archive\", \"subject\": \"u-42\"}'";

pub const AGENT_CHECK: &str = "Examples:
  gavel agent check-config agent.yaml
  GAVEL_AGENT_CACHE__CAPACITY=50000 gavel agent check-config agent.yaml --format json";

pub const TRUST: &str = "Examples:
  gavel trust publish --quorum 2
  gavel trust publish --bundle inbox-triage --format json";

pub const TRUST_PUBLISH: &str = "Examples:
  gavel trust publish --quorum 2      # the next document then needs two security signatures
  gavel trust publish --as sec-2      # another security identity co-signs what is waiting";

pub const SYNC: &str = "Examples:
  gavel sync
  gavel sync --bundle inbox-triage --format json";

pub const MIGRATE: &str = "Examples:
  gavel migrate applylens crates/cli/tests/fixtures/migrate/applylens-recipes.json --out bundle.json
  gavel migrate menace crates/cli/tests/fixtures/migrate/menace-policy.yaml --format json";

pub const MIGRATE_APPLYLENS: &str = "Examples:
  gavel migrate applylens crates/cli/tests/fixtures/migrate/applylens-recipes.json > bundle.json
  gavel migrate applylens rules.json --out bundle.json --format json";

pub const MIGRATE_MENACE: &str = "Examples:
  gavel migrate menace crates/cli/tests/fixtures/migrate/menace-policy.yaml --out policy.yaml
  gavel migrate menace deployment_policy.yaml --format json";
