//! A key in one of the two lists, and its roles as badges.

import type { KeyInfo } from "../../bindings/KeyInfo";

const ROLE_TONE: Record<string, string> = {
  security: "bad",
  approver: "ok",
  author: "info",
  analyst: "neutral",
  operator: "warn",
};

export function RoleBadges({ roles }: { roles: readonly string[] }) {
  if (roles.length === 0) return <span className="muted keys-norole">no role</span>;
  return (
    <span className="badges keys-badges">
      {roles.map((r) => (
        <span key={r} className={`badge badge-${ROLE_TONE[r] ?? "neutral"}`} title={r}>
          {r}
        </span>
      ))}
    </span>
  );
}

export function KeyRow({
  k,
  selected,
  acting,
  onSelect,
}: {
  k: KeyInfo;
  selected: boolean;
  acting: boolean;
  onSelect: (keyid: string) => void;
}) {
  return (
    <button
      type="button"
      className={`keys-row${selected ? " selected" : ""}${k.retired ? " retired" : ""}`}
      aria-label={`Key ${k.name}`}
      aria-current={selected ? "true" : undefined}
      onClick={() => onSelect(k.keyid)}
    >
      <span className="keys-line">
        <strong className="truncate" title={k.name}>
          {k.name}
        </strong>
        {acting && <span className="badge badge-ok">acting</span>}
        {k.retired && <span className="badge badge-muted">retired</span>}
        <span className="grow" />
        <span className="mono muted keys-id" title={k.keyid}>
          {k.keyid}
        </span>
      </span>
      <span className="keys-line">
        <span className="truncate muted" title={k.email}>
          {k.email || "no email"}
        </span>
      </span>
      <span className="keys-line">
        <RoleBadges roles={k.roles} />
      </span>
    </button>
  );
}
