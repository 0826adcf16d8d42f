//! The Settings screen: environments and the updater.

import type { ScreenProps } from "../route";

export function SettingsScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Settings">
      <h1>Settings</h1>
    </section>
  );
}
