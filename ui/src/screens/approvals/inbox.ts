//! Pure helpers of the Approvals screen: the inbox in groups, how many approvals are
//! still needed, the comment a decision needs, and what a refusal says. No business
//! rule is decided here: the back end refuses (by `code`), these only say it early.

import type { Inbox } from "../../bindings/Inbox";
import type { InboxItem } from "../../bindings/InboxItem";

/** The minimum length of a rejection's comment (DESIGN §7: "at least 10 characters"). */
export const MIN_REJECT_COMMENT = 10;

export interface InboxGroup {
  key: "awaiting" | "submitted";
  title: string;
  /** What would appear here, for the empty state. */
  empty: string;
  items: InboxItem[];
}

/** The rank of an environment in the store's order (dev, staging, prod), unknown ones last. */
function rank(environment: string, order: readonly string[]): number {
  const i = order.indexOf(environment);
  return i < 0 ? order.length : i;
}

/** Items by bundle, then version reference, then environment in the store's order. */
export function sortItems(items: readonly InboxItem[], order: readonly string[]): InboxItem[] {
  return [...items].sort(
    (a, b) =>
      a.bundle.localeCompare(b.bundle) ||
      a.reference.localeCompare(b.reference) ||
      rank(a.environment, order) - rank(b.environment, order) ||
      a.environment.localeCompare(b.environment),
  );
}

/** The inbox as the screen lists it: what awaits my decision first, then my submissions. */
export function groupInbox(inbox: Inbox, order: readonly string[] = []): InboxGroup[] {
  return [
    {
      key: "awaiting",
      title: "Awaiting my decision",
      empty:
        "Versions that others submitted and that still need your approval in an environment appear here.",
      items: sortItems(inbox.awaiting, order),
    },
    {
      key: "submitted",
      title: "My submissions",
      empty: "Versions you submitted appear here, with who approved them, until they are decided.",
      items: sortItems(inbox.submitted, order),
    },
  ];
}

/** The key of an item (a version under review in one environment). */
export function itemKey(reference: string, environment: string): string {
  return `${environment}\u0000${reference}`;
}

/** "1 of 2". */
export function approvalsText(approvals: number, required: number): string {
  return `${approvals} of ${required}`;
}

/** How many approvals are still needed (never below 0). */
export function moreNeeded(required: number, counted: number): number {
  return Math.max(0, required - counted);
}

/** "2 more needed", "1 more needed", "quorum reached". */
export function moreNeededText(n: number): string {
  return n === 0 ? "quorum reached" : `${n} more needed`;
}

export type CommentCheck = { ok: true } | { ok: false; reason: string };

/** Whether `comment` is enough for `decision`: a rejection needs at least 10 characters. */
export function checkComment(decision: "approve" | "reject", comment: string): CommentCheck {
  if (decision === "approve") return { ok: true };
  const length = [...comment.trim()].length;
  if (length >= MIN_REJECT_COMMENT) return { ok: true };
  const missing = MIN_REJECT_COMMENT - length;
  return {
    ok: false,
    reason:
      length === 0
        ? `A rejection needs a comment of at least ${MIN_REJECT_COMMENT} characters saying why.`
        : `A rejection needs a comment of at least ${MIN_REJECT_COMMENT} characters (${missing} more).`,
  };
}

/** The headline of a refused decision, by `code` only (the back end's message follows it). */
export function refusalTitle(code: string): string {
  switch (code) {
    case "author_cannot_approve":
      return "You submitted this version: another approver must decide";
    case "already_decided":
      return "You have already decided on this version here";
    case "not_an_approver":
      return "Your identity is not an approver";
    case "review_closed":
      return "This review is closed";
    case "comment_required":
      return "A comment is required";
    case "not_submitted":
      return "This version has not been submitted";
    case "no_identity":
      return "An identity is needed to decide";
    case "keychain":
      return "The signing key could not be read from the keychain";
    default:
      return "The decision was refused";
  }
}

/** A changed case's context, shortened for one line. */
export function contextText(context: unknown, max = 160): string {
  let text: string;
  try {
    text = JSON.stringify(context) ?? "";
  } catch {
    text = String(context);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
