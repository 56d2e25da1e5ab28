import { performance } from 'node:perf_hooks';
import type { AgentConfig, RegistryConfig } from '../config.js';
import type { Logger } from '../log.js';
import { scrubSecrets } from '../secrets/scrub.js';
import { isImageName, isTag, shellQuote } from '../agent/reference.js';
import type { PullCounters, PullResult } from '../agent/pull-counters.js';
import { RegistryAttemptFailed, type RegistryGuards } from '../agent/registry-guards.js';
import type { ExecResult, SshSession } from './ssh.js';
import type { StepRecord } from './prepare.js';

export interface PullDeps {
  guards: RegistryGuards;
  pulls: PullCounters;
  /** Keeps each attempt's output in the machine's log. */
  record(entry: StepRecord): Promise<void>;
  outputBytes: number;
  /** Where the version came from (a rollout, the machine's record...), named if it is refused. */
  versionFrom?: string;
}

export interface PullAttempt {
  registry: string;
  result: PullResult;
  ms: number;
}

export type PullOutcome =
  | { ok: true; registry: string; attempts: PullAttempt[] }
  /** Every registry failed; `allTimedOut` when none of them even answered in time (the zone's network?). */
  | { ok: false; attempts: PullAttempt[]; allTimedOut: boolean; detail: string };

class AttemptFailed extends RegistryAttemptFailed {
  constructor(readonly result: ExecResult) {
    super(result.timedOut ? 'timed out' : `exit ${result.exitCode ?? result.signal ?? 'none'}`);
  }
}

/** A value that must not reach the machine's shell: the machine fails `invalid-agent-version`, never its zone. */
export class InvalidPullValue extends Error {
  override readonly name = 'InvalidPullValue';
}

// A registry base URL as pull commands take it: scheme, host, optional port and path, nothing a shell reads.
const REGISTRY_URL = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[A-Za-z0-9._~-]+)*\/?$/;

/**
 * The pull command for one registry. The values never become shell text of
 * the template: each is checked against its grammar here, where it is used
 * (whatever its origin: config, API, Redis, an instance tag), and passed as a
 * shell variable assigned before the template; each placeholder becomes a
 * reference to it (`{version}` -> `${VMPOOL_VERSION}`). The shell expands a
 * variable's value without reading it as code, so an operator's quotes around
 * a placeholder (`"{image}:{version}"`) are harmless.
 */
export function pullCommand(agent: Pick<AgentConfig, 'pullCommand' | 'image'>, registry: RegistryConfig, version: string, versionFrom = 'the caller'): string {
  const url = registry.url.replace(/\/+$/, '');
  if (!isTag(version)) throw new InvalidPullValue(`agent version ${JSON.stringify(version)} from ${versionFrom} is not a valid image tag`);
  if (!isImageName(agent.image)) throw new InvalidPullValue(`agent image ${JSON.stringify(agent.image)} is not a valid image name`);
  if (!REGISTRY_URL.test(url)) throw new InvalidPullValue(`registry ${registry.name} URL ${JSON.stringify(url)} is not a plain http(s) base URL`);
  const values: Record<string, string> = { registry: url.replace(/^https?:\/\//, ''), url, image: agent.image, version };
  const assignments = Object.entries(values).map(([key, value]) => `${variable(key)}=${shellQuote(value)}`);
  const body = agent.pullCommand.replace(/\{(registry|url|image|version)\}/g, (_, key: string) => `\${${variable(key)}}`);
  return `${assignments.join(' ')}; ${body}`;
}

function variable(placeholder: string): string {
  return `VMPOOL_${placeholder.toUpperCase()}`;
}

/**
 * Pulls the agent image on the machine from the first registry that serves
 * it, primary first (the Codeship Pro fix: a tag deleted from the primary did
 * not stop one build). A registry whose breaker is open in this process is
 * tried last, after the others. Every attempt is counted and logged. A lost
 * connection propagates (SshError) for the caller to classify; so does an
 * InvalidPullValue, before anything runs on the machine.
 */
export async function pullAgent(session: SshSession, agent: AgentConfig, registries: readonly RegistryConfig[], version: string, deps: PullDeps, logger: Logger): Promise<PullOutcome> {
  const log = logger.child({ component: 'agent-pull', image: agent.image, version });
  // Every command built (and so every value checked) before the first one runs.
  const commands = new Map(registries.map((registry) => [registry.name, pullCommand(agent, registry, version, deps.versionFrom)]));
  const attempts: PullAttempt[] = [];
  const outputs: string[] = [];
  const attempt = async (registry: RegistryConfig): Promise<boolean> => {
    const started = performance.now();
    const result = await session.exec(commands.get(registry.name)!, { timeoutMs: agent.pullTimeout, maxOutputBytes: deps.outputBytes });
    const ms = Math.round(performance.now() - started);
    const outcome: PullResult = result.timedOut ? 'timeout' : result.exitCode === 0 ? 'ok' : 'failed';
    attempts.push({ registry: registry.name, result: outcome, ms });
    await deps.pulls.count(registry.name, outcome);
    await deps.record({ name: `pull ${agent.image}:${version} from ${registry.name}`, ok: outcome === 'ok', ms, exitCode: result.exitCode, timedOut: result.timedOut, output: result.output });
    if (outcome === 'ok') {
      log.info({ registry: registry.name, ms }, `agent ${agent.image}:${version} pulled from ${registry.name}`);
      return true;
    }
    outputs.push(`${registry.name} ${outcome}: ${scrubSecrets(result.output).trim().slice(-300)}`);
    log.warn({ registry: registry.name, result: outcome, ms, exitCode: result.exitCode, output: result.output.slice(-1_000) }, `agent pull from ${registry.name} ${outcome === 'timeout' ? 'timed out' : 'failed'}; trying the next registry`);
    throw new AttemptFailed(result);
  };
  const deferred: RegistryConfig[] = [];
  for (const registry of registries) {
    const run = await deps.guards.run(registry.name, () => attempt(registry)).catch(rethrowUnlessFailed);
    if (run === undefined) continue;
    if (run.skipped) deferred.push(registry);
    else return { ok: true, registry: registry.name, attempts };
  }
  for (const registry of deferred) {
    log.info({ registry: registry.name }, `registry ${registry.name} is failing in this process; trying it last`);
    if (await attempt(registry).catch(rethrowUnlessFailed)) return { ok: true, registry: registry.name, attempts };
  }
  const allTimedOut = attempts.length > 0 && attempts.every((a) => a.result === 'timeout');
  const detail = `agent ${agent.image}:${version}: every registry failed (${outputs.join('; ')})`;
  log.error({ attempts }, detail);
  return { ok: false, attempts, allTimedOut, detail };
}

function rethrowUnlessFailed(err: unknown): undefined {
  if (err instanceof AttemptFailed) return undefined;
  throw err;
}
