//! The notification area: errors from the back end (their message, with a hint chosen
//! by code) and short confirmations. `useNotify()` gives screens `error` and `info`.

import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useMemo,
  useRef,
  useState,
} from "react";
import { errorHint, toErrorLike } from "../errors";

interface Toast {
  id: number;
  kind: "error" | "info";
  title: string;
  message: string;
  hint?: string;
}

export interface Notify {
  /** Shows a back-end error: `what` says what failed ("Saving failed"). */
  error: (what: string, error: unknown) => void;
  info: (message: string) => void;
}

const NotifyContext = createContext<Notify>({ error: () => {}, info: () => {} });

export function useNotify(): Notify {
  return useContext(NotifyContext);
}

const MAX_TOASTS = 4;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);

  const push = useCallback(
    (toast: Omit<Toast, "id">, ttlMs: number) => {
      const id = nextId.current++;
      setToasts((ts) => [...ts, { ...toast, id }].slice(-MAX_TOASTS));
      setTimeout(() => dismiss(id), ttlMs);
    },
    [dismiss],
  );

  const notify = useMemo<Notify>(
    () => ({
      error: (what, error) => {
        const e = toErrorLike(error);
        push({ kind: "error", title: what, message: e.message, hint: errorHint(e.code) }, 12_000);
      },
      info: (message) => push({ kind: "info", title: message, message: "" }, 4_000),
    }),
    [push],
  );

  return (
    <NotifyContext.Provider value={notify}>
      {children}
      <section className="toasts" aria-label="Notifications" aria-live="polite">
        {toasts.map((t) => (
          <div
            key={t.id}
            className={`toast toast-${t.kind}`}
            role={t.kind === "error" ? "alert" : "status"}
          >
            <div className="toast-body">
              <strong>{t.title}</strong>
              {t.message && <div className="toast-message">{t.message}</div>}
              {t.hint && <div className="toast-hint">{t.hint}</div>}
            </div>
            <button
              type="button"
              className="icon-button"
              aria-label="Dismiss notification"
              onClick={() => dismiss(t.id)}
            >
              ×
            </button>
          </div>
        ))}
      </section>
    </NotifyContext.Provider>
  );
}
