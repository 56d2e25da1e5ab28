import type { Logger } from '../log.js';
import type { ApiGate } from './api-gate.js';
import type { JsonAnswer, JsonRequest } from './fault-api.js';

export interface ApiControlDeps {
  gate: ApiGate;
  /** The EC2 actions this cloud answers: the only ones that can be denied. */
  actions: readonly string[];
  logger: Logger;
}

const ROOT = '/v1/sim/api';
const DENIED = `${ROOT}/denied`;

export function isApiControlPath(path: string): boolean {
  return path === ROOT || path.startsWith(`${ROOT}/`);
}

/**
 * `GET /v1/sim/api`: each action's calls, throttled, denied and DryRun
 * answers and its token buckets. `PUT /v1/sim/api/denied/:action` makes IAM
 * refuse the action (`UnauthorizedOperation`); `DELETE` on it allows it
 * again, `DELETE /v1/sim/api/denied` allows every action.
 */
export function answerApiControl(deps: ApiControlDeps, request: JsonRequest): JsonAnswer {
  const { method, path } = request;
  if (path === ROOT) return method === 'GET' ? { status: 200, body: deps.gate.report() } : notAllowed(method, path);
  if (path === DENIED) {
    if (method !== 'DELETE') return notAllowed(method, path);
    deps.gate.allow();
    return changed(deps, 'every action allowed again');
  }
  if (!path.startsWith(`${DENIED}/`)) return { status: 404, body: { error: 'NotFound', message: `no such resource: ${path}` } };
  const action = safeDecode(path.slice(DENIED.length + 1));
  if (!deps.actions.includes(action)) {
    return { status: 404, body: { error: 'UnknownAction', message: `action: the simulated cloud answers ${deps.actions.join(', ')}; got ${JSON.stringify(action)}` } };
  }
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

function changed(deps: ApiControlDeps, what: string): JsonAnswer {
  const report = deps.gate.report();
  // Info: an operator taking a permission away on purpose is the first thing to look for in a log.
  deps.logger.info({ denied: report.denied }, `sim API: ${what}`);
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
