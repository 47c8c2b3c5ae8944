// The page's address fragment: which stream and time window it shows (#stream=NAME&window=SECONDS), so a link reopens the same view.

/** The time windows offered, seconds; the first is the default and is left out of the address. */
export const WINDOWS = [60, 600, 3600];

/** The fragment's parameters. */
export function hashParams(): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

/** The fragment for `stream` shown over `windowSeconds`. */
export function hashFor(stream: string | undefined, windowSeconds: number): string {
  const params = new URLSearchParams();
  if (stream) params.set('stream', stream);
  if (windowSeconds !== WINDOWS[0]) params.set('window', String(windowSeconds));
  return params.toString();
}
