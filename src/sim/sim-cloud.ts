import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot, type SimConfig } from '../config.js';
import type { Logger } from '../log.js';
import { ApiGate } from './api-gate.js';
import { answerApiControl, isApiControlPath, type ApiControlDeps } from './api-control.js';
import { SUPPORTED_ACTIONS, callInfo, handleAction } from './ec2-actions.js';
import { Ec2Catalog } from './ec2-catalog.js';
import { Ec2Error } from './ec2-error.js';
import type { SimInstance, SimState } from './ec2-instance.js';
import { Ec2Model } from './ec2-model.js';
import { QueryParams, errorXml } from './ec2-query.js';
import { answerFaultApi, isFaultApiPath, type FaultApiDeps, type JsonAnswer } from './fault-api.js';
import { FaultTable, type InstanceFate } from './sim-faults.js';
import { sweepStaleScratch } from './scratch-sweep.js';
import { SimFleet } from './sim-fleet.js';
import { SimRegistry } from './sim-registry.js';
import { answerRegistryApi, isRegistryApiPath, type RegistryApiDeps } from './registry-api.js';
import { shellQuote } from '../agent/reference.js';

/** One instance as tests and the CLI see it: a copy, safe to keep. */
export interface SimInstanceView {
  instanceId: string;
  state: SimState;
  zone: string;
  privateIp: string;
  tags: Record<string, string>;
  clientToken: string | undefined;
  launchedAt: number;
  /** Eventual consistency: before this instant the EC2 API answers as if the instance did not exist. */
  visibleAt: number;
  /** When the instance entered its current state: with launchedAt, how long its boot took. */
  stateChangedAt: number;
  /** What its zone's faults had in store for it, drawn at launch. */
  fate: InstanceFate;
}

export interface SimCloud {
  /** `http://127.0.0.1:<port>`: give it to the EC2 client as `endpoint`; `/v1/sim/...` on it is the fault API. */
  readonly endpoint: string;
  /** Per-zone faults, drawn from at every RunInstances; the fault API writes here. */
  readonly faults: FaultTable;
  /** The container registries it serves, by name (`sim.registries`); `/v1/sim/registries` changes them. */
  readonly registries: ReadonlyMap<string, SimRegistry>;
  /** Holds one scratch directory per VM (`<rootDir>/<instanceId>`); removed by close(). */
  readonly rootDir: string;
  instances(): SimInstanceView[];
  /** EC2 API requests answered so far, by action (errors included); also `GET /v1/sim/requests`. */
  requests(): Record<string, number>;
  /** The front door: token buckets, denied actions, per-action counts (`GET /v1/sim/api`, `vmpool sim api`). */
  readonly api: ApiGate;
  /** Restarts a running instance's sshd with a fresh host key (a changed host), same address; returns its fingerprint. */
  replaceHostKey(instanceId: string): Promise<string>;
  /** Stops every VM, the API server, and removes rootDir. */
  close(): Promise<void>;
}

export interface SimCloudOptions {
  config: SimConfig;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  /** Where VMs publish their host key fingerprint (`ssh.hostKeyTag`). */
  hostKeyTag?: string;
}

const MAX_BODY_BYTES = 1 << 20;
const REQUESTS_PATH = '/v1/sim/requests';

/** Starts the simulated EC2 cloud: the EC2 Query API on loopback, real SSH servers as VMs. */
export async function startSimCloud(options: SimCloudOptions): Promise<SimCloud> {
  const { config } = options;
  assertLoopback(config.host);
  const logger = options.logger.child({ component: 'sim-cloud' });
  const authorizedKey = firstLine(await readFile(config.authorizedKeyPath, 'utf8'));
  const swept = await sweepStaleScratch();
  if (swept.length > 0) logger.info({ swept }, 'removed scratch folders of simulated clouds that were killed');
  const rootDir = await mkdtemp(join(tmpdir(), `vmpool-sim-${process.pid}-`));
  const registries = new Map<string, SimRegistry>();
  try {
    for (const r of config.registries) registries.set(r.name, new SimRegistry({ ...r, host: config.host, logger: logger.child({ component: 'sim-registry', registry: r.name }), random: options.random }));
    for (const registry of registries.values()) await registry.start();
  } catch (err) {
    await Promise.all([...registries.values()].map((r) => r.close()));
    await rm(rootDir, { recursive: true, force: true });
    throw err;
  }
  const binDir = await installImageTools(rootDir);
  const faults = new FaultTable();
  const hooks = { launched: (i: SimInstance) => fleet.boot(i), terminating: (i: SimInstance) => fleet.shutdown(i) };
  const { region, zones, terminatedRetention, sshPort, bootDelay, bootSpread } = config;
  const catalog = new Ec2Catalog({ region, zones, images: config.images, offerings: config.offerings });
  const model = new Ec2Model({ region, zones, terminatedRetention, now: options.now, random: options.random, faults, hooks, consistency: config.consistency.delay, catalog });
  const gate = new ApiGate(config.throttling, options.now);
  const hostKeyTag = options.hostKeyTag ?? 'vmpool:host-key';
  const fleet = new SimFleet({ model, sshPort, bootDelay, bootSpread, rootDir, authorizedKey, hostKeyTag, logger, random: options.random, binDirs: [binDir] });
  const faultApi: FaultApiDeps = { faults, zones, logger: options.logger.child({ component: 'sim-faults' }) };
  const registryApi: RegistryApiDeps = { registries, logger: faultApi.logger };
  const apiControl: ApiControlDeps = { gate, actions: SUPPORTED_ACTIONS, logger: faultApi.logger };
  // What a benchmark checks from outside: e.g. DescribeInstances calls must not grow with the machines booting.
  const requests = new Map<string, number>();
  const respond = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = faultApiPath(req);
    if (path === REQUESTS_PATH) return Promise.resolve(sendJson(res, { status: 200, body: { requests: Object.fromEntries(requests) } }));
    return path !== undefined ? answerJson(req, res, path, faultApi, registryApi, apiControl) : answer(req, res, { model, gate, logger, requests });
  };
  const server = createServer((req, res) => {
    respond(req, res).catch((err: unknown) => logger.error({ err }, 'sim cloud could not answer'));
  });
  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (err) {
    await Promise.all([...registries.values()].map((r) => r.close()));
    await rm(rootDir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.debug({ endpoint, rootDir, registries: [...registries.values()].map((r) => r.url) }, 'sim cloud listening');
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    faults,
    registries,
    rootDir,
    instances: () => model.instances().map((i) => view(i, model)),
    requests: () => Object.fromEntries(requests),
    api: gate,
    replaceHostKey: (instanceId) => fleet.replaceHostKey(instanceId),
    close: () => (closing ??= closeAll(server, fleet, registries, rootDir)),
  };
}

/** The guard that keeps a demo from ever serving a fake cloud (or its VMs) to the network. */
export function assertLoopback(host: string): void {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const loopback = bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
  if (!loopback) throw new Error(`sim.host: the simulated cloud listens on loopback only, got "${host}"`);
}

interface Ec2Deps {
  model: Ec2Model;
  gate: ApiGate;
  logger: Logger;
  requests: Map<string, number>;
}

async function answer(req: IncomingMessage, res: ServerResponse, { model, gate, logger, requests }: Ec2Deps): Promise<void> {
  const requestId = randomUUID();
  let status = 200;
  let body: string;
  let action: string | undefined;
  try {
    const text = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const params = QueryParams.parse(text, url.search);
    action = params.get('Action');
    requests.set(action ?? '', (requests.get(action ?? '') ?? 0) + 1);
    gate.admit(callInfo(params));
    ({ xml: body } = handleAction(model, params, requestId));
  } catch (err) {
    const error = asEc2Error(err, logger);
    status = error.status;
    body = errorXml(error.code, error.message, requestId);
  }
  // EC2 sends the request id as a header too; the SDK reads it from there into $metadata.
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
  res.end(body);
  logger.debug({ action, status, requestId }, 'ec2 request');
}

// The EC2 API answers a URL too odd to parse, in its own XML.
function faultApiPath(req: IncomingMessage): string | undefined {
  try {
    const path = new URL(req.url ?? '/', 'http://sim.invalid').pathname;
    return isFaultApiPath(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

async function answerJson(req: IncomingMessage, res: ServerResponse, path: string, deps: FaultApiDeps, registryApi: RegistryApiDeps, apiControl: ApiControlDeps): Promise<void> {
  let reply: JsonAnswer;
  try {
    const request = { method: req.method ?? 'GET', path, body: await readBody(req) };
    if (isRegistryApiPath(path)) reply = answerRegistryApi(registryApi, request);
    else if (isApiControlPath(path)) reply = answerApiControl(apiControl, request);
    else reply = answerFaultApi(deps, request);
  } catch (err) {
    const error = asEc2Error(err, deps.logger);
    reply = { status: error.status, body: { error: error.code, message: error.message } };
  }
  sendJson(res, reply);
}

function sendJson(res: ServerResponse, reply: JsonAnswer): void {
  res.writeHead(reply.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(reply.body));
}

// Our own errors are answers; anything else is a bug, logged and answered as EC2 answers its own.
function asEc2Error(err: unknown, logger: Logger): Ec2Error {
  if (err instanceof Ec2Error) return err;
  logger.error({ err }, 'sim cloud request failed');
  return new Ec2Error('InternalError', 'An internal error has occurred', 500);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new Ec2Error('RequestEntityTooLarge', `Request body exceeds ${MAX_BODY_BYTES} bytes`, 413));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

async function closeAll(server: Server, fleet: SimFleet, registries: ReadonlyMap<string, SimRegistry>, rootDir: string): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // The SDK keeps connections alive; without this close() would wait for them to idle out.
  server.closeAllConnections();
  await closed;
  await fleet.close();
  await Promise.all([...registries.values()].map((r) => r.close()));
  await rm(rootDir, { recursive: true, force: true });
}

function view(i: SimInstance, model: Ec2Model): SimInstanceView {
  const { instanceId, state, zone, privateIp, clientToken, launchedAt, visibleAt, stateChangedAt } = i;
  return { instanceId, state, zone, privateIp, tags: Object.fromEntries(i.tags), clientToken, launchedAt, visibleAt, stateChangedAt, fate: { ...model.fateOf(i) } };
}

/**
 * The tools a simulated VM's image comes with, as a real image has them
 * baked in: `registry-pull`, the agent pull of the default config. A shim
 * that runs the compiled tool with this very node, so a VM needs nothing
 * installed on the host beyond Node itself.
 */
async function installImageTools(rootDir: string): Promise<string> {
  const binDir = join(rootDir, 'image-bin');
  await mkdir(binDir, { recursive: true });
  const tool = join(packageRoot(), 'dist', 'workers', 'registry-pull.js');
  const shim = join(binDir, 'registry-pull');
  // The simulated VMs run on this machine, in development and tests only: their pulls stay on loopback too.
  await writeFile(shim, `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(tool)} --loopback-only "$@"\n`);
  await chmod(shim, 0o755);
  return binDir;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) throw new Error('sim.authorizedKeyPath: the file holds no public key');
  return line.trim();
}
