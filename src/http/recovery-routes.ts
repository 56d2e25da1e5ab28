import type { FastifyInstance } from 'fastify';
import { applyRecovery, planRecovery } from '../pool/recovery.js';
import type { ServerDeps } from './server.js';
import { recoveryPlanSchema, recoverySchema } from './route-schemas.js';
import { answerBusy, type SharedAnswers } from './shared-answer.js';
import { isoFields } from '../iso-time.js';

/** The plan as the API shows it: times as ISO strings. */
const planView = <P extends { recreate: object[] }>(plan: P): P => ({ ...plan, recreate: plan.recreate.map((m) => isoFields(m, ['launchedAt', 'leasedAt'])) });

/**
 * The rebuild of the machine store from the cloud's tags, for an operator:
 * `GET` shows what it would do (a dry run), `POST` does it now. Producers do
 * it by themselves when Redis comes back empty; this is for looking first,
 * or for records lost some other way. The dry run lists every instance, so it
 * is computed at most once per `http.recoveryListEvery` for every caller.
 */
export function registerRecoveryRoutes(app: FastifyInstance, deps: ServerDeps, answers: SharedAnswers): void {
  app.get('/v1/recovery', { schema: recoveryPlanSchema }, async (_request, reply) =>
    answers.get('recovery', async () => ({ epochPresent: await deps.epoch.present(), ...planView(await planRecovery(deps)) })).catch((err: unknown) => answerBusy(err, reply)),
  );

  app.post('/v1/recovery', { schema: recoverySchema }, async () => {
    const plan = await planRecovery(deps);
    const restored = await applyRecovery(plan, deps);
    if (!(await deps.epoch.present())) await deps.epoch.renew();
    deps.logger.warn({ restored, known: plan.known, unattributed: plan.unattributed.length }, 'machine store rebuilt from the cloud tags on request');
    return { restored, ...planView(plan) };
  });
}
