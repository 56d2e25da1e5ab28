/**
 * A machine is vmpool's record of one build VM, from the moment a pool asks
 * for it until its instance is gone. Pure: states, allowed moves, record shape.
 */
export const STATES = [
  'requested',
  'launching',
  'booting',
  'preparing',
  'ready',
  'leased',
  'failed',
  'terminating',
  'terminated',
] as const;
export type MachineState = (typeof STATES)[number];

/** States whose machine exists (or may exist) at the provider and counts against a pool's max. */
export const LIVE_STATES = ['requested', 'launching', 'booting', 'preparing', 'ready', 'leased'] as const;
/** States that will become ready without anyone asking: what a pool's warm target counts. */
export const WARMING_STATES = ['requested', 'launching', 'booting', 'preparing', 'ready'] as const;

/**
 * States of a machine whose outcome may not have reached its zone's breaker
 * yet: on its way to ready, or failed (a booter moves a machine to failed a
 * moment before it reports the failure; counting failed machines until they
 * are terminated errs on the side of fewer launches into a failing zone).
 * What a zone's in-flight limit counts.
 */
export const UNRESOLVED_STATES = ['requested', 'launching', 'booting', 'preparing', 'failed'] as const;

const TRANSITIONS: Record<MachineState, readonly MachineState[]> = {
  requested: ['launching', 'failed', 'terminating'],
  launching: ['booting', 'failed', 'terminating'],
  booting: ['preparing', 'failed', 'terminating'],
  preparing: ['ready', 'failed', 'terminating'],
  ready: ['leased', 'terminating', 'failed'],
  leased: ['terminating'],
  failed: ['terminating'],
  terminating: ['terminated'],
  terminated: [],
};

export function canTransition(from: MachineState, to: MachineState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Every state `to` may be entered from: what a compare-and-set checks. */
export function sourcesOf(to: MachineState): MachineState[] {
  return STATES.filter((from) => canTransition(from, to));
}

export function isMachineState(value: string): value is MachineState {
  return (STATES as readonly string[]).includes(value);
}

export interface Machine {
  id: string;
  pool: string;
  /** `provider/zone`, e.g. `sim/zone-a`. */
  zone: string;
  state: MachineState;
  /** Epoch ms when the current state was entered. */
  stateSince: number;
  createdAt: number;
  instanceType: string;
  imageId: string;
  instanceId?: string;
  /** Provider launch time, epoch ms: the machine's age is measured from this, never from its uptime. */
  launchedAt?: number;
  address?: string;
  port?: number;
  /** Pinned at first contact (also on the instance's `ssh.hostKeyTag`): every later connection must present it. */
  hostKeyFingerprint?: string;
  /** The pinned host key itself (`ssh-ed25519 AAAA...`), for the known_hosts line a lease's ssh command uses. */
  hostKey?: string;
  leasedAt?: number;
  /** Who asked for the lease (free text from the lease request, e.g. a CI job's URL), if they said. */
  leasedBy?: string;
  /** Why the machine failed: `boot-timeout`, `ssh-unreachable`, `prepare-failed:<step>`... */
  failure?: string;
  failureDetail?: string;
  /** Why a healthy machine was ended: `scale-in`, `max-age`... (failures go in `failure`). */
  retiredFor?: string;
  /** 1 when launched as a half-open zone's probe: its outcome decides the zone's breaker. */
  probe?: number;
  /** `pending` from the lease until the api has written its answer; absent once answered. */
  leaseAnswer?: 'pending';
  /** When the first boot attempt started. */
  bootStartedAt?: number;
  /** When the latest boot attempt started, if a booter took the boot over from another (crash, shutdown). */
  bootResumedAt?: number;
  /**
   * Milliseconds its booter saw the provider's DescribeInstances failing
   * while waiting for the instance: the boot deadline moves by as much
   * (the API's time, not the zone's).
   */
  apiPausedMs?: number;
  /** When a rebuild after a Redis loss recreated the record from its instance's tags: its boot then verifies it again and reports no zone outcome. */
  restoredAt?: number;
  /** The build agent version it gets (chosen from its id at creation), also its instance's tag. */
  agentVersion?: string;
}

/** Fields a transition may set besides the state. */
export type MachineUpdate = Partial<Omit<Machine, 'id' | 'pool' | 'zone' | 'state' | 'stateSince' | 'createdAt'>>;

/** Machine ids sort by creation time and carry no secret: `m-<time36>-<random>`. */
export function newMachineId(now: number, random: () => string): string {
  return `m-${now.toString(36)}-${random()}`;
}
