//! Errors from the back end cross as `{code, message}`. The UI shows `message` and
//! branches on `code` only, never on message text.

export interface ErrorLike {
  code: string;
  message: string;
}

/** Normalises anything thrown (an `ApiError`, a plain `{code, message}`, an `Error`, a string). */
export function toErrorLike(error: unknown): ErrorLike {
  if (typeof error === "object" && error !== null) {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === "string" && typeof e.message === "string") {
      return { code: e.code, message: e.message };
    }
    if (typeof e.message === "string") return { code: "internal", message: e.message };
  }
  if (typeof error === "string") return { code: "internal", message: error };
  return { code: "internal", message: "something went wrong (no details were given)" };
}

/** What the user can do about an error, by code; undefined when the message says enough. */
export function errorHint(code: string): string | undefined {
  switch (code) {
    case "invalid_bundle":
      return "Fix the problems listed in the Problems panel, then save again.";
    case "version_exists":
      return "Raise metadata.version in the document (or use New version from this), then save again.";
    case "not_a_draft":
      return "Only drafts can be changed. Use New version from this to start an editable copy.";
    case "no_identity":
      return "Create an identity to act as, then try again.";
    case "not_found":
      return "It may have been deleted: refresh the bundle list.";
    case "ambiguous_reference":
      return "Use NAME@VERSION or a longer digest prefix.";
    case "author_cannot_approve":
      return "You submitted this version: another approver must decide.";
    case "already_decided":
      return "You have already decided on this version for this environment.";
    case "not_an_approver":
      return "Your identity does not have the approver role: ask an administrator to grant it.";
    case "review_closed":
      return "This review is closed (approved, rejected or superseded): refresh the inbox.";
    case "comment_required":
      return "Write a comment of at least 10 characters saying why.";
    case "not_submitted":
      return "Submit the version first: only submitted versions can be approved.";
    case "keychain":
      return "The key could not be read from the OS keychain: unlock it and try again.";
    case "stale_state":
      return "Someone else changed it first: reload and try again.";
    case "quorum_not_met":
      return "The version needs more approvals in this environment: see Approvals.";
    case "rejected":
      return "A rejected version cannot be activated here: submit a new version.";
    case "canary_running":
      return "Promote or roll back the running canary first.";
    case "already_active":
      return "This version already serves here: choose another one.";
    case "no_rollout":
      return "Activate an approved version here first.";
    case "no_canary":
      return "Promotion moves a canary: activate a new version to start one.";
    case "not_ready":
      return "Every gate must pass and the bake time must have elapsed: see the gates, then try again later.";
    case "nothing_to_roll_back":
      return "Only one version was ever active here: activate another version instead.";
    case "ambiguous_bundle":
      return "Several bundles are active in this environment: choose the bundle to roll back.";
    case "already_resolved":
      return "Someone resolved it already: refresh the incidents.";
    case "invalid_metrics":
      return "Give the canary's counts as JSON: total_decisions, error_count, deny_count, baseline_avg_cost, canary_avg_cost, and stable counters.";
    default:
      return undefined;
  }
}
