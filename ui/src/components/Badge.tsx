//! Status badges for versions and environments. Colours come from the state's name,
//! so an unknown state still shows (neutral) rather than disappearing.

const TONES: Record<string, string> = {
  draft: "neutral",
  submitted: "info",
  approved: "info",
  canary: "warn",
  active: "ok",
  rejected: "bad",
  rolled_back: "bad",
  superseded: "muted",
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const tone = TONES[status] ?? "neutral";
  const text = label ?? status.replaceAll("_", " ");
  return (
    <span className={`badge badge-${tone}`} title={text}>
      {text}
    </span>
  );
}

/** An environment's state for a version: "prod: canary 10%". */
export function EnvBadge({
  env,
  state,
  percent,
}: {
  env: string;
  state: string;
  percent?: number | null;
}) {
  const detail = percent != null && percent < 100 ? ` ${percent}%` : "";
  return <StatusBadge status={state} label={`${env}: ${state.replaceAll("_", " ")}${detail}`} />;
}
