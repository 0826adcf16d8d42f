//! Gavel's desktop shell: the window, and one command per thing the front
//! end asks, each a few lines over `gavel-console` (DESIGN §2). The
//! console (store and keychain) is opened once at start and reached through
//! Tauri's state; errors cross as `{code, message, line, column}`
//! ([`ErrorBody`]) and the front end branches on `code`. Simulations run
//! on a blocking thread, report progress through a channel and stop when
//! `cancel_run` names them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gavel_console::desktop::{
    self, AppInfo, AuditFilters, AuditText, BackupText, BorderlineItem, BundleIndex,
    CompareOutcome, DatasetSpec, DiffView, EnvForm, ErrorBody, Expected, FileText, IdentityInfo,
    Inbox, KeysView, LintResult, NewDraft, OverrideForm, OverrideLists, ReviewView, Rotation,
    RuleDraft, RuleInsert, RunsQuery, SavedDraft, ScorecardExamples, ScorecardOutcome,
    ScorecardRequest, SimOutcome, SimProgress, SimSource, SyncStatus, UpdateCheck, UpdateDownload,
    UpdaterSettings,
};
use gavel_console::{
    ApprovalRecord, AuditEntry, AuditVerification, Console, Decision, Environment, Incident,
    InitReport, IssuedOverride, KeyInfo, KeyRestore, OsKeychain, OverrideVerification, PushReport,
    RegistryRow, ReviewPackage, ReviewReport, ScorecardRun, SignedApproval, SignedCheckpoint,
    Status, Transition, TrustedKey, VersionDetail, VersionHistory, VersionRef, gavel_home,
    keychain_service,
};
use gavel_trust::PublicKey;
use tauri::ipc::Channel;
use tauri::{Manager, State};

type Reply<T> = Result<T, ErrorBody>;

/// What every command reaches: the console (or why it could not open),
/// the identity acting in this window, and the runs that can be cancelled.
struct App {
    console: Result<Console, ErrorBody>,
    acting: Mutex<Option<String>>,
    runs: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// The editor's last parse, so that lint as you type parses only the
    /// rule that changed.
    lint_cache: Arc<Mutex<desktop::ParseCache>>,
    /// The last sync with the team's registries, for the status line.
    last_sync: tokio::sync::Mutex<SyncStatus>,
    /// An update downloaded and verified, waiting for the user to install it.
    pending_update: tokio::sync::Mutex<Option<(tauri_plugin_updater::Update, Vec<u8>)>>,
}

impl App {
    fn console(&self) -> Reply<&Console> {
        self.console.as_ref().map_err(Clone::clone)
    }

    fn actor(&self) -> Option<String> {
        self.acting.lock().ok().and_then(|a| a.clone())
    }

    /// Registers a run under `id`; the guard forgets it when the run ends.
    fn start_run(&self, id: &str) -> Reply<RunGuard<'_>> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| ErrorBody::new("internal", "the run table is poisoned; restart Gavel"))?;
        if runs.contains_key(id) {
            return Err(ErrorBody::new(
                "invalid",
                format!("a run `{id}` is already going"),
            ));
        }
        runs.insert(id.to_string(), flag.clone());
        Ok(RunGuard {
            app: self,
            id: id.to_string(),
            flag,
        })
    }
}

struct RunGuard<'a> {
    app: &'a App,
    id: String,
    flag: Arc<AtomicBool>,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut runs) = self.app.runs.lock() {
            runs.remove(&self.id);
        }
    }
}

/// Work that keeps a core busy runs off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Reply<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| ErrorBody::new("internal", format!("the work stopped: {e}")))
}

#[tauri::command]
async fn app_info(app: State<'_, App>, handle: tauri::AppHandle) -> Reply<AppInfo> {
    let version = handle.package_info().version.to_string();
    let info = app
        .console()?
        .app_info(&version, app.actor().as_deref())
        .await?;
    // One identity acts by default; with several, the window picks one.
    if let Ok(mut acting) = app.acting.lock() {
        acting.clone_from(&info.acting);
    }
    Ok(info)
}

#[tauri::command]
async fn set_acting(app: State<'_, App>, name: String) -> Reply<()> {
    let console = app.console()?;
    let me = console.acting_identity(Some(&name)).await?;
    if let Ok(mut acting) = app.acting.lock() {
        *acting = Some(me.name);
    }
    Ok(())
}

#[tauri::command]
async fn load_examples(app: State<'_, App>) -> Reply<InitReport> {
    Ok(app.console()?.init(true).await?)
}

/// Creates an identity; the first in a store gets every person role, and
/// later ones the roles a security identity grants (`roles`). The new
/// identity acts in this window only when none acted.
#[tauri::command]
async fn create_identity(
    app: State<'_, App>,
    name: String,
    email: String,
    roles: Option<Vec<String>>,
) -> Reply<IdentityInfo> {
    let key = app
        .console()?
        .create_identity_with_roles(
            &name,
            &email,
            &roles.unwrap_or_default(),
            app.actor().as_deref(),
        )
        .await?;
    if let Ok(mut acting) = app.acting.lock() {
        if acting.is_none() {
            *acting = Some(key.name.clone());
        }
    }
    Ok(IdentityInfo {
        name: key.name,
        email: key.email,
        keyid: key.keyid.0,
        roles: key.roles.iter().map(|r| r.as_str().to_string()).collect(),
    })
}

#[tauri::command]
async fn bundle_index(app: State<'_, App>) -> Reply<BundleIndex> {
    app.console()?.bundle_index().await
}

#[tauri::command]
async fn show_version(app: State<'_, App>, reference: String) -> Reply<VersionDetail> {
    Ok(app.console()?.show_version(&reference).await?)
}

#[tauri::command]
async fn history(app: State<'_, App>, name: String) -> Reply<VersionHistory> {
    Ok(app.console()?.history(&name).await?)
}

#[tauri::command]
async fn lint(
    app: State<'_, App>,
    document: String,
    file_name: Option<String>,
) -> Reply<LintResult> {
    let name = file_name.unwrap_or_else(|| "bundle.yaml".to_string());
    let cache = app.lint_cache.clone();
    blocking(move || match cache.lock() {
        Ok(mut cache) => desktop::lint_text_cached(&document, &name, &mut cache),
        Err(_) => desktop::lint_text(&document, &name),
    })
    .await
}

#[tauri::command]
async fn save_draft(
    app: State<'_, App>,
    document: String,
    file_name: Option<String>,
    reference: Option<String>,
    notes: Option<String>,
) -> Reply<SavedDraft> {
    let name = file_name.unwrap_or_else(|| "bundle.yaml".to_string());
    app.console()?
        .save_draft(
            &document,
            &name,
            reference.as_deref(),
            notes.as_deref().unwrap_or_default(),
            app.actor().as_deref(),
        )
        .await
}

#[tauri::command]
async fn import_bundle(
    app: State<'_, App>,
    file_name: String,
    document: String,
) -> Reply<SavedDraft> {
    app.console()?
        .save_draft(&document, &file_name, None, "", app.actor().as_deref())
        .await
}

#[tauri::command]
async fn new_version_from(app: State<'_, App>, reference: String) -> Reply<NewDraft> {
    app.console()?.new_version_from(&reference).await
}

#[tauri::command]
async fn add_rule(
    document: String,
    file_name: Option<String>,
    rule: RuleDraft,
) -> Reply<RuleInsert> {
    let name = file_name.unwrap_or_else(|| "bundle.yaml".to_string());
    desktop::add_rule(&document, &name, &rule)
}

#[tauri::command]
async fn diff_view(app: State<'_, App>, old: String, new: String) -> Reply<DiffView> {
    app.console()?.diff_view(&old, &new).await
}

#[tauri::command]
async fn inbox(app: State<'_, App>) -> Reply<Inbox> {
    app.console()?.inbox(app.actor().as_deref()).await
}

#[tauri::command]
async fn status(
    app: State<'_, App>,
    bundle: Option<String>,
    environment: Option<String>,
) -> Reply<Status> {
    Ok(app
        .console()?
        .status(bundle.as_deref(), environment.as_deref())
        .await?)
}

/// What a reviewer reads before deciding on a version for an environment.
#[tauri::command]
async fn review(app: State<'_, App>, reference: String, environment: String) -> Reply<ReviewView> {
    app.console()?.review(&reference, &environment).await
}

#[tauri::command]
async fn submit(app: State<'_, App>, reference: String) -> Reply<VersionRef> {
    let v = app
        .console()?
        .submit(&reference, app.actor().as_deref())
        .await?;
    publish_after(&app, &v.reference).await;
    Ok(v)
}

/// After a change to a version of a bound bundle: publishes it; a failure
/// is kept for the sync status line (the change stands; a sync publishes
/// it later).
async fn publish_after(app: &App, reference: &str) {
    let Ok(console) = app.console() else { return };
    let bundle = reference.split('@').next().unwrap_or_default();
    if let Some(Err(e)) = console
        .publish_if_bound(bundle, app.actor().as_deref())
        .await
    {
        let mut last = app.last_sync.lock().await;
        let mut body = ErrorBody::from(e);
        body.message = format!(
            "{reference} is recorded here but was not published: {}; Sync publishes it",
            body.message
        );
        last.error = Some(body);
    }
}

/// Approves or rejects a version for an environment, signed with the
/// acting identity's key from the keychain.
#[tauri::command]
async fn decide(
    app: State<'_, App>,
    reference: String,
    environment: String,
    decision: Decision,
    comment: String,
) -> Reply<ApprovalRecord> {
    let r = app
        .console()?
        .decide(
            &reference,
            &environment,
            decision,
            &comment,
            None,
            app.actor().as_deref(),
        )
        .await?;
    publish_after(&app, &r.reference).await;
    Ok(r)
}

/// Activates an approved version: a canary at 10%, or 100% where nothing
/// is active or canary is off.
#[tauri::command]
async fn activate(
    app: State<'_, App>,
    reference: String,
    environment: String,
    expected: Option<Expected>,
) -> Reply<Transition> {
    let expect = (&expected.unwrap_or_default()).into();
    let console = app.console()?;
    let actor = app.actor();
    let bundle = reference.split('@').next().unwrap_or_default();
    let change = console.activate(&reference, &environment, &expect, actor.as_deref());
    shared(&app, Some(bundle), &environment, change).await
}

/// A state change as a team makes it (`Console::shared_change`: stale
/// while the registry is ahead, the rollout published after); a failed
/// publish or a lost race is kept for the sync status line.
async fn shared(
    app: &App,
    bundle: Option<&str>,
    environment: &str,
    change: impl std::future::Future<Output = Result<Transition, gavel_console::LifecycleError>>,
) -> Reply<Transition> {
    let actor = app.actor();
    let (t, published) = app
        .console()?
        .shared_change(bundle, environment, change, actor.as_deref())
        .await?;
    let problem = match published {
        Some(Err(e)) => Some(ErrorBody::from(e)),
        Some(Ok(p)) => p
            .conflict
            .map(|c| ErrorBody::new("stale_state", format!("{c}; Sync to see it"))),
        None => None,
    };
    if let Some(body) = problem {
        app.last_sync.lock().await.error = Some(body);
    }
    Ok(t)
}

/// Promotes the canary one step when every gate passes on `metrics` (the
/// metrics file's text) and the bake time has elapsed.
#[tauri::command]
async fn promote(
    app: State<'_, App>,
    bundle: String,
    environment: String,
    metrics: String,
    expected: Option<Expected>,
) -> Reply<Transition> {
    let metrics = desktop::metrics_from_text(&metrics)?;
    let expect = (&expected.unwrap_or_default()).into();
    let console = app.console()?;
    let actor = app.actor();
    let change = console.promote(&bundle, &environment, &metrics, &expect, actor.as_deref());
    shared(&app, Some(&bundle), &environment, change).await
}

/// The monitor of DESIGN §7 on the canary's metrics: records the gates,
/// and rolls the canary back itself when a threshold trips (at least 50
/// canary decisions).
#[tauri::command]
async fn monitor(
    app: State<'_, App>,
    bundle: String,
    environment: String,
    metrics: String,
    expected: Option<Expected>,
) -> Reply<Transition> {
    let metrics = desktop::metrics_from_text(&metrics)?;
    let expect = (&expected.unwrap_or_default()).into();
    let console = app.console()?;
    let actor = app.actor();
    let change = console.monitor(&bundle, &environment, &metrics, &expect, actor.as_deref());
    shared(&app, Some(&bundle), &environment, change).await
}

/// Drops the canary, or restores the previous active version (a reason of
/// 10 characters or more; an incident is opened).
#[tauri::command]
async fn rollback(
    app: State<'_, App>,
    environment: String,
    bundle: Option<String>,
    reason: String,
    expected: Option<Expected>,
) -> Reply<Transition> {
    let expect = (&expected.unwrap_or_default()).into();
    let console = app.console()?;
    let actor = app.actor();
    let change = console.rollback(
        &environment,
        bundle.as_deref(),
        &reason,
        &expect,
        actor.as_deref(),
    );
    shared(&app, bundle.as_deref(), &environment, change).await
}

#[tauri::command]
async fn incidents(app: State<'_, App>, open: bool) -> Reply<Vec<Incident>> {
    Ok(app.console()?.incidents(open).await?)
}

#[tauri::command]
async fn resolve_incident(app: State<'_, App>, id: i64, comment: String) -> Reply<Incident> {
    Ok(app
        .console()?
        .resolve_incident(id, &comment, app.actor().as_deref())
        .await?)
}

// The governance screens: files, keys and trust, audit, overrides,
// scorecards, environments and the offline review.

#[tauri::command]
async fn read_text_file(path: String) -> Reply<FileText> {
    blocking(move || desktop::read_text_file(&path)).await?
}

#[tauri::command]
async fn write_text_file(path: String, text: String, overwrite: bool) -> Reply<String> {
    blocking(move || desktop::write_text_file(&path, &text, overwrite)).await?
}

#[tauri::command]
async fn keys_view(app: State<'_, App>) -> Reply<KeysView> {
    app.console()?.keys_view(app.actor().as_deref()).await
}

#[tauri::command]
async fn set_roles(app: State<'_, App>, keyid: String, roles: Vec<String>) -> Reply<KeyInfo> {
    app.console()?
        .set_roles(&keyid, &roles, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn trust_keys(
    app: State<'_, App>,
    text: String,
    roles: Option<Vec<String>>,
) -> Reply<Vec<TrustedKey>> {
    app.console()?
        .trust_text(&text, roles.as_deref(), app.actor().as_deref())
        .await
}

#[tauri::command]
async fn untrust_key(app: State<'_, App>, keyid: String) -> Reply<()> {
    Ok(app
        .console()?
        .untrust_key(&keyid, app.actor().as_deref())
        .await?)
}

#[tauri::command]
async fn rotate_key(app: State<'_, App>, name: String) -> Reply<Rotation> {
    app.console()?.rotate_key(&name).await
}

#[tauri::command]
async fn export_key(app: State<'_, App>, who: String) -> Reply<PublicKey> {
    Ok(app.console()?.export_key(&who).await?)
}

#[tauri::command]
async fn export_trust(app: State<'_, App>) -> Reply<serde_json::Value> {
    Ok(app.console()?.export_trust().await?)
}

#[tauri::command]
async fn backup_key(app: State<'_, App>, who: String, passphrase: String) -> Reply<BackupText> {
    app.console()?.backup_text(&who, &passphrase).await
}

#[tauri::command]
async fn restore_key(app: State<'_, App>, text: String, passphrase: String) -> Reply<KeyRestore> {
    app.console()?.restore_text(&text, &passphrase).await
}

#[tauri::command]
async fn audit_list(app: State<'_, App>, filters: AuditFilters) -> Reply<Vec<AuditEntry>> {
    app.console()?.audit_entries(filters).await
}

/// Verifies the chain (and a checkpoint file's text, when given).
#[tauri::command]
async fn audit_verify(app: State<'_, App>, checkpoint: Option<String>) -> Reply<AuditVerification> {
    Ok(app.console()?.audit_verify(checkpoint.as_deref()).await?)
}

#[tauri::command]
async fn audit_export(app: State<'_, App>) -> Reply<AuditText> {
    app.console()?.audit_text().await
}

#[tauri::command]
async fn audit_checkpoint(app: State<'_, App>) -> Reply<SignedCheckpoint> {
    Ok(app.console()?.audit_checkpoint().await?)
}

#[tauri::command]
async fn override_lists(app: State<'_, App>) -> Reply<OverrideLists> {
    app.console()?.override_lists(app.actor().as_deref()).await
}

#[tauri::command]
async fn issue_override(app: State<'_, App>, form: OverrideForm) -> Reply<IssuedOverride> {
    app.console()?
        .issue_override_form(&form, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn verify_override(
    app: State<'_, App>,
    text: String,
    secret: Option<String>,
) -> Reply<OverrideVerification> {
    app.console()?
        .verify_override_text(&text, secret.as_deref())
        .await
}

#[tauri::command]
fn scorecard_examples() -> ScorecardExamples {
    desktop::scorecard_examples()
}

#[tauri::command]
async fn evaluate_scorecards(
    app: State<'_, App>,
    request: ScorecardRequest,
) -> Reply<ScorecardOutcome> {
    app.console()?
        .evaluate_scorecards(&request, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn scorecard_runs(app: State<'_, App>, query: RunsQuery) -> Reply<Vec<ScorecardRun>> {
    app.console()?.scorecard_runs(query).await
}

#[tauri::command]
async fn borderline_queue(app: State<'_, App>) -> Reply<Vec<BorderlineItem>> {
    app.console()?.borderline_queue()
}

#[tauri::command]
async fn export_decision_log(app: State<'_, App>, path: String, overwrite: bool) -> Reply<String> {
    let console = app.console()?.clone();
    blocking(move || console.export_decision_log(&path, overwrite)).await?
}

#[tauri::command]
async fn environments(app: State<'_, App>) -> Reply<Vec<Environment>> {
    Ok(app.console()?.environments().await?)
}

#[tauri::command]
async fn add_environment(app: State<'_, App>, name: String, form: EnvForm) -> Reply<Environment> {
    app.console()?
        .add_environment_form(&name, form, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn set_environment(app: State<'_, App>, name: String, form: EnvForm) -> Reply<Environment> {
    app.console()?
        .set_environment_form(&name, form, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn pack_review(
    app: State<'_, App>,
    reference: String,
    environment: String,
) -> Reply<ReviewPackage> {
    app.console()?
        .pack_review_for(&reference, &environment, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn show_review(app: State<'_, App>, text: String) -> Reply<ReviewReport> {
    app.console()?.show_review_text(&text).await
}

#[tauri::command]
async fn sign_review(
    app: State<'_, App>,
    text: String,
    decision: Decision,
    comment: String,
) -> Reply<SignedApproval> {
    app.console()?
        .sign_review_text(&text, decision, &comment, app.actor().as_deref())
        .await
}

#[tauri::command]
async fn import_approval(app: State<'_, App>, text: String) -> Reply<ApprovalRecord> {
    app.console()?.import_approval_text(&text).await
}

// The updater (DESIGN §11.14): the endpoint and public key come from the
// settings; each artifact's minisign signature, and the version it was
// signed for, are checked at download (`requireSignedVersion`).

/// How long a check or a download may take.
const UPDATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn update_error(e: tauri_plugin_updater::Error) -> ErrorBody {
    use tauri_plugin_updater::Error as E;
    let code = match &e {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => "update_refused",
        E::InsecureTransportProtocol | E::UrlParse(_) | E::EmptyEndpoints => "invalid",
        _ => "update_unavailable",
    };
    let advice = match code {
        "update_refused" => {
            " — the update was refused: its signature does not verify against the configured public key, or it was signed for another version; nothing was installed"
        }
        "update_unavailable" => {
            " — check the update endpoint in Settings and the network, then try again"
        }
        _ => "",
    };
    ErrorBody::new(code, format!("{e}{advice}"))
}

/// The updater built from the saved settings.
fn updater(
    handle: &tauri::AppHandle,
    home: &std::path::Path,
) -> Reply<tauri_plugin_updater::Updater> {
    use tauri_plugin_updater::UpdaterExt;
    let settings = UpdaterSettings::load(home)?;
    if settings.endpoint.is_empty() || settings.pubkey.is_empty() {
        return Err(ErrorBody::new(
            "updater_off",
            "updates are off: set the update endpoint and its public key in Settings",
        ));
    }
    let url = tauri::Url::parse(&settings.endpoint).map_err(|e| {
        ErrorBody::new(
            "invalid",
            format!(
                "the update endpoint `{}` is not a URL: {e}",
                settings.endpoint
            ),
        )
    })?;
    handle
        .updater_builder()
        .endpoints(vec![url])
        .map_err(update_error)?
        .pubkey(settings.pubkey)
        .timeout(UPDATE_TIMEOUT)
        .build()
        .map_err(update_error)
}

#[tauri::command]
async fn updater_settings(app: State<'_, App>) -> Reply<UpdaterSettings> {
    UpdaterSettings::load(app.console()?.home())
}

/// Saves the settings; a download verified under the old ones is dropped.
#[tauri::command]
async fn set_updater_settings(app: State<'_, App>, settings: UpdaterSettings) -> Reply<()> {
    settings.save(app.console()?.home())?;
    *app.pending_update.lock().await = None;
    Ok(())
}

fn update_check(
    handle: &tauri::AppHandle,
    found: Option<&tauri_plugin_updater::Update>,
) -> UpdateCheck {
    UpdateCheck {
        current_version: handle.package_info().version.to_string(),
        available: found.is_some(),
        version: found.map(|u| u.version.clone()),
        notes: found.and_then(|u| u.body.clone()),
        date: found.and_then(|u| u.date).and_then(|d| {
            jiff::Timestamp::from_second(d.unix_timestamp())
                .ok()
                .map(gavel_trust::rfc3339)
        }),
    }
}

#[tauri::command]
async fn check_for_update(app: State<'_, App>, handle: tauri::AppHandle) -> Reply<UpdateCheck> {
    let found = updater(&handle, app.console()?.home())?
        .check()
        .await
        .map_err(update_error)?;
    Ok(update_check(&handle, found.as_ref()))
}

/// Downloads the offered update and verifies its signature against the
/// configured key; kept until `install_update`. Answers the version
/// verified and its size. Whatever was downloaded before is dropped first,
/// so a refused download leaves nothing to install.
#[tauri::command]
async fn download_update(app: State<'_, App>, handle: tauri::AppHandle) -> Reply<UpdateDownload> {
    *app.pending_update.lock().await = None;
    let update = updater(&handle, app.console()?.home())?
        .check()
        .await
        .map_err(update_error)?
        .ok_or_else(|| ErrorBody::new("not_found", "no newer version is offered"))?;
    let bytes = update
        .download(|_, _| {}, || {})
        .await
        .map_err(update_error)?;
    let done = UpdateDownload {
        version: update.version.clone(),
        bytes: bytes.len() as u64,
    };
    *app.pending_update.lock().await = Some((update, bytes));
    Ok(done)
}

/// Installs the verified download; Gavel then needs a restart.
#[tauri::command]
async fn install_update(app: State<'_, App>) -> Reply<String> {
    let pending = app.pending_update.lock().await.take();
    let (update, bytes) = pending.ok_or_else(|| {
        ErrorBody::new(
            "not_found",
            "nothing is downloaded: download the update first",
        )
    })?;
    let version = update.version.clone();
    update.install(bytes).map_err(update_error)?;
    Ok(version)
}

// The team's registries (DESIGN §11.16).

#[tauri::command]
async fn registries(app: State<'_, App>) -> Reply<Vec<RegistryRow>> {
    Ok(app.console()?.registry_list().await?)
}

/// Adds a registry; a password goes to the OS keychain.
#[tauri::command]
async fn add_registry(
    app: State<'_, App>,
    name: String,
    url: String,
    username: Option<String>,
    password: Option<String>,
) -> Reply<RegistryRow> {
    let username = username.filter(|u| !u.trim().is_empty());
    let password = password
        .filter(|p| !p.is_empty())
        .map(gavel_trust::Sensitive::new);
    Ok(app
        .console()?
        .registry_add(
            name.trim(),
            url.trim(),
            username.as_deref(),
            password.as_ref(),
            app.actor().as_deref(),
        )
        .await?)
}

#[tauri::command]
async fn remove_registry(app: State<'_, App>, name: String) -> Reply<()> {
    Ok(app
        .console()?
        .registry_rm(&name, app.actor().as_deref())
        .await?)
}

#[tauri::command]
async fn bind_bundle(app: State<'_, App>, bundle: String, registry: String) -> Reply<RegistryRow> {
    Ok(app
        .console()?
        .bind_bundle(&bundle, &registry, app.actor().as_deref())
        .await?)
}

#[tauri::command]
async fn push_version(app: State<'_, App>, reference: String, dry_run: bool) -> Reply<PushReport> {
    Ok(app
        .console()?
        .push(&reference, dry_run, app.actor().as_deref())
        .await?)
}

/// Syncs every bound bundle (or one) and keeps the outcome for the status
/// line; a failure as a whole is kept too, and answered.
#[tauri::command]
async fn sync(app: State<'_, App>, bundle: Option<String>) -> Reply<SyncStatus> {
    let outcome = app
        .console()?
        .sync_all(bundle.as_deref(), app.actor().as_deref())
        .await;
    let mut last = app.last_sync.lock().await;
    last.at = Some(gavel_trust::rfc3339(jiff::Timestamp::now()));
    match outcome {
        Ok(reports) => {
            last.reports = reports;
            last.error = None;
            Ok(last.clone())
        }
        Err(e) => {
            let body = ErrorBody::from(e);
            last.error = Some(body.clone());
            Err(body)
        }
    }
}

#[tauri::command]
async fn sync_status(app: State<'_, App>) -> Reply<SyncStatus> {
    Ok(app.last_sync.lock().await.clone())
}

/// Reports progress at most every 50 ms, and the last count always.
fn reporter(channel: Channel<SimProgress>) -> impl Fn(SimProgress) + Sync + Send {
    let last = Mutex::new(std::time::Instant::now());
    move |p: SimProgress| {
        let due = p.total == Some(p.done)
            || last.lock().is_ok_and(|mut t| {
                let due = t.elapsed().as_millis() >= 50;
                if due {
                    *t = std::time::Instant::now();
                }
                due
            });
        if due {
            let _ = channel.send(p);
        }
    }
}

#[tauri::command]
async fn simulate(
    app: State<'_, App>,
    run_id: String,
    source: SimSource,
    dataset: DatasetSpec,
    on_progress: Channel<SimProgress>,
) -> Reply<SimOutcome> {
    // Registered first, so that a cancel clicked at once finds the run.
    let run = app.start_run(&run_id)?;
    let (_, bundle) = app.console()?.source_bundle(&source).await?;
    let flag = run.flag.clone();
    let progress = reporter(on_progress);
    blocking(move || desktop::simulate_bundle(&bundle, &dataset, &progress, &flag)).await?
}

#[tauri::command]
async fn compare(
    app: State<'_, App>,
    run_id: String,
    a: SimSource,
    b: SimSource,
    dataset: DatasetSpec,
    on_progress: Channel<SimProgress>,
) -> Reply<CompareOutcome> {
    let run = app.start_run(&run_id)?;
    let console = app.console()?;
    let first = console.source_bundle(&a).await?;
    let second = console.source_bundle(&b).await?;
    let flag = run.flag.clone();
    let progress = reporter(on_progress);
    blocking(move || desktop::compare_bundles(first, second, &dataset, &progress, &flag)).await?
}

/// Stops a run: it ends with `cancelled` at its next progress step.
#[tauri::command]
fn cancel_run(app: State<'_, App>, run_id: String) -> bool {
    app.runs
        .lock()
        .ok()
        .and_then(|runs| runs.get(&run_id).cloned())
        .map(|flag| flag.store(true, Ordering::Relaxed))
        .is_some()
}

/// Opens the console in `GAVEL_HOME` (else the platform's data directory)
/// with the OS keychain.
fn open_console() -> Result<Console, ErrorBody> {
    let home = gavel_home();
    let keychain = Arc::new(OsKeychain::new(&keychain_service()));
    tauri::async_runtime::block_on(Console::open(&home, keychain)).map_err(|e| {
        let mut body = ErrorBody::from(e);
        body.code = "store_unavailable".to_string();
        body.message = format!(
            "Gavel cannot open its store in `{}`: {} (set GAVEL_HOME to another directory, or fix its permissions)",
            home.display(),
            body.message
        );
        body
    })
}

/// The app's configuration. Builds for the end-to-end tests let the
/// updater fetch plain HTTP from a loopback server when
/// `GAVEL_E2E_UPDATER_LOOPBACK` is set; no other build can.
fn context() -> tauri::Context<tauri::Wry> {
    #[allow(unused_mut)]
    let mut context = tauri::generate_context!();
    #[cfg(feature = "e2e-tests")]
    if std::env::var_os("GAVEL_E2E_UPDATER_LOOPBACK").is_some() {
        if let Some(updater) = context.config_mut().plugins.0.get_mut("updater") {
            updater["dangerousInsecureTransportProtocol"] = serde_json::Value::Bool(true);
        }
    }
    context
}

pub fn run() {
    let result = tauri::Builder::default()
        .setup(|app| {
            app.manage(App {
                console: open_console(),
                acting: Mutex::new(
                    std::env::var("GAVEL_IDENTITY")
                        .ok()
                        .filter(|s| !s.is_empty()),
                ),
                runs: Mutex::new(HashMap::new()),
                lint_cache: Arc::default(),
                pending_update: tokio::sync::Mutex::new(None),
                last_sync: tokio::sync::Mutex::new(SyncStatus::default()),
            });
            Ok(())
        })
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(tauri::generate_handler![
            app_info,
            set_acting,
            load_examples,
            create_identity,
            bundle_index,
            show_version,
            history,
            lint,
            save_draft,
            import_bundle,
            new_version_from,
            add_rule,
            diff_view,
            simulate,
            compare,
            cancel_run,
            inbox,
            review,
            status,
            submit,
            decide,
            activate,
            promote,
            monitor,
            rollback,
            incidents,
            resolve_incident,
            read_text_file,
            write_text_file,
            keys_view,
            set_roles,
            trust_keys,
            untrust_key,
            rotate_key,
            export_key,
            export_trust,
            backup_key,
            restore_key,
            audit_list,
            audit_verify,
            audit_export,
            audit_checkpoint,
            override_lists,
            issue_override,
            verify_override,
            scorecard_examples,
            evaluate_scorecards,
            scorecard_runs,
            borderline_queue,
            export_decision_log,
            environments,
            add_environment,
            set_environment,
            pack_review,
            show_review,
            sign_review,
            import_approval,
            updater_settings,
            set_updater_settings,
            check_for_update,
            download_update,
            install_update,
            registries,
            add_registry,
            remove_registry,
            bind_bundle,
            push_version,
            sync,
            sync_status,
        ])
        .run(context());
    if let Err(e) = result {
        eprintln!("gavel-desktop: cannot start: {e}");
        std::process::exit(1);
    }
}
