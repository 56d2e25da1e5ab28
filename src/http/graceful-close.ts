import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';

/**
 * Closes the web role within the shutdown grace. New requests are answered
 * 503 (server.ts) while the ones in flight get the grace to finish; then
 * `endWaits` ends waiting leases (they answer 503 `shutting-down`, so the
 * client retries elsewhere) and whatever connection is still open is
 * destroyed, so a keep-alive client can never hold the process past its
 * SIGKILL.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number, endWaits: AbortController, logger: Logger): Promise<void> {
  const closed = app.close();
  if (await within(closed, graceMs)) return;
  logger.warn({ graceMs }, 'requests still running at the end of the grace period; ending them');
  endWaits.abort();
  // An ended wait answers after one more store call; a request stuck on something else is cut off.
  if (await within(closed, WAIT_END_MS)) return;
  app.server.closeAllConnections();
  await closed;
}

/** Long enough for an ended lease wait to answer, short enough to stay inside the dyno's 30 s. */
const WAIT_END_MS = 1_000;

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = await Promise.race([promise.then(() => true), expired]);
  clearTimeout(timer);
  return done;
}
