import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PoolConfig } from '../config.js';
import { isTag } from '../agent/reference.js';
import { verifyTargets, verifyVersion, type VerifyReport } from '../agent/verify.js';
import type { ServerDeps } from './server.js';

interface RolloutBody {
  version?: unknown;
  canary?: { version?: unknown; share?: unknown } | null;
  pool?: unknown;
  force?: unknown;
  by?: unknown;
}

/**
 * The agent rollout, for every process at once: `GET /v1/agent/verify`
 * (is a tag in every registry, with one digest?), `PUT /v1/agent/rollout`
 * (stable version and canary; refused when verify would reject a version,
 * unless forced) and `DELETE /v1/agent/canary-halt` (resume a halted canary).
 */
export function registerAgentRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config } = deps;
  const agentPools = config.pools.filter((p) => p.prepare.agent);
  const choose = (name: unknown, reply: FastifyReply): PoolConfig[] | undefined => {
    if (name === undefined) return agentPools;
    const pool = agentPools.find((p) => p.name === name);
    if (pool) return [pool];
    void reply.code(404).send({ error: 'unknown-pool', message: `no pool named ${JSON.stringify(name)} pulls an agent; such pools: ${agentPools.map((p) => p.name).join(', ') || 'none'}` });
    return undefined;
  };
  const verify = (pools: readonly PoolConfig[], version: string): Promise<VerifyReport> =>
    verifyVersion(verifyTargets(pools, config.registries), version, { loopbackOnly: config.ssh.loopbackOnly, realmHosts: config.agent.tokenRealmHosts, timeoutMs: 10_000 });

  app.get<{ Querystring: { version?: string; pool?: string } }>('/v1/agent/verify', async (request, reply) => {
    const { version } = request.query;
    if (typeof version !== 'string' || !isTag(version)) return reply.code(400).send({ error: 'bad-request', message: `version: expected an image tag, got ${JSON.stringify(version)}` });
    const pools = choose(request.query.pool, reply);
    return pools ? verify(pools, version) : reply;
  });

  app.put<{ Body: RolloutBody | undefined }>('/v1/agent/rollout', async (request, reply) => {
    const body = request.body ?? {};
    const problem = rolloutProblem(body);
    if (problem) return reply.code(400).send({ error: 'bad-request', message: problem });
    const pools = choose(body.pool, reply);
    if (!pools) return reply;
    const version = body.version as string;
    const canary = body.canary ? { version: body.canary.version as string, share: body.canary.share as number } : null;
    const reports = await Promise.all([version, ...(canary ? [canary.version] : [])].map((v) => verify(pools, v)));
    const rejected = reports.filter((r) => !r.ok);
    if (rejected.length > 0 && body.force !== true) {
      const message = `refused: ${rejected.flatMap((r) => r.problems).join('; ')} (verify it, fix the registries, or pass force)`;
      return reply.code(409).send({ error: 'verify-failed', message, reports });
    }
    const by = typeof body.by === 'string' ? body.by : 'api';
    for (const pool of pools) await deps.rollouts.set(pool.name, { version, canary, by }, deps.now());
    deps.logger.warn({ pools: pools.map((p) => p.name), version, canary, by, forced: rejected.length > 0 }, `agent rollout set: ${version}${canary ? `, canary ${canary.version} at ${canary.share}` : ''}`);
    const rollouts = await Promise.all(pools.map(async (pool) => ({ pool: pool.name, ...(await deps.rollouts.current(pool)) })));
    return { pools: rollouts, reports };
  });

  app.delete<{ Querystring: { pool?: string } }>('/v1/agent/canary-halt', async (request, reply) => {
    const pools = choose(request.query.pool, reply);
    if (!pools) return reply;
    const resumed: string[] = [];
    for (const pool of pools) if (await deps.rollouts.resumeCanary(pool.name)) resumed.push(pool.name);
    if (resumed.length > 0) deps.logger.warn({ pools: resumed }, `canary resumed by an operator in ${resumed.join(', ')}`);
    return { resumed };
  });
}

function rolloutProblem(body: RolloutBody): string | undefined {
  if (typeof body.version !== 'string' || !isTag(body.version)) return `version: expected an image tag, got ${JSON.stringify(body.version)}`;
  if (body.canary === undefined || body.canary === null) return undefined;
  const { version, share } = body.canary;
  if (typeof version !== 'string' || !isTag(version)) return `canary.version: expected an image tag, got ${JSON.stringify(version)}`;
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) return `canary.share: expected a number above 0 and at most 1, got ${JSON.stringify(share)}`;
  if (version === body.version) return 'canary.version: expected a version other than the stable one';
  return undefined;
}
