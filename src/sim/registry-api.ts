import { z } from 'zod';
import { parseDuration } from '../duration.js';
import type { Logger } from '../log.js';
import type { JsonAnswer, JsonRequest } from './fault-api.js';
import type { RegistryChange, SimRegistry } from './sim-registry.js';

export interface RegistryApiDeps {
  registries: ReadonlyMap<string, SimRegistry>;
  logger: Logger;
}

const show = (input: unknown): string => (input === undefined ? 'nothing' : JSON.stringify(input));
const references = () => z.array(z.string({ error: (iss) => `expected "image:tag" texts, got ${show(iss.input)}` }), { error: (iss) => `expected a list of "image:tag", got ${show(iss.input)}` }).optional();

// `slow: "10s"` for people, `slowMs: 10000` as the listing shows it; one of the two.
const bodySchema = z
  .strictObject({
    clear: z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` }).optional(),
    fail: z.number({ error: (iss) => `expected a probability from 0 to 1, got ${show(iss.input)}` }).min(0).max(1, { error: (iss) => `expected a probability from 0 to 1, got ${show(iss.input)}` }).optional(),
    slow: z.string().refine((v) => parseDuration(v) !== undefined, { error: (iss) => `expected a duration like "10s", got ${show(iss.input)}` }).optional(),
    slowMs: z.number({ error: (iss) => `expected whole milliseconds >= 0, got ${show(iss.input)}` }).int().min(0).optional(),
    delete: references(),
    push: references(),
  })
  .refine((body) => body.slow === undefined || body.slowMs === undefined, { error: 'give slow or slowMs, not both', path: ['slow'] });

const ONE = /^\/v1\/sim\/registries\/([^/]+)$/;

export function isRegistryApiPath(path: string): boolean {
  return path === '/v1/sim/registries' || ONE.test(path);
}

/**
 * `GET /v1/sim/registries`, `GET`/`PUT`/`DELETE /v1/sim/registries/:name`:
 * what `vmpool sim registry` drives. PUT applies a change (clear first, then
 * faults, deletions and pushes); DELETE heals the registry.
 */
export function answerRegistryApi(deps: RegistryApiDeps, request: JsonRequest): JsonAnswer {
  const { method, path } = request;
  if (path === '/v1/sim/registries') {
    if (method !== 'GET') return failure(405, 'MethodNotAllowed', `${method} is not allowed on ${path}`);
    return { status: 200, body: { registries: [...deps.registries.values()].map((r) => r.view()) } };
  }
  const name = decodeURIComponent(ONE.exec(path)![1]!);
  const registry = deps.registries.get(name);
  if (!registry) return failure(404, 'UnknownRegistry', `no registry ${show(name)} in this cloud; its registries are ${[...deps.registries.keys()].join(', ') || 'none'}`);
  if (method === 'GET') return { status: 200, body: registry.view() };
  if (method === 'DELETE') return apply(deps, registry, { clear: true });
  if (method !== 'PUT') return failure(405, 'MethodNotAllowed', `${method} is not allowed on ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(request.body);
  } catch {
    return failure(400, 'InvalidJson', 'the body must be a JSON object, e.g. {"delete": ["vmpool/build-agent:1.5.0"]}');
  }
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) return failure(400, 'InvalidChange', parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; '));
  const { slow, slowMs, ...rest } = parsed.data;
  const slowness = slow === undefined ? slowMs : parseDuration(slow);
  return apply(deps, registry, { ...rest, ...(slowness === undefined ? {} : { slowMs: slowness }) });
}

function apply(deps: RegistryApiDeps, registry: SimRegistry, change: RegistryChange): JsonAnswer {
  try {
    const view = registry.change(change);
    // Info: an operator breaking a registry on purpose is the first thing to look for in a log.
    deps.logger.info({ registry: view.name, change, images: view.images, faults: view.faults }, `sim registry ${view.name} changed`);
    return { status: 200, body: view };
  } catch (err) {
    if (err instanceof RangeError) return failure(400, 'InvalidChange', err.message);
    throw err;
  }
}

function failure(status: number, error: string, message: string): JsonAnswer {
  return { status, body: { error, message } };
}
