// The connection's state in the header (Connected, Connecting…) and the banner shown while the page has no server.

import type { ConnectionState } from './connection';

/** Shows `state` in #connection-status and, when the connection is down, in #banner (`everConnected`: "lost" rather than "cannot reach"). */
export function showConnectionState(state: ConnectionState, everConnected: boolean): void {
  const banner = document.querySelector<HTMLElement>('#banner')!;
  const status = document.querySelector<HTMLElement>('#connection-status')!;
  status.dataset.status = state.status;
  if (state.status === 'open') {
    status.textContent = 'Connected';
    banner.hidden = true;
    return;
  }
  if (state.status === 'connecting') {
    status.textContent = 'Connecting…';
    return;
  }
  status.textContent = state.status === 'waiting-for-token' ? 'Needs a token' : 'Disconnected';
  banner.hidden = false;
  document.querySelector<HTMLElement>('#banner-text')!.textContent =
    state.status === 'waiting-for-token'
      ? 'The server needs an access token before the dashboard can connect.'
      : `${everConnected ? 'Connection to the server lost' : 'Cannot reach the server'}. Reconnecting by itself (attempt ${state.attempt})…`;
}
