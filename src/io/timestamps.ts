// Time cells of CSV files (a timestamp column), read the same way by every command: date-times as ms since the epoch, numbers as written.

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What a time cell may hold, for messages. */
export const TIMESTAMP_FORMS = 'a date-time such as 2014-04-10 07:15:00, or a number';

/**
 * A timestamp cell: a date-time (2014-04-10 07:15:00, ISO 8601 with T, a
 * fraction and a zone; without a zone read as UTC) as ms since the epoch, or a
 * plain number as written. `at` is NaN for anything else.
 */
export function parseTimestamp(text: string): { at: number; isDate: boolean } {
  if (PLAIN_NUMBER.test(text)) return { at: Number(text), isDate: false };
  const m = DATE_TIME.exec(text);
  if (!m) return { at: Number.NaN, isDate: true };
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = m;
  if (+month < 1 || +month > 12 || +day < 1 || +day > 31 || +hour > 23 || +minute > 59 || +second > 60) return { at: Number.NaN, isDate: true };
  let at = Date.UTC(+year, +month - 1, +day, +hour, +minute, +second) + (fraction ? Number(fraction) * 1000 : 0);
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    at -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return { at, isDate: true };
}
