/** The latest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;

/**
 * An epoch-ms time read back from Redis, as ISO 8601 UTC; `"invalid"` for a
 * value no Date can hold (an override stored with an absurd `until`), so an
 * answer that shows stored data never fails on it. Undefined stays undefined.
 */
export function isoTime(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : 'invalid';
}

/** Operator text read back from Redis, cut to what an answer shows (older versions stored it unbounded). */
export function shownText(text: string | undefined, max = 200): string | undefined {
  if (text === undefined || text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length} characters, truncated)`;
}

/**
 * API answers carry times as ISO 8601 UTC strings, never epoch milliseconds:
 * the named fields of `value` (which hold epoch ms inside vmpool) converted
 * (`"invalid"` for a stored value no Date can hold).
 */
export function isoFields<T extends object>(value: T, fields: readonly string[]): T {
  const out = { ...value } as Record<string, unknown>;
  for (const field of fields) {
    const ms = out[field];
    if (typeof ms === 'number') out[field] = isoTime(ms);
  }
  return out as T;
}
