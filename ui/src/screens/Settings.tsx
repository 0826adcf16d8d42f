//! The Settings screen (DESIGN §10, §11.8, §11.14, §11.16): the team's registries; the
//! environments with their quorum, canary, bake time and minimum samples; and the
//! updater's endpoint, public key and check for updates.

import type { ScreenProps } from "../route";
import { Environments } from "./settings/Environments";
import { Registries } from "./settings/Registries";
import { Updates } from "./settings/Updates";

export function SettingsScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Settings">
      <div className="toolbar">
        <h1>Settings</h1>
      </div>
      <div className="set-body">
        <Registries />
        <Environments />
        <Updates />
      </div>
    </section>
  );
}
