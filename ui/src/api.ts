// The back end, typed: one function per Tauri command of `src-tauri/src/lib.rs`,
// taking and returning the types generated from Rust (`./bindings/`, by
// `cargo xtask bindings`). Every failure is thrown as an `ApiError` whose
// `code` the screens branch on; the linter, simulator, diff and rule builder
// all run in Rust.

import { Channel, invoke } from "@tauri-apps/api/core";
import type { AppInfo } from "./bindings/AppInfo";
import type { ApprovalRecord } from "./bindings/ApprovalRecord";
import type { AuditEntry } from "./bindings/AuditEntry";
import type { AuditFilters } from "./bindings/AuditFilters";
import type { AuditText } from "./bindings/AuditText";
import type { AuditVerification } from "./bindings/AuditVerification";
import type { BackupText } from "./bindings/BackupText";
import type { BorderlineItem } from "./bindings/BorderlineItem";
import type { BundleIndex } from "./bindings/BundleIndex";
import type { CompareOutcome } from "./bindings/CompareOutcome";
import type { DatasetSpec } from "./bindings/DatasetSpec";
import type { Decision } from "./bindings/Decision";
import type { DiffView } from "./bindings/DiffView";
import type { EnvForm } from "./bindings/EnvForm";
import type { Environment } from "./bindings/Environment";
import type { ErrorBody } from "./bindings/ErrorBody";
import type { Expected } from "./bindings/Expected";
import type { FileText } from "./bindings/FileText";
import type { IdentityInfo } from "./bindings/IdentityInfo";
import type { Inbox } from "./bindings/Inbox";
import type { Incident } from "./bindings/Incident";
import type { InitReport } from "./bindings/InitReport";
import type { IssuedOverride } from "./bindings/IssuedOverride";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { KeyRestore } from "./bindings/KeyRestore";
import type { KeysView } from "./bindings/KeysView";
import type { LintResult } from "./bindings/LintResult";
import type { NewDraft } from "./bindings/NewDraft";
import type { OverrideForm } from "./bindings/OverrideForm";
import type { OverrideLists } from "./bindings/OverrideLists";
import type { OverrideVerification } from "./bindings/OverrideVerification";
import type { PublicKey } from "./bindings/PublicKey";
import type { PushReport } from "./bindings/PushReport";
import type { RegistryRow } from "./bindings/RegistryRow";
import type { ReviewPackage } from "./bindings/ReviewPackage";
import type { ReviewReport } from "./bindings/ReviewReport";
import type { ReviewView } from "./bindings/ReviewView";
import type { Rotation } from "./bindings/Rotation";
import type { RuleDraft } from "./bindings/RuleDraft";
import type { RuleInsert } from "./bindings/RuleInsert";
import type { RunsQuery } from "./bindings/RunsQuery";
import type { SavedDraft } from "./bindings/SavedDraft";
import type { ScorecardExamples } from "./bindings/ScorecardExamples";
import type { ScorecardOutcome } from "./bindings/ScorecardOutcome";
import type { ScorecardRequest } from "./bindings/ScorecardRequest";
import type { ScorecardRun } from "./bindings/ScorecardRun";
import type { SignedApproval } from "./bindings/SignedApproval";
import type { SignedCheckpoint } from "./bindings/SignedCheckpoint";
import type { SimOutcome } from "./bindings/SimOutcome";
import type { SimProgress } from "./bindings/SimProgress";
import type { SimSource } from "./bindings/SimSource";
import type { Status } from "./bindings/Status";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { JsonValue } from "./bindings/serde_json/JsonValue";
import type { Transition } from "./bindings/Transition";
import type { TrustedKey } from "./bindings/TrustedKey";
import type { UpdateCheck } from "./bindings/UpdateCheck";
import type { UpdateDownload } from "./bindings/UpdateDownload";
import type { UpdaterSettings } from "./bindings/UpdaterSettings";
import type { VersionDetail } from "./bindings/VersionDetail";
import type { VersionHistory } from "./bindings/VersionHistory";
import type { VersionRef } from "./bindings/VersionRef";

/** A failure of a command: `code` (stable, to branch on), `message` (for people). */
export class ApiError extends Error {
  readonly code: string;
  readonly line: number | null;
  readonly column: number | null;

  constructor(body: ErrorBody) {
    super(body.message);
    this.name = "ApiError";
    this.code = body.code;
    this.line = body.line;
    this.column = body.column;
  }
}

function isErrorBody(e: unknown): e is ErrorBody {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}

/** Calls a command; whatever it throws becomes an `ApiError`. */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isErrorBody(e))
      throw new ApiError({ ...e, line: e.line ?? null, column: e.column ?? null });
    const message = typeof e === "string" ? e : e instanceof Error ? e.message : String(e);
    throw new ApiError({ code: "internal", message, line: null, column: null });
  }
}

let runCounter = 0;

/** A run that reports progress and can be cancelled. */
export interface Run<T> {
  id: string;
  result: Promise<T>;
  cancel: () => Promise<boolean>;
}

function startRun<T>(
  command: string,
  args: Record<string, unknown>,
  onProgress: (p: SimProgress) => void,
): Run<T> {
  runCounter += 1;
  const id = `run-${Date.now()}-${runCounter}`;
  const channel = new Channel<SimProgress>();
  channel.onmessage = onProgress;
  const result = call<T>(command, { ...args, runId: id, onProgress: channel });
  return { id, result, cancel: () => call<boolean>("cancel_run", { runId: id }) };
}

export const api = {
  /** Data directory, identities, environments, and whether the store is empty. */
  appInfo: () => call<AppInfo>("app_info"),
  /** Chooses which identity acts in this window. */
  setActing: (name: string) => call<void>("set_acting", { name }),
  /** Stores the example bundles as drafts (running it again adds nothing). */
  loadExamples: () => call<InitReport>("load_examples"),
  /** A new identity with its key in the OS keychain; it becomes the acting one. */
  /**
   * A new identity with its key in the OS keychain (it acts when none did).
   * `roles` are granted only by a security identity (`refused` otherwise);
   * the store's first identity gets every person role.
   */
  createIdentity: (name: string, email: string, roles?: string[]) =>
    call<IdentityInfo>("create_identity", { name, email, roles: roles ?? null }),
  /** Every version, newest first, with its state per environment. */
  bundleIndex: () => call<BundleIndex>("bundle_index"),
  /** One version with its document (`NAME@VERSION` or `sha256:` prefix). */
  showVersion: (reference: string) => call<VersionDetail>("show_version", { reference }),
  /** Every version of a bundle name and every audit entry about them. */
  history: (name: string) => call<VersionHistory>("history", { name }),
  /** Lints the editor's text (`fileName` tells JSON from YAML). */
  lint: (document: string, fileName?: string) =>
    call<LintResult>("lint", { document, fileName: fileName ?? null }),
  /**
   * Saves the editor's text: edits the draft `reference` when the text keeps
   * its name and version, else creates a new draft. Fails with `no_identity`
   * when the store has no identity yet, `invalid_bundle` (with line and
   * column) when the text cannot be saved, `version_exists`, `not_a_draft`.
   */
  saveDraft: (args: {
    document: string;
    reference?: string | null;
    notes?: string;
    fileName?: string;
  }) =>
    call<SavedDraft>("save_draft", {
      document: args.document,
      reference: args.reference ?? null,
      notes: args.notes ?? null,
      fileName: args.fileName ?? null,
    }),
  /** Stores a bundle file's text (YAML or JSON) as a new draft. */
  importBundle: (fileName: string, document: string) =>
    call<SavedDraft>("import_bundle", { fileName, document }),
  /** The version's document with the next free patch version, to edit and save. */
  newVersionFrom: (reference: string) => call<NewDraft>("new_version_from", { reference }),
  /** The document with the rule builder's rule appended (fails with `invalid_rule`). */
  addRule: (document: string, rule: RuleDraft, fileName?: string) =>
    call<RuleInsert>("add_rule", { document, rule, fileName: fileName ?? null }),
  /** Two stored versions rule by rule, each change classed. */
  diff: (oldRef: string, newRef: string) =>
    call<DiffView>("diff_view", { old: oldRef, new: newRef }),
  /** Simulates a version or the editor's text; cancel ends it with `cancelled`. */
  simulate: (
    source: SimSource,
    dataset: DatasetSpec,
    onProgress: (p: SimProgress) => void,
  ): Run<SimOutcome> => startRun<SimOutcome>("simulate", { source, dataset }, onProgress),
  /** Compares A and B over one dataset; lists the cases whose effect changed. */
  compare: (
    a: SimSource,
    b: SimSource,
    dataset: DatasetSpec,
    onProgress: (p: SimProgress) => void,
  ): Run<CompareOutcome> => startRun<CompareOutcome>("compare", { a, b, dataset }, onProgress),
  /** What waits for the acting identity's decision, and what it submitted. */
  inbox: () => call<Inbox>("inbox"),
  /** The diff against the active version, the simulated impact, lint and approvals so far. */
  review: (reference: string, environment: string) =>
    call<ReviewView>("review", { reference, environment }),
  /** Per environment and bundle: active and canary versions, gates, pending versions. */
  status: (bundle?: string, environment?: string) =>
    call<Status>("status", { bundle: bundle ?? null, environment: environment ?? null }),
  /** Freezes a draft so it can be approved (`not_a_draft` otherwise). */
  submit: (reference: string) => call<VersionRef>("submit", { reference }),
  /**
   * Approves or rejects a version for an environment, signed with the acting
   * identity's key (`author_cannot_approve`, `already_decided`,
   * `comment_required`, `not_an_approver` are refusals to show as such).
   */
  decide: (reference: string, environment: string, decision: Decision, comment: string) =>
    call<ApprovalRecord>("decide", { reference, environment, decision, comment }),
  /**
   * Activates an approved version (a canary at 10%, or 100%); `expected` is
   * the state the screen showed (`stale_state` when it moved meanwhile).
   */
  activate: (reference: string, environment: string, expected?: Expected) =>
    call<Transition>("activate", { reference, environment, expected: expected ?? null }),
  /** Promotes the canary one step on these metrics (a metrics file's text); `not_ready` says why not. */
  promote: (bundle: string, environment: string, metrics: string, expected?: Expected) =>
    call<Transition>("promote", { bundle, environment, metrics, expected: expected ?? null }),
  /**
   * The monitor on the canary's metrics: the gates recorded, and the canary rolled back
   * (`action` "auto_rollback", with `tripped` and `incident`) when a threshold trips.
   */
  monitor: (bundle: string, environment: string, metrics: string, expected?: Expected) =>
    call<Transition>("monitor", { bundle, environment, metrics, expected: expected ?? null }),
  /** Drops the canary or restores the previous version (a reason of 10+ characters). */
  rollback: (environment: string, reason: string, bundle?: string, expected?: Expected) =>
    call<Transition>("rollback", {
      environment,
      reason,
      bundle: bundle ?? null,
      expected: expected ?? null,
    }),
  /** Incidents, newest first (only the open ones when `open`). */
  incidents: (open: boolean) => call<Incident[]>("incidents", { open }),
  /** Closes an incident with a comment of 10+ characters. */
  resolveIncident: (id: number, comment: string) =>
    call<Incident>("resolve_incident", { id, comment }),

  // Files the user names (`~/` is the home directory).
  /** Reads a text file (16 MiB at most). */
  readTextFile: (path: string) => call<FileText>("read_text_file", { path }),
  /** Writes a file whole or not at all; `exists` unless `overwrite`. Answers the path. */
  writeTextFile: (path: string, text: string, overwrite = false) =>
    call<string>("write_text_file", { path, text, overwrite }),

  // Keys and trust.
  /** Every key, who acts, and whether they may grant roles. */
  keys: () => call<KeysView>("keys_view"),
  /** Sets a trusted key's roles (a security identity's act). */
  setRoles: (keyid: string, roles: string[]) => call<KeyInfo>("set_roles", { keyid, roles }),
  /** Trusts the keys in a public key file or trust store export. */
  trustKeys: (text: string, roles?: string[]) =>
    call<TrustedKey[]>("trust_keys", { text, roles: roles ?? null }),
  untrustKey: (keyid: string) => call<void>("untrust_key", { keyid }),
  /** A new key for an identity; the old one is retired. */
  rotateKey: (name: string) => call<Rotation>("rotate_key", { name }),
  /** A key's public half, to send to another console. */
  exportKey: (who: string) => call<PublicKey>("export_key", { who }),
  /** The trust store export `{version: 1, keys}`. */
  exportTrust: () => call<JsonValue>("export_trust"),
  /** A passphrase-encrypted backup of a private key (`age` armor, to save). */
  backupKey: (who: string, passphrase: string) =>
    call<BackupText>("backup_key", { who, passphrase }),
  restoreKey: (text: string, passphrase: string) =>
    call<KeyRestore>("restore_key", { text, passphrase }),

  // The audit log.
  auditList: (filters: AuditFilters) => call<AuditEntry[]>("audit_list", { filters }),
  /** Verifies the chain; with a checkpoint file's text, also against it. */
  auditVerify: (checkpoint?: string) =>
    call<AuditVerification>("audit_verify", { checkpoint: checkpoint ?? null }),
  /** The whole log as JSON Lines, to save. */
  auditExport: () => call<AuditText>("audit_export"),
  /** A checkpoint signed by the operator key (its envelope is the file to keep). */
  auditCheckpoint: () => call<SignedCheckpoint>("audit_checkpoint"),

  // Overrides.
  overrideLists: () => call<OverrideLists>("override_lists"),
  /** Issues an override signed by the acting identity (security role). */
  issueOverride: (form: OverrideForm) => call<IssuedOverride>("issue_override", { form }),
  /** Verifies an override file's text; `secret` names a keychain secret for legacy files. */
  verifyOverride: (text: string, secret?: string) =>
    call<OverrideVerification>("verify_override", { text, secret: secret ?? null }),

  // Scorecards.
  scorecardExamples: () => call<ScorecardExamples>("scorecard_examples"),
  evaluateScorecards: (request: ScorecardRequest) =>
    call<ScorecardOutcome>("evaluate_scorecards", { request }),
  scorecardRuns: (query: RunsQuery) => call<ScorecardRun[]>("scorecard_runs", { query }),
  borderlineQueue: () => call<BorderlineItem[]>("borderline_queue"),
  /** Copies the decision log to `path`; answers the path written. */
  exportDecisionLog: (path: string, overwrite = false) =>
    call<string>("export_decision_log", { path, overwrite }),

  // Environments.
  environments: () => call<Environment[]>("environments"),
  addEnvironment: (name: string, form: EnvForm) =>
    call<Environment>("add_environment", { name, form }),
  setEnvironment: (name: string, form: EnvForm) =>
    call<Environment>("set_environment", { name, form }),

  // The offline review.
  /** A signed review package for an offline reviewer (its envelope is the file). */
  packReview: (reference: string, environment: string) =>
    call<ReviewPackage>("pack_review", { reference, environment }),
  /** What a package holds, and whether it can be signed here. */
  showReview: (text: string) => call<ReviewReport>("show_review", { text }),
  /** Signs a package with the acting identity's key (its envelope is the approval file). */
  signReview: (text: string, decision: Decision, comment: string) =>
    call<SignedApproval>("sign_review", { text, decision, comment }),
  /** Records a signed approval file made by an offline reviewer. */
  importApproval: (text: string) => call<ApprovalRecord>("import_approval", { text }),

  // The updater (DESIGN §11.14).
  updaterSettings: () => call<UpdaterSettings>("updater_settings"),
  /** Saves the endpoint and public key (`invalid` names what is wrong). */
  setUpdaterSettings: (settings: UpdaterSettings) =>
    call<void>("set_updater_settings", { settings }),
  /** Asks the endpoint whether a newer version is offered. */
  checkForUpdate: () => call<UpdateCheck>("check_for_update"),
  /**
   * Downloads the offered update and checks its signature (and the version it was
   * signed for) against the public key; `update_refused` when they do not hold.
   * Answers the version verified and its size; nothing is installed yet.
   */
  downloadUpdate: () => call<UpdateDownload>("download_update"),
  /** Installs the verified download; Gavel must then be restarted. Answers the version. */
  installUpdate: () => call<string>("install_update"),

  // The team's registries (DESIGN §11.16).
  registries: () => call<RegistryRow[]>("registries"),
  /** Adds a registry (oci://HOST/NS, oci+http://HOST:PORT/NS, dir:/PATH); a password goes to the keychain. */
  addRegistry: (name: string, url: string, username?: string, password?: string) =>
    call<RegistryRow>("add_registry", {
      name,
      url,
      username: username ?? null,
      password: password ?? null,
    }),
  /** Removes a registry no bundle is bound to (`refused` otherwise). */
  removeRegistry: (name: string) => call<void>("remove_registry", { name }),
  /** Binds a bundle to a registry: its versions and approvals travel through it. */
  bindBundle: (bundle: string, registry: string) =>
    call<RegistryRow>("bind_bundle", { bundle, registry }),
  /** Pushes a version (or, with `dryRun`, says what would go up). */
  pushVersion: (reference: string, dryRun = false) =>
    call<PushReport>("push_version", { reference, dryRun }),
  /**
   * Fetches what the team published (versions, approvals), verified; lists what did
   * not verify; publishes what this console has. `registry_unreachable` when down.
   */
  sync: (bundle?: string) => call<SyncStatus>("sync", { bundle: bundle ?? null }),
  /** The last sync of this window (and a publish that failed since). */
  syncStatus: () => call<SyncStatus>("sync_status"),
};
