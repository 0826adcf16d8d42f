//! Maps lint findings (1-based line, 1-based column counted in characters) to
//! CodeMirror positions (UTF-16 offsets) and diagnostics. The back end decides what the
//! findings are; this only places them.

import type { Text } from "@codemirror/state";

/** The fields of a lint finding that placing it needs (the generated type has more). */
export interface Placeable {
  line?: number | null;
  column?: number | null;
  severity: string;
  code: string;
  message: string;
  suggestion?: string | null;
  rule_id?: string | null;
}

export type DiagnosticSeverity = "error" | "warning" | "info";

export function diagnosticSeverity(severity: string): DiagnosticSeverity {
  if (severity === "error") return "error";
  if (severity === "warning") return "warning";
  return "info";
}

/**
 * The document offset of `line`:`column`. Lines past the end go to the last line, columns
 * past the end of the line to its end; a column counts characters, so a character outside
 * the Basic Multilingual Plane (two UTF-16 units) counts once.
 */
export function offsetOf(doc: Text, line: number, column = 1): number {
  const n = Math.min(Math.max(1, Math.trunc(line) || 1), doc.lines);
  const l = doc.line(n);
  let remaining = Math.max(1, Math.trunc(column) || 1) - 1;
  let i = 0;
  while (remaining > 0 && i < l.text.length) {
    const code = l.text.charCodeAt(i);
    i += code >= 0xd800 && code <= 0xdbff && i + 1 < l.text.length ? 2 : 1;
    remaining--;
  }
  return l.from + i;
}

/** The range a finding underlines: from its column to the end of that line (never empty when the line has text). */
export function findingRange(doc: Text, finding: Placeable): { from: number; to: number } {
  const from = offsetOf(doc, finding.line ?? 1, finding.column ?? 1);
  const line = doc.lineAt(from);
  const trimmedEnd = line.from + line.text.trimEnd().length;
  let to = Math.max(from, trimmedEnd);
  if (to === from && from > line.from) return { from: from - 1, to: from };
  if (to === from && line.to > from) to = line.to;
  return { from, to };
}

export interface PlacedDiagnostic {
  from: number;
  to: number;
  severity: DiagnosticSeverity;
  source: string;
  message: string;
}

/** A CodeMirror diagnostic for a finding: code as source, message and help line. */
export function toDiagnostic(doc: Text, finding: Placeable): PlacedDiagnostic {
  const { from, to } = findingRange(doc, finding);
  const help = finding.suggestion ? `\nhelp: ${finding.suggestion}` : "";
  return {
    from,
    to,
    severity: diagnosticSeverity(finding.severity),
    source: finding.code,
    message: `${finding.message}${help}`,
  };
}

/** Errors, warnings and infos among `findings`, for the status bar. */
export function countBySeverity(findings: readonly { severity: string }[]): {
  errors: number;
  warnings: number;
  info: number;
} {
  const counts = { errors: 0, warnings: 0, info: 0 };
  for (const f of findings) {
    const s = diagnosticSeverity(f.severity);
    if (s === "error") counts.errors++;
    else if (s === "warning") counts.warnings++;
    else counts.info++;
  }
  return counts;
}
