// Numbers and short summaries as the dashboard shows them: short, with their unit, and a dash for "none".

import type { ListedStream } from './protocol';

/** A value with about three significant digits, or an en dash when there is none. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return value.toExponential(2);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(magnitude >= 1 ? 2 : 3);
}

/** Frames per second, e.g. "10.0/s". */
export function formatRate(framesPerSecond: number): string {
  if (!Number.isFinite(framesPerSecond) || framesPerSecond <= 0) return '0/s';
  return framesPerSecond >= 1000 ? `${(framesPerSecond / 1000).toFixed(1)}k/s` : `${framesPerSecond.toFixed(framesPerSecond >= 100 ? 0 : 1)}/s`;
}

/** A duration of `seconds` in the largest whole unit: "1 min", "10 min", "1 h". */
export function formatWindow(seconds: number): string {
  return seconds >= 3600 ? `${seconds / 3600} h` : seconds >= 60 ? `${seconds / 60} min` : `${seconds} s`;
}

/**
 * "learning: 42 updates, MSE 0.41 vs persistence 0.52" for a learning stream. With learning off the figure stays,
 * from its last updates ("learning off · last MSE 0.41 vs persistence 0.52"), or says why there is none: the MSE is
 * measured on the learner's updates, so a stream that never learned has no number.
 */
export function learningSummary(listed: ListedStream | undefined): string | undefined {
  if (!listed) return undefined;
  const stats = listed.learning?.stats;
  const figure = stats && stats.mse !== null ? `MSE ${formatNumber(stats.mse)} vs persistence ${formatNumber(stats.persistenceMse)}` : undefined;
  if (!listed.learn) {
    return figure ? `learning off · last ${figure}` : 'learning off · no MSE vs persistence (measured only while the stream learns)';
  }
  if (!stats) return 'learning';
  return `learning: ${stats.updates} updates${figure ? `, ${figure}` : ''}`;
}

/** A time on the page's clock (`seconds` since the epoch) as hh:mm:ss.t, the form the hover legend and the detection list use. */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${Math.floor(d.getMilliseconds() / 100)}`;
}

/** An axis tick: as formatNumber, but 10,000 and above as k or M ("250k"), so a tick fits the axis's width at 400 px. */
export function formatTick(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6) return `${formatNumber(value / 1e6)}M`;
  if (magnitude >= 1e4) return `${formatNumber(value / 1e3)}k`;
  return formatNumber(value);
}
