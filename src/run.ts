import { createLogger, type Logger } from './log.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createApp, type App, type Role } from './app.js';
import { RedisUnreachableError } from './redis-connection.js';

export interface Resource {
  close(): Promise<void>;
}

/**
 * Loads config or exits with one line per problem (status 2), so a bad file
 * stops a process at start instead of failing later in a job.
 */
export function loadConfigOrExit(overrides: Record<string, unknown> = {}): Readonly<Config> {
  try {
    return loadConfig(overrides);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vmpool: invalid configuration\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
    process.exit(2);
  }
}

/**
 * Beyond the grace, what closing connections and writing the last records may
 * take; grace 25 s plus this stays under a platform's SIGKILL at 30 s.
 */
export const CLOSE_MARGIN_MS = 3_000;

/**
 * Closes `resources` in order on SIGINT or SIGTERM and exits 0 (1 if closing
 * failed). A second signal while closing is harmless: it is logged, not obeyed.
 * A close that cannot finish (Redis frozen: its commands never answer) is cut
 * off at `deadlineMs` with exit 1, so the process is gone on its own terms,
 * with a log line saying why, rather than by a SIGKILL.
 */
export function closeOnSignals(resources: () => readonly Resource[], logger: Logger, deadlineMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return logger.info({ signal }, 'already shutting down');
    closing = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish in time (is Redis answering?); exiting anyway');
      logger.flush();
      process.exit(1);
    }, deadlineMs).unref();
    void (async () => {
      let code = 0;
      for (const resource of resources()) {
        await resource.close().catch((err: unknown) => {
          logger.error({ err }, 'error while shutting down');
          code = 1;
        });
      }
      logger.info('stopped');
      logger.flush();
      process.exit(code);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Where a port comes from in the config, so a busy one names what to change. */
function portKey(port: number | undefined, config?: Readonly<Config>): string {
  if (config && port === config.http.port) return 'the API: http.port, env PORT';
  if (config && port === config.sim.port) return 'the simulated cloud: sim.port';
  const registry = config?.sim.registries.find((r) => r.port === port);
  if (registry) return `the simulated registry ${registry.name}: sim.registries port`;
  return 'PORT for the API, sim.port for the simulated cloud';
}

/** A one-line reason for a failed start that tells the operator what to change. */
export function explainStartFailure(err: unknown, config?: Readonly<Config>): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE') return `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: the port is in use by another process; stop it or choose another port (${portKey(e.port, config)})`;
  if (e.code === 'EACCES' && e.port !== undefined) return `cannot listen on ${e.address ?? '?'}:${e.port}: permission denied; choose a port above 1023 (${portKey(e.port, config)})`;
  if (err instanceof RedisUnreachableError) return err.message;
  if (e.code === 'ENOENT' && e.path) return `cannot read ${e.path}: no such file`;
  if (e.code === 'ECONNREFUSED') return `cannot connect to ${e.address ?? '?'}:${e.port ?? '?'} (is Redis running? set REDIS_URL)`;
  return `failed to start: ${err instanceof Error ? err.message : String(err)}`;
}

/** Failures an operator causes and fixes (a busy port, no Redis): their line says it all, the stack is for debug level. */
function isExpectedStartFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return err instanceof RedisUnreachableError || code === 'EADDRINUSE' || code === 'EACCES' || code === 'ENOENT' || code === 'ECONNREFUSED';
}

/** Logs why a start failed: one line, with the stack only for the unexpected (or at debug level). */
export function reportStartFailure(logger: Logger, err: unknown, config?: Readonly<Config>): void {
  const line = explainStartFailure(err, config);
  if (!isExpectedStartFailure(err)) return logger.fatal({ err }, line);
  logger.debug({ err }, 'start failure detail');
  logger.fatal(line);
}

/** Entry point of a Procfile role: config, logger, the roles, signals. */
export async function runRoles(roles: readonly Role[]): Promise<App> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.log);
  try {
    const app = await createApp({ config, logger, roles });
    closeOnSignals(() => [app], logger, config.shutdown.grace + CLOSE_MARGIN_MS);
    logger.info({ roles, url: app.url }, 'vmpool started');
    return app;
  } catch (err) {
    reportStartFailure(logger, err, config);
    logger.flush();
    process.exit(1);
  }
}
