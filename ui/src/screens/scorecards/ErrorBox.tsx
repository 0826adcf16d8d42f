//! An error of the Scorecards screen in place: what failed, the message (with the line
//! of the policy it points at), and what to do, by code.

import { type LinedError, scorecardHint } from "./hints";

export function ErrorBox({ what, error }: { what: string; error: LinedError }) {
  const hint = scorecardHint(error.code);
  return (
    <div className="sc-error" role="alert">
      <strong>
        {what}
        {error.line != null && ` (line ${error.line})`}
      </strong>
      <p>{error.message}</p>
      {hint && <p className="muted">{hint}</p>}
      <p className="muted mono sc-error-code">{error.code}</p>
    </div>
  );
}
