//! The Overrides screen: issue and verify signed overrides (security role).

import type { ScreenProps } from "../route";

export function OverridesScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Overrides">
      <h1>Overrides</h1>
    </section>
  );
}
