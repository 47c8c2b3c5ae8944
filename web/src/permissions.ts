// What the page may ask of the server about a stream, from the role the server says the page's connection has (docs/protocol.md, Roles).

/** A connection's role as `list` reports it; undefined: a server that does not say (it answers each request itself). */
export type PageRole = 'control' | 'produce' | 'read' | 'local' | undefined;

/** One control: whether the page offers it, and if not, why (shown beside the controls). */
export interface Permission {
  allowed: boolean;
  reason: string;
}

/** The stream controls the page offers: reset, online learning, horizon. Pause is the page's own and always allowed. */
export interface StreamPermissions {
  reset: Permission;
  learn: Permission;
  horizon: Permission;
}

const ALLOWED: Permission = { allowed: true, reason: '' };

/**
 * What a page with `role` may change (roles.ts on the server decides; this only keeps the page from offering what it
 * would refuse):
 * - `control` (the server's `--token`) and `local` (no token, on loopback) may reset, learn and change the horizon;
 *   the server still refuses a local page a stream another connection holds, and the page shows that answer;
 * - `read` (`--read-token`) may only watch;
 * - `produce` (`--producer-token`) may change only the streams its own connection holds, and a page holds none.
 *
 * @example
 * streamPermissions('read').reset; // { allowed: false, reason: 'Read-only token: this page may watch streams, not change them.' }
 */
export function streamPermissions(role: PageRole): StreamPermissions {
  if (role === 'read') {
    const denied = { allowed: false, reason: 'Read-only token: this page may watch streams, not change them.' };
    return { reset: denied, learn: denied, horizon: denied };
  }
  if (role === 'produce') {
    const denied = { allowed: false, reason: 'Producer token: only the connection holding a stream may change it, and this page holds none; the control token may.' };
    return { reset: denied, learn: denied, horizon: denied };
  }
  return { reset: ALLOWED, learn: ALLOWED, horizon: ALLOWED };
}

/** The one sentence the page shows when some control is off, or '' when all are on. */
export function permissionNote(permissions: StreamPermissions): string {
  const denied = [permissions.reset, permissions.learn, permissions.horizon].find((p) => !p.allowed);
  return denied?.reason ?? '';
}
