// The server's access token: taken from the page's address, or asked for once per tab when the server refuses the page.

/** Where the token given in the prompt is kept for this tab (asked once, not again on reload). */
const TOKEN_KEY = 'seqcast-token';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

/** A token from the page's address (?token= or #token=) goes to this tab's storage and out of the address bar. */
export function takeToken(): string | undefined {
  const url = new URL(location.href);
  const fromQuery = url.searchParams.get('token');
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  const given = fromQuery ?? fromHash;
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete('token');
    const params = new URLSearchParams(location.hash.slice(1));
    params.delete('token');
    url.hash = params.toString();
    history.replaceState(null, '', url.toString());
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Shows the token dialog; resolves with what the user typed (kept for this tab). */
export function askForToken(refused: boolean): Promise<string> {
  const dialog = $<HTMLDialogElement>('#token-dialog');
  const input = $<HTMLInputElement>('#token-input');
  $('#token-problem').textContent = refused ? 'The server refused that token. Check it and try again.' : '';
  input.value = '';
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    const form = $<HTMLFormElement>('#token-form');
    form.onsubmit = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      dialog.close();
      resolve(token);
    };
  });
}
