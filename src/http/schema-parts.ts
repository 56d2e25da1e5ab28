import { parseDuration } from '../duration.js';

/**
 * The pieces every route's JSON schema is made of. Each carries a
 * `description` saying what is expected: the validation error names the field
 * and quotes it (validation-errors.ts), and /openapi.json publishes it.
 */

/** The longest duration any request may name (a breaker override, a lease wait). */
export const MAX_DURATION_MS = 30 * 86_400_000;
/** Free text an operator writes (reasons, names): short, one line. */
export const MAX_TEXT = 200;

/** Ajv format for durations: `"30s"`, `"5m"`, `"1.5h"`, at most 30 days. */
export const DURATION_FORMAT = 'vmpool-duration';
export function isBoundedDuration(value: string): boolean {
  if (value.length > 20) return false;
  const ms = parseDuration(value);
  return ms !== undefined && ms <= MAX_DURATION_MS;
}

// Control characters (newlines included) would forge lines in logs and terminals.
const NO_CONTROL = '^[^\\u0000-\\u001F\\u007F]*$';

export const duration = { type: 'string', format: DURATION_FORMAT, maxLength: 20, description: 'a duration like "30s", "5m" or "2h", at most 30d' } as const;
export const freeText = { type: 'string', minLength: 1, maxLength: MAX_TEXT, pattern: NO_CONTROL, description: `a text of 1 to ${MAX_TEXT} characters, no control characters` } as const;
export const imageTag = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$', description: 'an image tag (letters, digits, _ . -; at most 128)' } as const;
export const poolName = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'a pool name (lower-case letters, digits and dashes)' } as const;
export const providerName = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'a provider name (lower-case letters, digits and dashes)' } as const;
export const zoneId = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9][A-Za-z0-9-]{0,62}$', description: 'a zone id like "sim/zone-b" (URL-encoded in a path: sim%2Fzone-b)' } as const;
export const machineId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'a machine id like "m-lx3k2-ab12"' } as const;

/** Every error answer: a stable code and one line for a person. */
export const errorAnswer = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'a stable code: bad-request, unauthorized, forbidden, unknown-pool, ...' },
    message: { type: 'string' },
    requestId: { type: 'string', description: 'on 500 answers: find the detail in the log under this id' },
  },
} as const;

/** Answers every route may give besides its own: a bad request, a refused one, and the rest. */
export function withErrors(answers: Record<number, unknown>, codes: readonly number[] = []): Record<number, unknown> {
  const common = [400, 401, 403, 415, 500, 503, ...codes];
  return { ...answers, ...Object.fromEntries(common.map((code) => [code, errorAnswer])) };
}

/** A bodyless request, or a JSON object with exactly these fields. */
export function jsonBody(properties: Record<string, unknown>, required: readonly string[] = []) {
  return { type: ['object', 'null'], additionalProperties: false, properties, required } as const;
}
