//! Loading, empty and error states shared by the screens.

import type { ReactNode } from "react";
import { type ErrorLike, errorHint } from "../errors";

export function Loading({ label }: { label: string }) {
  return (
    <div className="state" role="status" aria-label={label}>
      <div className="spinner" aria-hidden="true" />
      <p>{label}</p>
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function Failed({
  what,
  error,
  onRetry,
}: {
  what: string;
  error: ErrorLike;
  onRetry?: () => void;
}) {
  const hint = errorHint(error.code);
  return (
    <div className="state error" role="alert">
      <h2>{what}</h2>
      <p>{error.message}</p>
      {hint && <p className="muted">{hint}</p>}
      {onRetry && (
        <button type="button" aria-label="Try again" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
