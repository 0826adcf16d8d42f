//! The Approvals screen (DESIGN §1 the approver, §7): on the left the inbox of the
//! acting identity — what awaits its decision, what it submitted — and on the right the
//! review of the selected version in one environment, with the decision (approve or
//! reject, signed by the back end with the key in the OS keychain).

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import { useAppInfo } from "../appInfo";
import type { Inbox } from "../bindings/Inbox";
import type { InboxItem } from "../bindings/InboxItem";
import { StatusBadge } from "../components/Badge";
import { Empty, Failed, Loading } from "../components/States";
import { type ErrorLike, toErrorLike } from "../errors";
import { IdentityDialog } from "../IdentityDialog";
import type { ScreenProps } from "../route";
import "./approvals/approvals.css";
import { approvalsText, groupInbox, itemKey } from "./approvals/inbox";
import { OfflineReview } from "./approvals/OfflineReview";
import { ReviewPanel } from "./approvals/ReviewPanel";
import { SyncBar } from "./approvals/SyncBar";

export function ApprovalsScreen({ route, navigate }: ScreenProps) {
  const { info, reload: reloadInfo } = useAppInfo();
  const [inbox, setInbox] = useState<Inbox | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [creating, setCreating] = useState(false);
  const [offline, setOffline] = useState(false);
  const seq = useRef(0);

  const reference = route.screen === "approvals" ? route.reference : undefined;
  const environment = route.screen === "approvals" ? route.environment : undefined;

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.inbox();
      if (mine !== seq.current) return;
      setInbox(next);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  // Reload when the acting identity changes (the inbox is per identity).
  const acting = info?.acting ?? null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `acting` is the reason to reload
  useEffect(() => {
    void load();
  }, [load, acting]);

  const order = info?.environments ?? [];
  const groups = useMemo(() => (inbox ? groupInbox(inbox, order) : []), [inbox, order]);
  const selectedKey =
    reference !== undefined && environment !== undefined ? itemKey(reference, environment) : null;

  const select = (item: InboxItem) => {
    setOffline(false);
    navigate({ screen: "approvals", reference: item.reference, environment: item.environment });
  };

  let list: React.ReactNode;
  if (loading && !inbox) list = <Loading label="Loading the inbox…" />;
  else if (error && !inbox)
    list = (
      <Failed what="The inbox could not be loaded" error={error} onRetry={() => void load()} />
    );
  else if (inbox && inbox.me === null) {
    list = (
      <Empty title="An identity is needed">
        <p>
          The inbox lists what awaits your decision and what you submitted: create the identity you
          approve as first.
        </p>
        <button type="button" aria-label="Set up identity" onClick={() => setCreating(true)}>
          Set up identity
        </button>
      </Empty>
    );
  } else {
    list = groups.map((g) => (
      <section key={g.key} className="inbox-group" aria-label={g.title}>
        <h2 className="panel-title">
          {g.title} <span className="count">{g.items.length}</span>
        </h2>
        {g.items.length === 0 ? (
          <p className="empty-inline">{g.empty}</p>
        ) : (
          <ul className="inbox-items">
            {g.items.map((item) => {
              const key = itemKey(item.reference, item.environment);
              const selected = key === selectedKey;
              return (
                <li key={key}>
                  <button
                    type="button"
                    className={`inbox-item${selected ? " selected" : ""}`}
                    aria-label={`Review ${item.reference} in ${item.environment}`}
                    aria-current={selected ? "true" : undefined}
                    onClick={() => select(item)}
                  >
                    <span className="inbox-line">
                      <span className="inbox-ref truncate mono" title={item.reference}>
                        {item.reference}
                      </span>
                      <StatusBadge status={item.state} label={item.environment} />
                    </span>
                    <span className="inbox-line muted">
                      <span className="truncate" title={`submitted by ${item.author}`}>
                        by {item.author}
                      </span>
                      <span
                        className="inbox-count"
                        title={`${approvalsText(item.approvals, item.required)} approvals`}
                      >
                        {approvalsText(item.approvals, item.required)}
                      </span>
                    </span>
                    {g.key === "submitted" && (
                      <span className="inbox-line muted truncate" title={item.approvers.join(", ")}>
                        {item.approvers.length === 0
                          ? "no approval yet"
                          : `approved by ${item.approvers.join(", ")}`}
                      </span>
                    )}
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    ));
  }

  return (
    <section className="screen" aria-label="Approvals" aria-busy={loading}>
      <div className="toolbar">
        <h1>Approvals</h1>
        {inbox?.me && (
          <span className="muted truncate" title={`acting as ${inbox.me}`}>
            acting as <strong>{inbox.me}</strong>
          </span>
        )}
        {loading && inbox && <span className="muted">Updating…</span>}
        <span className="grow" />
        <button
          type="button"
          aria-label="Offline review"
          aria-pressed={offline}
          title="Pack a version for a reviewer without network, review a package, import a signed approval"
          onClick={() => setOffline((o) => !o)}
        >
          Offline review
        </button>
        <button
          type="button"
          aria-label="Refresh inbox"
          title="Refresh inbox"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="approvals">
        <nav className="approvals-inbox" aria-label="Inbox">
          <SyncBar navigate={navigate} onSynced={() => void load()} />
          {error && inbox && (
            <p className="sev-error empty-inline" role="alert">
              {error.message}
            </p>
          )}
          {list}
        </nav>
        <div className="approvals-review">
          {offline ? (
            <OfflineReview
              environments={order}
              reference={reference}
              environment={environment}
              onImported={() => void load()}
              onClose={() => setOffline(false)}
            />
          ) : reference !== undefined && environment !== undefined ? (
            <ReviewPanel
              key={selectedKey ?? ""}
              reference={reference}
              environment={environment}
              onDecided={() => void load()}
            />
          ) : (
            <Empty title="Nothing selected">
              <p>
                Choose a version in the inbox to read its diff, simulated impact, lint and
                approvals, and to approve or reject it.
              </p>
            </Empty>
          )}
        </div>
      </div>
      {creating && (
        <IdentityDialog
          reason="Approvals are signed with your identity's key, kept in the OS keychain."
          onCreated={() => {
            setCreating(false);
            void reloadInfo();
            void load();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
    </section>
  );
}
