// `npm run sim`: the simulated EC2 cloud alone, for the Procfile roles as separate
// processes (Procfile.dev), or for pointing any EC2 client at it.
import './quiet-sdk-notice.js';
import { ensureKeyPair } from '../src/local/key-pair.js';
import { createLogger } from '../src/log.js';
import { CLOSE_MARGIN_MS, closeOnSignals, reportStartFailure, loadConfigOrExit } from '../src/run.js';
import { startSimCloud } from '../src/sim/sim-cloud.js';

const config = loadConfigOrExit();
const logger = createLogger(config.log);
try {
  ensureKeyPair(config.ssh.privateKeyPath, config.sim.authorizedKeyPath);
  const sim = await startSimCloud({ config: config.sim, logger, hostKeyTag: config.ssh.hostKeyTag });
  closeOnSignals(() => [sim], logger, config.shutdown.grace + CLOSE_MARGIN_MS);
  logger.info({ endpoint: sim.endpoint, region: config.sim.region, zones: config.sim.zones }, 'simulated EC2 cloud listening');
} catch (err) {
  reportStartFailure(logger, err, config);
  process.exit(1);
}
