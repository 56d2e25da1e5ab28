import { z } from 'zod';
import { parseDuration } from '../duration.js';
import type { Logger } from '../log.js';
import type { FaultTable, ZoneFaults } from './sim-faults.js';

export interface FaultApiDeps {
  faults: FaultTable;
  /** The cloud's zones: the only ones the API lists or accepts. */
  zones: readonly string[];
  logger: Logger;
}

export interface JsonRequest {
  method: string;
  /** The URL's pathname, still percent-encoded. */
  path: string;
  body: string;
}

export interface JsonAnswer {
  status: number;
  body: unknown;
}

const show = (input: unknown): string => (input === undefined ? 'nothing' : JSON.stringify(input));

const probability = () => {
  const error = (iss: { input?: unknown }) => `expected a probability from 0 to 1, got ${show(iss.input)}`;
  return z.number({ error }).min(0, { error }).max(1, { error }).optional();
};

const milliseconds = () => {
  const error = (iss: { input?: unknown }) => `expected whole milliseconds >= 0, got ${show(iss.input)}`;
  return z.number({ error }).int({ error }).min(0, { error }).optional();
};

// `slowBoot: "20s"` for people, `slowBootMs: 20000` as the listing shows it; one of the two.
const bodySchema = z
  .strictObject({
    capacityError: probability(),
    launchError: probability(),
    bootFail: probability(),
    sshHang: probability(),
    slowBoot: z.string({ error: (iss) => `expected a duration like "20s", got ${show(iss.input)}` }).optional(),
    slowBootMs: milliseconds(),
  })
  .superRefine((body, ctx) => {
    if (body.slowBoot !== undefined && parseDuration(body.slowBoot) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['slowBoot'], message: `expected a duration like "20s", got ${show(body.slowBoot)}` });
    }
    if (body.slowBoot !== undefined && body.slowBootMs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['slowBoot'], message: 'give slowBoot or slowBootMs, not both' });
    }
  });

const ZONE_FAULTS = /^\/v1\/sim\/zones\/(.+)\/faults$/;

/** The fault API lives under `/v1/sim/`; every other request to the sim's port is the EC2 API. */
export function isFaultApiPath(path: string): boolean {
  return path.startsWith('/v1/sim/');
}

/**
 * `GET /v1/sim/zones`, and `GET`/`PUT`/`DELETE /v1/sim/zones/:zone/faults`.
 * Pure but for the fault table and the log, so it needs no HTTP to test.
 */
export function answerFaultApi(deps: FaultApiDeps, request: JsonRequest): JsonAnswer {
  const { method, path } = request;
  if (path === '/v1/sim/zones') {
    if (method !== 'GET') return notAllowed(method, path);
    return { status: 200, body: { zones: deps.zones.map((zone) => ({ zone, faults: deps.faults.forZone(zone) })) } };
  }
  const match = ZONE_FAULTS.exec(path);
  if (!match) return failure(404, 'NotFound', `no such resource: ${path}`);
  const zone = zoneNamed(match[1]!, deps.zones);
  if (zone === undefined) return failure(404, 'UnknownZone', `no zone ${show(safeDecode(match[1]!))} in this cloud; its zones are ${deps.zones.join(', ')}`);
  if (method === 'GET') return zoneAnswer(deps, zone);
  if (method === 'DELETE') return change(deps, zone, {});
  if (method === 'PUT') return put(deps, zone, request.body);
  return notAllowed(method, path);
}

function put(deps: FaultApiDeps, zone: string, text: string): JsonAnswer {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return failure(400, 'InvalidJson', 'the body must be a JSON object of faults, e.g. {"bootFail": 1}');
  }
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) return failure(400, 'InvalidFaults', describeIssues(parsed.error.issues));
  const { slowBoot, slowBootMs, ...probabilities } = parsed.data;
  const slow = slowBoot === undefined ? slowBootMs : parseDuration(slowBoot);
  return change(deps, zone, { ...probabilities, ...(slow === undefined ? {} : { slowBootMs: slow }) });
}

function change(deps: FaultApiDeps, zone: string, faults: ZoneFaults): JsonAnswer {
  deps.faults.set(zone, faults);
  const answer = zoneAnswer(deps, zone);
  // Info, not debug: an operator breaking a zone on purpose is the first thing to look for in a log.
  deps.logger.info(answer.body as object, 'sim zone faults changed');
  return answer;
}

function zoneAnswer(deps: FaultApiDeps, zone: string): JsonAnswer {
  return { status: 200, body: { zone, faults: { ...deps.faults.forZone(zone) } } };
}

// `zone-b`, or a vmpool zone id `sim/zone-b` (encoded or not): the part after the last slash.
function zoneNamed(encoded: string, zones: readonly string[]): string | undefined {
  const name = safeDecode(encoded).split('/').pop() ?? '';
  return zones.includes(name) ? name : undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const fields = Object.keys(bodySchema.shape).join(', ');
  return issues
    .flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys.map((key) => `${key}: unknown field (known: ${fields})`) : [`${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`]))
    .join('; ');
}

function notAllowed(method: string, path: string): JsonAnswer {
  return failure(405, 'MethodNotAllowed', `${method} is not allowed on ${path}`);
}

function failure(status: number, error: string, message: string): JsonAnswer {
  return { status, body: { error, message } };
}
