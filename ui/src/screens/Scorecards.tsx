//! The Scorecards screen: evaluate workflow scorecards against a governance policy.

import type { ScreenProps } from "../route";

export function ScorecardsScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Scorecards">
      <h1>Scorecards</h1>
    </section>
  );
}
