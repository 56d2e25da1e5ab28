import type { FastifyInstance } from 'fastify';
import { parseDuration, formatDuration } from '../duration.js';
import type { Machine } from '../machines/machine.js';
import { leaseMachine, releaseMachine } from '../pool/lease.js';
import { abortScope } from '../abort-scope.js';
import { LeaseConfirmations } from '../pool/lease-confirmations.js';
import { readStatus } from '../status.js';
import type { ServerDeps } from './server.js';
import { registerZoneRoutes } from './zone-routes.js';
import { answerShuttingDown } from './shutting-down.js';
import { registerRecoveryRoutes } from './recovery-routes.js';
import { registerAgentRoutes } from './agent-routes.js';
import { availableVersions } from '../agent/available-versions.js';
import { isoTime } from '../iso-time.js';
import { OPEN_READ } from './access.js';
import { SharedAnswers } from './shared-answer.js';
import { haltSchema, leaseSchema, machineSchema, providerHaltSchema, releaseSchema, statusSchema } from './route-schemas.js';
import { registerLeaseListRoutes } from './lease-list-routes.js';

/** The lease answer: everything a CI job needs to reach its machine. Field names are a contract. */
export function leaseView(machine: Machine, user: string) {
  return {
    id: machine.id,
    pool: machine.pool,
    zone: machine.zone,
    address: machine.address,
    port: machine.port,
    user,
    hostKeyFingerprint: machine.hostKeyFingerprint,
    // The public key itself: what a known_hosts line needs to enforce the pin.
    hostKey: machine.hostKey,
    instanceId: machine.instanceId,
    instanceType: machine.instanceType,
    agentVersion: machine.agentVersion,
    state: machine.state,
    launchedAt: machine.launchedAt ? isoTime(machine.launchedAt) : undefined,
    leasedAt: machine.leasedAt ? isoTime(machine.leasedAt) : undefined,
    leasedBy: machine.leasedBy,
  };
}

interface LeaseRequest {
  Params: { pool: string };
  Querystring: { wait?: string; agentVersion?: string };
  Body: { wait?: string; agentVersion?: string; leasedBy?: string } | null | undefined;
}

export function registerV1(app: FastifyInstance, deps: ServerDeps): void {
  const { config, store, metrics } = deps;
  const confirmations = new LeaseConfirmations(store, deps.logger);

  app.get('/v1/status', { schema: statusSchema, config: OPEN_READ }, () => readStatus(deps));

  app.delete<{ Params: { pool: string } }>('/v1/pools/:pool/halt', { schema: haltSchema }, async (request, reply) => {
    const pool = config.pools.find((p) => p.name === request.params.pool);
    if (!pool) return reply.code(404).send({ error: 'unknown-pool', message: `no pool named "${request.params.pool}"` });
    const resumed = await deps.flags.resume(pool.name);
    if (resumed) deps.logger.warn({ pool: pool.name }, `pool ${pool.name} resumed by an operator`);
    return { pool: pool.name, halted: false, resumed };
  });

  app.delete<{ Params: { provider: string } }>('/v1/providers/:provider/halt', { schema: providerHaltSchema }, async (request, reply) => {
    const provider = config.providers.find((p) => p.name === request.params.provider);
    if (!provider) return reply.code(404).send({ error: 'unknown-provider', message: `no provider named "${request.params.provider}"; providers: ${config.providers.map((p) => p.name).join(', ')}` });
    const resumed = await deps.providerHalts.resume(provider.name);
    if (resumed) deps.logger.warn({ provider: provider.name }, `provider ${provider.name} resumed by an operator`);
    return { provider: provider.name, halted: false, resumed };
  });

  registerZoneRoutes(app, deps);
  // Answers that cost cloud or registry calls: computed at most once per period for every caller.
  const answers = new SharedAnswers(deps.redis, config.redis.prefix, config.http.recoveryListEvery);
  registerRecoveryRoutes(app, deps, answers);
  registerAgentRoutes(app, deps, answers);
  registerLeaseListRoutes(app, deps);

  app.post<LeaseRequest>('/v1/pools/:pool/leases', { schema: leaseSchema }, async (request, reply) => {
    const pool = config.pools.find((p) => p.name === request.params.pool);
    if (!pool) return reply.code(404).send({ error: 'unknown-pool', message: `no pool named "${request.params.pool}"; pools: ${config.pools.map((p) => p.name).join(', ')}` });
    const fromBody = request.body?.wait !== undefined;
    const waitText = request.body?.wait ?? request.query.wait ?? '0s';
    const agentVersion = request.body?.agentVersion ?? request.query.agentVersion;
    const waitMs = parseDuration(waitText)!;
    const leasedBy = request.body?.leasedBy;
    if (waitMs > config.http.maxLeaseWait) {
      return reply.code(400).send({ error: 'bad-request', message: `${fromBody ? 'body' : 'query'}.wait: at most ${formatDuration(config.http.maxLeaseWait)} (http.maxLeaseWait), got ${waitText}` });
    }
    if (agentVersion !== undefined) {
      const available = await availableVersions(pool, deps);
      if (!available.includes(agentVersion)) {
        const which = available.length > 0 ? `available: ${available.join(', ')}` : 'the pool pulls no agent';
        return reply.code(409).send({ error: 'version-not-available', message: `agentVersion: no rollout wants ${agentVersion} and no ready machine has it in pool "${pool.name}"; ${which}`, available });
      }
    }
    // The client hanging up ends the wait (the request stream's own 'close' fires as soon as the body is read);
    // so does the end of the shutdown grace.
    const aborted = new AbortController();
    reply.raw.once('close', () => aborted.abort());
    const wait = abortScope(aborted.signal, deps.shutdown);
    const started = deps.now();
    const machine = await leaseMachine(pool.name, waitMs, deps, wait.signal, agentVersion).finally(() => wait.dispose());
    metrics.leaseWait.observe({ pool: pool.name, result: machine ? 'leased' : 'timeout' }, (deps.now() - started) / 1000);
    // The dashboard's chart; a lost record costs a point of it, never the lease.
    deps.history.recordLeaseWait(pool.name, (deps.now() - started) / 1000).catch(() => undefined);
    // The grace ran out while waiting: another instance may have a machine.
    if (!machine && deps.shutdown.aborted) return answerShuttingDown(reply, { closeConnection: false });
    if (!machine) {
      const which = agentVersion ? ` with agent ${agentVersion}` : '';
      return reply.code(503).header('retry-after', '5').send({ error: 'no-machine', message: `no ready machine${which} in pool "${pool.name}" within ${waitText}; retry, or pass a longer wait` });
    }
    if (aborted.signal.aborted) {
      // The client left while the lease was being granted: nobody will ever use or release this machine.
      await releaseMachine(machine.id, deps);
      deps.logger.warn({ machineId: machine.id, pool: pool.name }, 'client left before the lease answer; machine released');
      return reply;
    }
    // Who asked is informational: written after the lease script, so a crash in between loses only this field.
    if (leasedBy) await store.update(machine.id, { leasedBy });
    reply.raw.once('finish', () => confirmations.confirm(machine.id));
    deps.logger.info({ machineId: machine.id, pool: pool.name, zone: machine.zone, agentVersion: machine.agentVersion }, 'machine leased');
    return reply.code(200).send(leaseView({ ...machine, ...(leasedBy ? { leasedBy } : {}) }, config.ssh.user));
  });

  app.get<{ Params: { id: string } }>('/v1/machines/:id', { schema: machineSchema }, async (request, reply) => {
    const machine = await store.get(request.params.id);
    if (!machine) return reply.code(404).send({ error: 'unknown-machine', message: `no machine "${request.params.id}"` });
    const log = await deps.machineLog.read(machine.id);
    return { ...leaseView(machine, config.ssh.user), failure: machine.failure, failureDetail: machine.failureDetail, log: log.map((e) => ({ ...e, at: isoTime(e.at) })) };
  });

  app.delete<{ Params: { id: string } }>('/v1/leases/:id', { schema: releaseSchema }, async (request, reply) => {
    const result = await releaseMachine(request.params.id, deps);
    if (result.ok) {
      deps.logger.info({ machineId: result.machine.id, pool: result.machine.pool, zone: result.machine.zone }, 'machine released');
      return { id: result.machine.id, state: 'terminating' };
    }
    if (result.reason === 'not-found') return reply.code(404).send({ error: 'unknown-lease', message: `no lease "${request.params.id}"` });
    return reply.code(409).send({ error: 'not-leased', message: `machine "${request.params.id}" is ${result.state ?? 'not leased'}, not leased` });
  });
}
