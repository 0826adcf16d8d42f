//! What the user can do about the errors of the Scorecards screen, by `code` (the
//! shared `errorHint` first, these for the codes it does not know here).

import { ApiError } from "../../api";
import { errorHint, toErrorLike } from "../../errors";

const HINTS: Record<string, string> = {
  invalid_policy:
    "Fix the policy at the line given (thresholds, rules with decision, condition and reason_code), then open it again.",
  invalid: "Open JSON or JSON Lines files of scorecards, or paste scorecards in the text box.",
  too_large:
    "Split the batch, or evaluate it with `gavel scorecard eval`, which streams files of any size.",
  unwritable: "Check that the folder exists and that you can write there.",
  unreadable: "Check that the file exists and that you can read it.",
  exists: "Choose another path, or replace the file.",
  store_unavailable: "The store could not be opened: check GAVEL_HOME, then try again.",
};

export function scorecardHint(code: string): string | undefined {
  return HINTS[code] ?? errorHint(code);
}

/** An error with the line it points at, when it points into a document. */
export interface LinedError {
  code: string;
  message: string;
  line: number | null;
}

export function toLinedError(e: unknown): LinedError {
  const base = toErrorLike(e);
  return { ...base, line: e instanceof ApiError ? e.line : null };
}
