import { duration, freeText, imageTag, jsonBody, machineId, poolName, providerName, withErrors, zoneId } from './schema-parts.js';

/**
 * Every route's schema: what fastify validates before a handler runs (a bad
 * field is a 400 naming it) and what /openapi.json publishes. Answers are
 * documented, not filtered: the serializer sends every field a handler returns.
 */

const text = { type: 'string' } as const;
const obj = (properties: Record<string, unknown>, description?: string) => ({ type: 'object', properties, ...(description ? { description } : {}) }) as const;

const leaseAnswer = obj(
  {
    id: text, pool: text, zone: text, address: text, port: { type: 'integer' }, user: text, hostKeyFingerprint: text, hostKey: text,
    instanceId: text, instanceType: text, agentVersion: text, state: text, launchedAt: text, leasedAt: text, leasedBy: text,
  },
  'a machine: everything a CI job needs to reach it',
);

const leaseFields = { wait: duration, agentVersion: imageTag, leasedBy: freeText };

export const leaseSchema = {
  summary: 'Lease a ready machine, waiting up to `wait` for one',
  params: { type: 'object', required: ['pool'], properties: { pool: poolName } },
  querystring: { type: 'object', additionalProperties: false, properties: { wait: duration, agentVersion: imageTag } },
  body: jsonBody(leaseFields),
  response: withErrors({ 200: leaseAnswer }, [404, 409]),
} as const;

export const releaseSchema = {
  summary: 'Release a leased machine (it is terminated: machines are single-use)',
  params: { type: 'object', required: ['id'], properties: { id: machineId } },
  response: withErrors({ 200: obj({ id: text, state: text }) }, [404, 409]),
} as const;

export const machineSchema = {
  summary: "One machine: its lease fields, failure, and each pull's and step's output (scrubbed)",
  params: { type: 'object', required: ['id'], properties: { id: machineId } },
  response: withErrors({ 200: obj({ ...leaseAnswer.properties, failure: text, failureDetail: text, log: { type: 'array', items: { type: 'object' } } }) }, [404]),
} as const;

export const haltSchema = {
  summary: 'Resume a pool halted by a fatal launch error',
  params: { type: 'object', required: ['pool'], properties: { pool: poolName } },
  response: withErrors({ 200: obj({ pool: text, halted: { type: 'boolean' }, resumed: { type: 'boolean' } }) }, [404]),
} as const;

export const providerHaltSchema = {
  summary: "Resume a provider's launches halted by an authorization refusal (after fixing the permission or credentials)",
  params: { type: 'object', required: ['provider'], properties: { provider: providerName } },
  response: withErrors({ 200: obj({ provider: text, halted: { type: 'boolean' }, resumed: { type: 'boolean' } }) }, [404]),
} as const;

export const statusSchema = {
  summary: "Each pool's machines by state and zone, its target and flags; each zone's breaker",
  response: withErrors({
    200: obj({ pools: { type: 'array', items: { type: 'object' } }, zones: { type: 'array', items: { type: 'object' } }, providers: { type: 'array', items: { type: 'object' } }, alerts: { type: 'array', items: { type: 'object' } } }),
  }),
} as const;

const zoneAnswer = obj({ zone: text, state: text, mode: text, reason: text, by: text, until: text, failureRate: { type: 'number' }, outcomes: { type: 'integer' }, failures: { type: 'integer' }, openUntil: text, reopens: { type: 'integer' } });

export const historySchema = {
  summary: "Samples of each pool's ready machines and lease wait p95, for the dashboard's chart",
  querystring: { type: 'object', additionalProperties: false, properties: { since: duration } },
  response: withErrors({ 200: obj({ everyMs: { type: 'integer' }, samples: { type: 'array', items: { type: 'object' } } }) }, [400]),
} as const;

export const zonesSchema = {
  summary: "Every zone's breaker",
  response: withErrors({ 200: obj({ zones: { type: 'array', items: zoneAnswer } }) }),
} as const;

export const auditSchema = {
  summary: 'Breaker transitions, newest first',
  querystring: {
    type: 'object',
    additionalProperties: false,
    // A string: query values are not coerced, so "0.5" or "-Infinity" is refused rather than rounded.
    properties: { count: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$', description: 'a whole number from 1 to 500' } },
  },
  response: withErrors({ 200: obj({ transitions: { type: 'array', items: obj({ zone: text, from: text, to: text, why: text, by: text, at: text, failureRate: { type: 'number' }, outcomes: { type: 'integer' } }) } }) }),
} as const;

export const overrideSchema = {
  summary: "Override a zone's breaker for every process",
  params: { type: 'object', required: ['zone'], properties: { zone: zoneId } },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['mode', 'reason'],
    properties: { mode: { type: 'string', enum: ['open', 'closed', 'auto'], description: '"open", "closed" or "auto"' }, reason: freeText, for: duration, by: freeText },
  },
  response: withErrors({ 200: zoneAnswer }, [404]),
} as const;

const verifyReport = obj({ version: text, ok: { type: 'boolean' }, problems: { type: 'array', items: text }, checks: { type: 'array', items: { type: 'object' } } });

export const verifySchema = {
  summary: 'Is a version in every registry, with one digest? (rate-limited: http.recoveryListEvery per version)',
  querystring: { type: 'object', additionalProperties: false, required: ['version'], properties: { version: imageTag, pool: poolName } },
  response: withErrors({ 200: verifyReport }, [404]),
} as const;

export const rolloutSchema = {
  summary: 'Set the agent version (and canary) for every process',
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['version'],
    properties: {
      version: imageTag,
      canary: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['version', 'share'],
        properties: { version: imageTag, share: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: 'a number above 0 and at most 1' } },
      },
      pool: poolName,
      force: { type: 'boolean', description: 'true or false' },
      by: freeText,
    },
  },
  response: withErrors({ 200: obj({ pools: { type: 'array', items: { type: 'object' } }, reports: { type: 'array', items: verifyReport } }) }, [404, 409]),
} as const;

export const canaryHaltSchema = {
  summary: 'Resume a canary the guard halted',
  querystring: { type: 'object', additionalProperties: false, properties: { pool: poolName } },
  response: withErrors({ 200: obj({ resumed: { type: 'array', items: text } }) }, [404]),
} as const;

const recoveryPlan = obj({ epochPresent: { type: 'boolean' }, restored: { type: 'integer' }, recreate: { type: 'array', items: { type: 'object' } }, known: { type: 'integer' }, unattributed: { type: 'array', items: text } });

export const recoveryPlanSchema = {
  summary: 'What a rebuild of the store from the cloud tags would recreate (rate-limited: http.recoveryListEvery)',
  response: withErrors({ 200: recoveryPlan }),
} as const;

export const recoverySchema = {
  summary: 'Rebuild the store from the cloud tags now',
  body: jsonBody({}),
  response: withErrors({ 200: recoveryPlan }),
} as const;

export const healthSchema = {
  summary: 'Is Redis answering?',
  response: { 200: obj({ ok: { type: 'boolean' } }), 503: obj({ ok: { type: 'boolean' }, message: text }) },
} as const;

export const metricsSchema = {
  summary: 'Prometheus metrics',
  produces: ['text/plain'],
  response: { 200: { description: 'Prometheus text format', type: 'string' } },
} as const;

export const dashboardSchema = {
  summary: 'The dashboard (HTML)',
  produces: ['text/html'],
  response: { 200: { description: 'the page', type: 'string' } },
} as const;
