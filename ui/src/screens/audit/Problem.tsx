//! An error shown where it happened: its code, the back end's message, and what to do.

import type { ErrorLike } from "../../errors";

export function Problem({
  what,
  error,
  hint,
  onRetry,
}: {
  what: string;
  error: ErrorLike;
  hint?: (code: string) => string | undefined;
  onRetry?: () => void;
}) {
  const advice = hint?.(error.code);
  return (
    <div className="problem-box" role="alert">
      <strong>
        {what} <span className="problem-code mono">{error.code}</span>
      </strong>
      <p>{error.message}</p>
      {advice && advice !== error.message && <p className="muted">{advice}</p>}
      {onRetry && (
        <button type="button" aria-label="Try again" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
