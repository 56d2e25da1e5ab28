import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import type { MachineState } from '../machines/machine.js';
import type { VersionOutcomes } from './canary-guard.js';
import { isWanted } from './rollout.js';
import { isoTime, shownText } from '../iso-time.js';

/** Machines of one agent version. */
export interface VersionCounts {
  ready: number;
  leased: number;
  /** On their way to ready (requested to preparing). */
  warming: number;
}

/** A pool's agent rollout in `GET /v1/status`; times as ISO strings. */
export interface AgentStatus {
  image: string;
  version: string;
  /** The canary's target share, and `actualShare`: the share of ready machines on it now. */
  canary?: { version: string; share: number; actualShare: number };
  canaryHalted?: { version: string; reason: string; since: string };
  source: 'config' | 'operator';
  setBy?: string;
  setAt?: string;
  /** Live machines per agent version: the rollout's progress. */
  machines: Record<string, VersionCounts>;
  /** Ready machines on a version no longer wanted, still to be replaced. */
  superseded: number;
  /** Prepare outcomes per version since the rollout was set: what the canary guard judges. */
  outcomes: Record<string, VersionOutcomes>;
}

const COUNTED: readonly [MachineState, keyof VersionCounts][] = [
  ['ready', 'ready'],
  ['leased', 'leased'],
  ['requested', 'warming'],
  ['launching', 'warming'],
  ['booting', 'warming'],
  ['preparing', 'warming'],
];

/** The agent part of a pool's status; undefined for a pool that pulls no agent. */
export async function readAgentStatus(pool: PoolConfig, deps: Pick<AppDeps, 'store' | 'rollouts'>): Promise<AgentStatus | undefined> {
  const rollout = await deps.rollouts.current(pool);
  if (!rollout) return undefined;
  const machines: Record<string, VersionCounts> = {};
  let superseded = 0;
  for (const [state, column] of COUNTED) {
    for (const machine of await deps.store.list(pool.name, state)) {
      const version = machine.agentVersion ?? 'none';
      (machines[version] ??= { ready: 0, leased: 0, warming: 0 })[column]++;
      if (state === 'ready' && machine.agentVersion !== undefined && !isWanted(machine.id, version, rollout)) superseded++;
    }
  }
  // Stored data never fails the status answer: a bad time shows "invalid", a long `by` is cut.
  const iso = isoTime;
  const { canaryHalted } = rollout;
  return {
    image: rollout.image,
    version: rollout.version,
    ...(rollout.canary ? { canary: { ...rollout.canary, actualShare: readyShare(machines, rollout.canary.version) } } : {}),
    ...(canaryHalted ? { canaryHalted: { ...canaryHalted, reason: shownText(canaryHalted.reason)!, since: iso(canaryHalted.since)! } } : {}),
    source: rollout.source,
    ...(rollout.setBy ? { setBy: shownText(rollout.setBy), setAt: iso(rollout.setAt) } : {}),
    machines,
    superseded,
    outcomes: Object.fromEntries(await deps.rollouts.outcomes(pool.name)),
  };
}

/** The share of ready machines (those with a version) on `version`; 0 when none is ready. */
function readyShare(machines: Record<string, VersionCounts>, version: string): number {
  const ready = Object.entries(machines).reduce((sum, [v, c]) => sum + (v === 'none' ? 0 : c.ready), 0);
  return ready === 0 ? 0 : (machines[version]?.ready ?? 0) / ready;
}

/** `  agent vmpool/build-agent 1.6.0 (canary 1.7.0 at 10%, now 33%): 1.6.0 2 ready, 1.5.0 1 ready 1 leased; rolling out, 1 to replace` */
export function summarizeAgent(agent: AgentStatus): string {
  const percent = (share: number) => `${Math.round(share * 100)}%`;
  const canary = agent.canary ? ` (canary ${agent.canary.version} at ${percent(agent.canary.share)}, now ${percent(agent.canary.actualShare)}${agent.canaryHalted ? ' HALTED' : ''})` : '';
  const versions = Object.entries(agent.machines)
    .sort(([a], [b]) => (a === agent.version ? -1 : b === agent.version ? 1 : a.localeCompare(b)))
    .map(([version, c]) => `${version} ${[c.ready ? `${c.ready} ready` : '', c.leased ? `${c.leased} leased` : '', c.warming ? `${c.warming} booting` : ''].filter(Boolean).join(' ') || '0'}`)
    .join(', ');
  const progress = agent.superseded > 0 ? `; rolling out, ${agent.superseded} to replace` : '';
  const halted = agent.canaryHalted ? `; CANARY HALTED: ${agent.canaryHalted.reason}` : '';
  return `  agent ${agent.image} ${agent.version}${canary}: ${versions || 'no machines'}${progress}${halted}`;
}
