import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Machine } from '../machines/machine.js';
import type { BootOutcome } from '../outcome-counters.js';
import { canaryTrips } from '../agent/canary-guard.js';
import type { RegistryGuards } from '../agent/registry-guards.js';
import { versionFor } from '../agent/rollout.js';
import { InvalidPullValue, pullAgent } from './agent-image.js';
import { isTag } from '../agent/reference.js';
import { scrubSecrets } from '../secrets/scrub.js';
import { TAGS } from '../providers/provider.js';
import { runPrepare, type StepRecord } from './prepare.js';
import type { SshSession } from './ssh.js';

export type PrepareMachineDeps = Pick<AppDeps, 'config' | 'store' | 'rollouts' | 'pulls' | 'machineLog' | 'now'> & { guards: RegistryGuards };

export type PrepareResult = { ok: true } | { ok: false; outcome: BootOutcome; zoneFault: boolean; detail: string };

/**
 * The machine's prepare plan: the build agent pulled (registry failover),
 * then the steps. Each command's output goes to the machine's log; the
 * outcome is counted under the machine's agent version, for the canary guard.
 */
export async function prepareMachine(session: SshSession, machine: Machine, pool: PoolConfig, deps: PrepareMachineDeps, log: Logger): Promise<PrepareResult> {
  const record = (entry: StepRecord) => deps.machineLog.append(machine.id, { at: deps.now(), ...entry });
  const { version, from } = await agentVersionOf(machine, pool, deps);
  const result = await run(session, pool, version, from, deps, record, log).catch((err: unknown) => {
    if (!(err instanceof InvalidPullValue)) throw err;
    // Nothing ran: a value that could carry shell code (a tampered tag, a bad Redis entry) never reaches the machine.
    log.error({ outcome: 'invalid-agent-version', versionFrom: from }, `refusing to pull the agent: ${err.message}`);
    return { ok: false, outcome: 'invalid-agent-version', zoneFault: false, detail: err.message } as const;
  });
  if (version && (result.ok || result.outcome !== 'invalid-agent-version')) await judgeCanary(pool, version, result.ok, deps, log);
  return result;
}

async function run(session: SshSession, pool: PoolConfig, version: string | undefined, versionFrom: string, deps: PrepareMachineDeps, record: (entry: StepRecord) => Promise<void>, log: Logger): Promise<PrepareResult> {
  const { agent } = pool.prepare;
  const outputBytes = deps.config.agent.outputBytes;
  if (agent && version) {
    const registries = agent.registries.map((name) => deps.config.registries.find((r) => r.name === name)!);
    const pulled = await pullAgent(session, agent, registries, version, { guards: deps.guards, pulls: deps.pulls, record, outputBytes, versionFrom }, log);
    if (!pulled.ok) return { ok: false, outcome: 'agent-pull-failed', zoneFault: pulled.allTimedOut && agent.timeoutsAreZoneFaults, detail: pulled.detail };
  }
  const steps = pool.prepare.steps.map((s) => ({ name: s.name, run: s.run, timeoutMs: s.timeout, zoneFault: s.zoneFault }));
  const outcome = await runPrepare(session, steps, log, { outputBytes, record });
  if (outcome.ok) return { ok: true };
  // Scrubbed before it is cut: a tail that starts inside a key block would no longer look like one.
  const detail = `step ${outcome.step} ${outcome.reason} (exit ${outcome.exitCode ?? 'none'}): ${scrubSecrets(outcome.output).slice(-500)}`;
  return { ok: false, outcome: outcome.reason === 'timeout' ? 'prepare-timeout' : 'prepare-failed', zoneFault: outcome.zoneFault, detail };
}

/** The version chosen at creation; a machine made before its pool had an agent (or rebuilt without the tag) gets one now. */
async function agentVersionOf(machine: Machine, pool: PoolConfig, deps: PrepareMachineDeps): Promise<{ version: string | undefined; from: string }> {
  // A rebuilt record's version is its instance's tag (recovery.ts), which anyone who may tag instances can write.
  const from = `machine ${machine.id}'s record (the rollout at its creation, or its instance tag ${TAGS.agentVersion} after a store rebuild)`;
  if (machine.agentVersion || !pool.prepare.agent) return { version: machine.agentVersion, from };
  const rollout = await deps.rollouts.current(pool);
  const version = rollout && versionFor(machine.id, rollout);
  if (version && isTag(version)) await deps.store.update(machine.id, { agentVersion: version });
  return { version, from: `pool ${pool.name}'s rollout in Redis` };
}

/** Counts the outcome under its version and halts the canary when it fails clearly more than the stable version. */
async function judgeCanary(pool: PoolConfig, version: string, ok: boolean, deps: PrepareMachineDeps, log: Logger): Promise<void> {
  const outcomes = await deps.rollouts.recordOutcome(pool.name, version, ok);
  const rollout = await deps.rollouts.current(pool);
  const canary = rollout?.canary;
  if (ok || !canary || canary.version !== version || rollout.canaryHalted?.version === version) return;
  const reason = canaryTrips(outcomes.get(version) ?? { ok: 0, failed: 0 }, outcomes.get(rollout.version) ?? { ok: 0, failed: 0 }, deps.config.agent.canaryGuard);
  if (reason && (await deps.rollouts.haltCanary(pool.name, version, reason, deps.now()))) {
    log.error({ canary: version, stable: rollout.version, reason }, `pool ${pool.name}: canary ${version} halted (${reason}); new machines get ${rollout.version}. Resume with: vmpool agent resume --pool ${pool.name}`);
  }
}
