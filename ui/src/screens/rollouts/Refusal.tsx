//! A refused change, shown next to the buttons that asked for it: a headline chosen by
//! `code`, the back end's message, and the hint of errors.ts.

import { type ErrorLike, errorHint } from "../../errors";
import { refusalTitle } from "./units";

export function Refusal({ error }: { error: ErrorLike }) {
  const hint = errorHint(error.code);
  return (
    <div className="rollout-refusal" role="alert" aria-label="Action refused">
      <strong>{refusalTitle(error.code)}</strong>
      <p>{error.message}</p>
      {error.code === "stale_state" ? (
        <p className="muted">
          The rollout has been reloaded: check what serves now, then try again.
        </p>
      ) : (
        hint && hint !== error.message && <p className="muted">{hint}</p>
      )}
    </div>
  );
}
