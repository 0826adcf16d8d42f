//! The Audit screen: the audit log: filters, verification, export, checkpoint.

import type { ScreenProps } from "../route";

export function AuditScreen(_props: ScreenProps) {
  return (
    <section className="screen" aria-label="Audit">
      <h1>Audit</h1>
    </section>
  );
}
