//! The Rollouts screen: per bundle and environment: the active and canary versions, gates, activate, promote, rollback, incidents.

import type { ScreenProps } from "../route";

export function RolloutsScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Rollouts">
      <h1>Rollouts</h1>
    </section>
  );
}
