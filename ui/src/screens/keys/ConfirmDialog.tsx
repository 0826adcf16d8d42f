//! A modal confirmation for a change that cannot be undone from here.

import { type ReactNode, useEffect, useRef } from "react";
import { trapTab, useRestoreFocus } from "../../components/focus";

export function ConfirmDialog({
  title,
  confirmLabel,
  confirmText,
  busy,
  onConfirm,
  onCancel,
  children,
}: {
  title: string;
  /** The confirm button's aria-label (`Confirm rotate`). */
  confirmLabel: string;
  confirmText: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const cancel = useRef<HTMLButtonElement>(null);
  useRestoreFocus();
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div className="backdrop">
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
          trapTab(e);
        }}
      >
        <h2>{title}</h2>
        {children}
        <div className="form-actions">
          <button ref={cancel} type="button" aria-label="Cancel" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            aria-label={confirmLabel}
            disabled={busy}
            onClick={onConfirm}
          >
            {confirmText}
          </button>
        </div>
      </div>
    </div>
  );
}
