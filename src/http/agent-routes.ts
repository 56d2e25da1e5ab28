import { isoFields } from '../iso-time.js';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PoolConfig } from '../config.js';
import { verifyTargets, verifyVersion, type VerifyReport } from '../agent/verify.js';
import type { ServerDeps } from './server.js';
import { canaryHaltSchema, rolloutSchema, verifySchema } from './route-schemas.js';
import { answerBusy, type SharedAnswers } from './shared-answer.js';

interface RolloutBody {
  version: string;
  canary?: { version: string; share: number } | null;
  pool?: string;
  force?: boolean;
  by?: string;
}

/**
 * The agent rollout, for every process at once: `GET /v1/agent/verify`
 * (is a tag in every registry, with one digest?), `PUT /v1/agent/rollout`
 * (stable version and canary; refused when verify would reject a version,
 * unless forced) and `DELETE /v1/agent/canary-halt` (resume a halted canary).
 */
export function registerAgentRoutes(app: FastifyInstance, deps: ServerDeps, answers: SharedAnswers): void {
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

  // Calls every registry: at most once per http.recoveryListEvery per version (and pool), for every caller.
  app.get<{ Querystring: { version: string; pool?: string } }>('/v1/agent/verify', { schema: verifySchema }, async (request, reply) => {
    const { version, pool } = request.query;
    const pools = choose(pool, reply);
    if (!pools) return reply;
    return answers.get(`verify:${pool ?? '*'}:${version}`, () => verify(pools, version)).catch((err: unknown) => answerBusy(err, reply));
  });

  app.put<{ Body: RolloutBody }>('/v1/agent/rollout', { schema: rolloutSchema }, async (request, reply) => {
    const body = request.body;
    if (body.canary && body.canary.version === body.version) return reply.code(400).send({ error: 'bad-request', message: 'body.canary.version: expected a version other than the stable one' });
    const pools = choose(body.pool, reply);
    if (!pools) return reply;
    const { version } = body;
    const canary = body.canary ? { version: body.canary.version, share: body.canary.share } : null;
    const reports = await Promise.all([version, ...(canary ? [canary.version] : [])].map((v) => verify(pools, v)));
    const rejected = reports.filter((r) => !r.ok);
    if (rejected.length > 0 && body.force !== true) {
      const message = `refused: ${rejected.flatMap((r) => r.problems).join('; ')} (verify it, fix the registries, or pass force)`;
      return reply.code(409).send({ error: 'verify-failed', message, reports });
    }
    const by = body.by ?? 'api';
    for (const pool of pools) await deps.rollouts.set(pool.name, { version, canary, by }, deps.now());
    // Only validated tags in the message; `by` (operator text) stays a field.
    deps.logger.warn({ pools: pools.map((p) => p.name), version, canary, by, forced: rejected.length > 0 }, `agent rollout set: ${version}${canary ? `, canary ${canary.version} at ${canary.share}` : ''}`);
    const rollouts = await Promise.all(pools.map(async (pool) => ({ pool: pool.name, ...rolloutView(await deps.rollouts.current(pool)) })));
    return { pools: rollouts, reports };
  });

  app.delete<{ Querystring: { pool?: string } }>('/v1/agent/canary-halt', { schema: canaryHaltSchema }, async (request, reply) => {
    const pools = choose(request.query.pool, reply);
    if (!pools) return reply;
    const resumed: string[] = [];
    for (const pool of pools) if (await deps.rollouts.resumeCanary(pool.name)) resumed.push(pool.name);
    if (resumed.length > 0) deps.logger.warn({ pools: resumed }, `canary resumed by an operator in ${resumed.join(', ')}`);
    return { resumed };
  });
}

/** A rollout as the API shows it: times as ISO strings. */
function rolloutView<R extends { setAt?: number; canaryHalted?: { since: number } }>(rollout: R | undefined): R | undefined {
  if (!rollout) return rollout;
  const halted = rollout.canaryHalted ? { canaryHalted: isoFields(rollout.canaryHalted, ['since']) } : {};
  return { ...isoFields(rollout, ['setAt']), ...halted };
}
