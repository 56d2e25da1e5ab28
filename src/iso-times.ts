/**
 * API answers carry times as ISO 8601 UTC strings, never epoch milliseconds:
 * the named fields of `value` (which hold epoch ms inside vmpool) converted.
 */
export function isoFields<T extends object>(value: T, fields: readonly string[]): T {
  const out = { ...value } as Record<string, unknown>;
  for (const field of fields) {
    const ms = out[field];
    if (typeof ms === 'number') out[field] = new Date(ms).toISOString();
  }
  return out as T;
}
