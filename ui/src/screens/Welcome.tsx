//! Placeholder for the Welcome screen; helper B replaces this file.

import type { ScreenProps } from "../route";

export function WelcomeScreen({ navigate }: ScreenProps) {
  return (
    <section className="screen placeholder" aria-label="Welcome">
      <h1>Welcome</h1>
      <p className="muted">This screen is not built yet.</p>
      <button type="button" onClick={() => navigate({ screen: "bundles" })}>
        Go to Bundles
      </button>
    </section>
  );
}
