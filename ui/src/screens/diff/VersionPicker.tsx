//! A version picker: a select of every stored version grouped by bundle name (newest
//! first), shared by the Diff and Simulator screens. Long references are cut with an
//! ellipsis by the select itself; the full one is in the title.

import type { VersionRow } from "../../bindings/VersionRow";
import { groupVersions, pickerLabel } from "./versions";

export function VersionPicker({
  label,
  value,
  versions,
  onChange,
  disabled,
  placeholder = "Choose a version…",
  className,
}: {
  /** The accessible name (what the E2E tests select by). */
  label: string;
  value: string;
  versions: readonly VersionRow[];
  onChange: (reference: string) => void;
  disabled?: boolean;
  placeholder?: string;
  className?: string;
}) {
  const groups = groupVersions(versions);
  const listed = versions.some((v) => v.reference === value);
  return (
    <select
      aria-label={label}
      title={value ? `${label}: ${value}` : label}
      className={`version-picker ${className ?? ""}`}
      value={value}
      disabled={disabled}
      onChange={(e) => onChange(e.target.value)}
    >
      {value === "" && (
        <option value="" disabled>
          {placeholder}
        </option>
      )}
      {value !== "" && !listed && <option value={value}>{value} (not listed)</option>}
      {groups.map((g) => (
        <optgroup key={g.name} label={g.name}>
          {g.versions.map((v) => (
            <option key={v.reference} value={v.reference} title={v.reference}>
              {pickerLabel(v)}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  );
}
