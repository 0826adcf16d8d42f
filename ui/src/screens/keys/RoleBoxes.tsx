//! The person-role checkboxes: `<prefix> author`, … (aria-labels the E2E tests use).

import { PERSON_ROLES, type PersonRole, toggleRole } from "./keys";

export function RoleBoxes({
  prefix = "Role",
  roles,
  onChange,
  disabled,
  reason,
}: {
  prefix?: string;
  roles: readonly PersonRole[];
  onChange: (roles: PersonRole[]) => void;
  disabled?: boolean;
  /** Why they are disabled (a title on each, and said beside them by the caller). */
  reason?: string;
}) {
  return (
    <div className="keys-roles" title={disabled ? reason : undefined}>
      {PERSON_ROLES.map((r) => (
        <label key={r} className="check">
          <input
            type="checkbox"
            aria-label={`${prefix} ${r}`}
            checked={roles.includes(r)}
            disabled={disabled}
            onChange={() => onChange(toggleRole(roles, r))}
          />
          {r}
        </label>
      ))}
    </div>
  );
}
