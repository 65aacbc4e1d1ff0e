import { UsageError } from '../cli-errors.js';
import { roles, type Role } from '../../../workers/fleet.js';

/** Parses `--role`: `all` (the default), one role, or several separated by commas. */
export function parseRoles(value: string): Role[] {
  if (value === 'all') return [...roles];
  const wanted = value.split(',').map((role) => role.trim());
  for (const role of wanted) {
    if (!(roles as readonly string[]).includes(role)) {
      throw new UsageError(
        `fleet start: --role ${JSON.stringify(role)} is not a role; expected all, or one or more of ${roles.join(', ')}`,
      );
    }
  }
  return wanted as Role[];
}
