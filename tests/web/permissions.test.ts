// What the dashboard offers for a stream, from the role the server reports for its connection (docs/protocol.md, Roles).

import { describe, expect, it } from 'vitest';
import { permissionNote, streamPermissions } from '../../web/src/permissions';

describe('stream permissions', () => {
  it('offers reset, learning and the horizon to the control role and to a local page (no token, loopback)', () => {
    for (const role of ['control', 'local'] as const) {
      const p = streamPermissions(role);
      expect([p.reset.allowed, p.learn.allowed, p.horizon.allowed]).toEqual([true, true, true]);
      expect(permissionNote(p)).toBe('');
    }
  });

  it('offers nothing to the read-only role, and says why', () => {
    const p = streamPermissions('read');
    expect([p.reset.allowed, p.learn.allowed, p.horizon.allowed]).toEqual([false, false, false]);
    expect(permissionNote(p)).toBe('Read-only token: this page may watch streams, not change them.');
  });

  it('offers nothing to a producer token (a page holds no stream), and names the token that may', () => {
    const p = streamPermissions('produce');
    expect(p.reset.allowed || p.learn.allowed || p.horizon.allowed).toBe(false);
    expect(permissionNote(p)).toMatch(/control token may/);
  });

  it('leaves every control on for a server that does not report a role (it answers each request itself)', () => {
    const p = streamPermissions(undefined);
    expect([p.reset.allowed, p.learn.allowed, p.horizon.allowed]).toEqual([true, true, true]);
  });
});
