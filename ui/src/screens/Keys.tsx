//! The Keys and trust screen: identities, roles, trusted keys, backup and restore.

import type { ScreenProps } from "../route";

export function KeysScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Keys and trust">
      <h1>Keys and trust</h1>
    </section>
  );
}
