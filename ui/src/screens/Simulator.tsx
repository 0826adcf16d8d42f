//! Placeholder for the Simulator screen; helper B replaces this file.

import type { ScreenProps } from "../route";

export function SimulatorScreen({ navigate }: ScreenProps) {
  return (
    <section className="screen placeholder" aria-label="Simulator">
      <h1>Simulator</h1>
      <p className="muted">This screen is not built yet.</p>
      <button type="button" onClick={() => navigate({ screen: "bundles" })}>
        Go to Bundles
      </button>
    </section>
  );
}
