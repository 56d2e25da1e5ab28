import type { Logger } from '../log.js';
import type { ApiFailure, ApiGate } from './api-gate.js';
import type { JsonAnswer, JsonRequest } from './fault-api.js';

export interface ApiControlDeps {
  gate: ApiGate;
  /** The EC2 actions this cloud answers: the only ones that can be denied. */
  actions: readonly string[];
  logger: Logger;
}

const ROOT = '/v1/sim/api';
const DENIED = `${ROOT}/denied`;
const FAILING = `${ROOT}/failing`;

export function isApiControlPath(path: string): boolean {
  return path === ROOT || path.startsWith(`${ROOT}/`);
}

/**
 * `GET /v1/sim/api`: each action's calls, throttled, denied and DryRun
 * answers and its token buckets. `PUT /v1/sim/api/denied/:action` makes IAM
 * refuse the action (`UnauthorizedOperation`); `DELETE` on it allows it
 * again, `DELETE /v1/sim/api/denied` allows every action. Outages of one
 * action under `/v1/sim/api/failing` (see answerOutage).
 */
export function answerApiControl(deps: ApiControlDeps, request: JsonRequest): JsonAnswer {
  const { method, path } = request;
  if (path === ROOT) return method === 'GET' ? { status: 200, body: deps.gate.report() } : notAllowed(method, path);
  if (path === DENIED) {
    if (method !== 'DELETE') return notAllowed(method, path);
    deps.gate.allow();
    return changed(deps, 'every action allowed again');
  }
  if (path === FAILING || path.startsWith(`${FAILING}/`)) return answerOutage(deps, request);
  if (!path.startsWith(`${DENIED}/`)) return { status: 404, body: { error: 'NotFound', message: `no such resource: ${path}` } };
  const action = safeDecode(path.slice(DENIED.length + 1));
  if (!deps.actions.includes(action)) return unknownAction(deps, action);
  if (method === 'PUT') {
    deps.gate.deny(action);
    return changed(deps, `${action} denied`);
  }
  if (method === 'DELETE') {
    deps.gate.allow(action);
    return changed(deps, `${action} allowed again`);
  }
  return notAllowed(method, path);
}

const OUTAGE_CODES = ['ServiceUnavailable', 'Unavailable', 'InternalError', 'InternalFailure'] as const;

/**
 * `PUT /v1/sim/api/failing/:action` (body `{"code": "InternalError",
 * "status": 500}`, both optional: 503 ServiceUnavailable) starts an outage of
 * one action: every request answers that server error. `DELETE` on it ends
 * it; `DELETE /v1/sim/api/failing` ends every outage.
 */
function answerOutage(deps: ApiControlDeps, request: JsonRequest): JsonAnswer {
  const { method, path } = request;
  if (path === FAILING) {
    if (method !== 'DELETE') return notAllowed(method, path);
    deps.gate.heal();
    return changed(deps, 'every outage over');
  }
  const action = safeDecode(path.slice(FAILING.length + 1));
  if (!deps.actions.includes(action)) return unknownAction(deps, action);
  if (method === 'DELETE') {
    deps.gate.heal(action);
    return changed(deps, `${action} answering again`);
  }
  if (method !== 'PUT') return notAllowed(method, path);
  const failure = parseFailure(request.body);
  if (typeof failure === 'string') return { status: 400, body: { error: 'InvalidFailure', message: failure } };
  deps.gate.fail(action, failure);
  return changed(deps, `${action} failing with ${failure.status} ${failure.code}`);
}

function parseFailure(text: string): ApiFailure | string {
  let raw: unknown = {};
  try {
    if (text.trim() !== '') raw = JSON.parse(text);
  } catch {
    return 'the body must be a JSON object like {"code": "ServiceUnavailable", "status": 503}';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the body must be a JSON object like {"code": "ServiceUnavailable", "status": 503}';
  const { code = 'ServiceUnavailable', status = code === 'ServiceUnavailable' || code === 'Unavailable' ? 503 : 500, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `${unknown[0]}: unknown field (known: code, status)`;
  if (typeof code !== 'string' || !(OUTAGE_CODES as readonly string[]).includes(code)) return `code: expected one of ${OUTAGE_CODES.join(', ')}, got ${JSON.stringify(code)}`;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 500 || status > 599) return `status: expected a server error status from 500 to 599, got ${JSON.stringify(status)}`;
  return { code, status };
}

function unknownAction(deps: ApiControlDeps, action: string): JsonAnswer {
  return { status: 404, body: { error: 'UnknownAction', message: `action: the simulated cloud answers ${deps.actions.join(', ')}; got ${JSON.stringify(action)}` } };
}

function changed(deps: ApiControlDeps, what: string): JsonAnswer {
  const report = deps.gate.report();
  // Info: an operator taking a permission away on purpose is the first thing to look for in a log.
  deps.logger.info({ denied: report.denied, failing: report.failing }, `sim API: ${what}`);
  return { status: 200, body: report };
}

function notAllowed(method: string, path: string): JsonAnswer {
  return { status: 405, body: { error: 'MethodNotAllowed', message: `${method} is not allowed on ${path}` } };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
