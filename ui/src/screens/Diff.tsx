//! Placeholder for the Diff screen; helper B replaces this file.

import type { ScreenProps } from "../route";

export function DiffScreen({ navigate }: ScreenProps) {
  return (
    <section className="screen placeholder" aria-label="Diff">
      <h1>Diff</h1>
      <p className="muted">This screen is not built yet.</p>
      <button type="button" onClick={() => navigate({ screen: "bundles" })}>
        Go to Bundles
      </button>
    </section>
  );
}
