// Chart colours, read from the page's CSS custom properties so light and dark follow the system (styles.css defines both).

/** The colours charts draw with; every one is defined in styles.css for light and dark. */
export interface Theme {
  fg: string;
  muted: string;
  grid: string;
  actual: string;
  predicted: string;
  forecast: string;
  error: string;
  rmse: string;
  anomaly: string;
  threshold: string;
  nabShade: string;
  forecastShade: string;
  now: string;
  health: string[];
}

const cssName = (key: string) => `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/** The current theme, from the root element's computed style. */
export function currentTheme(): Theme {
  const style = getComputedStyle(document.documentElement);
  const read = (key: string) => style.getPropertyValue(cssName(key)).trim() || '#888';
  return {
    fg: read('fg'),
    muted: read('muted'),
    grid: read('grid'),
    actual: read('actual'),
    predicted: read('predicted'),
    forecast: read('forecast'),
    error: read('error'),
    rmse: read('rmse'),
    anomaly: read('anomaly'),
    threshold: read('threshold'),
    nabShade: read('nabShade'),
    forecastShade: read('forecastShade'),
    now: read('now'),
    health: [read('actual'), read('predicted'), read('anomaly'), read('rmse')],
  };
}

/** Calls `changed` when the system switches between light and dark. */
export function onThemeChange(changed: () => void): void {
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', changed);
}
