// `npm start`: Redis (unless REDIS_URL is set), the simulated cloud and every
// role in one process, with readable logs: the whole system in one command.
import './quiet-sdk-notice.js';
import { createLogger } from '../src/log.js';
import { CLOSE_MARGIN_MS, closeOnSignals, reportStartFailure, loadConfigOrExit, type Resource } from '../src/run.js';
import { createApp } from '../src/app.js';
import { ensureKeyPair } from '../src/local/key-pair.js';
import { startRedisServer } from '../src/local/redis-server.js';
import { startSimCloud } from '../src/sim/sim-cloud.js';
import { startStatusReporter } from '../src/status-reporter.js';

const resources: Resource[] = [];
const closeAll = async () => {
  for (const resource of [...resources].reverse()) await resource.close().catch(() => undefined);
};
// Each phase of a start on one line, before the logger exists (it needs the Redis URL).
if (!process.env.REDIS_URL) process.stderr.write('vmpool: starting redis\n');
const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
if (redis) resources.push({ close: () => redis.stop() });
const config = loadConfigOrExit({ log: { pretty: process.env.LOG_PRETTY !== 'false' }, ...(redis ? { redis: { url: redis.url } } : {}) });
const logger = createLogger(config.log);
closeOnSignals(() => [...resources].reverse(), logger, config.shutdown.grace + CLOSE_MARGIN_MS);

try {
  if (redis) logger.info({ url: redis.url, redisPid: redis.pid }, 'started a throwaway redis-server');
  ensureKeyPair(config.ssh.privateKeyPath, config.sim.authorizedKeyPath);
  const sim = await startSimCloud({ config: config.sim, logger, hostKeyTag: config.ssh.hostKeyTag });
  resources.push(sim);
  logger.info({ endpoint: sim.endpoint, zones: config.sim.zones }, 'simulated cloud started');
  const app = await createApp({ config, logger, roles: ['producer', 'booter', 'web'] });
  resources.push(app);
  const reporter = startStatusReporter({ ...app, config, logger, now: Date.now });
  resources.push({ close: () => Promise.resolve(reporter.stop()) });
  logger.info(`API at ${app.url}. In another terminal: npx vmpool status | npx vmpool lease small | npx vmpool release <id>. Ctrl-C stops everything.`);
} catch (err) {
  reportStartFailure(logger, err, config);
  await closeAll();
  process.exit(1);
}
