/** The longest `leasedBy` a lease request may carry: a CI job's URL fits, a log dump does not. */
export const LEASED_BY_MAX = 200;

// C0 and C1 controls and DEL: a terminal escape or a forged log line must not ride along.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks the optional `leasedBy` of a lease request: who asked, shown in
 * `vmpool leases`. Returns a problem naming the field, or undefined when fine.
 */
export function leasedByProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return `leasedBy: expected text, got ${JSON.stringify(value)}`;
  if (value.length > LEASED_BY_MAX) return `leasedBy: at most ${LEASED_BY_MAX} characters, got ${value.length}`;
  if (CONTROL.test(value)) return 'leasedBy: control characters (newlines, escapes) are not allowed';
  return undefined;
}
