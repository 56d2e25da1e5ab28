import type { Filterable } from './ec2-filters.js';

/** The states a simulated instance passes through; stop/start is not simulated. */
export type SimState = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** EC2's numeric state codes, as sent in `instanceState/code`. */
export const STATE_CODES: Record<SimState, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 };

export interface StateReason {
  code: string;
  message: string;
}

/** EC2's state reasons for the two ways a simulated instance ends. */
export const STATE_REASONS = {
  userShutdown: { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' },
  bootFailed: { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch' },
} as const satisfies Record<string, StateReason>;

/** One instance of the simulated cloud; the model mutates it in place. */
export interface SimInstance extends Filterable {
  readonly instanceId: string;
  readonly reservationId: string;
  /** Launch order: the stable sort key pagination tokens point into. */
  readonly seq: number;
  readonly imageId: string;
  readonly instanceType: string;
  readonly zone: string;
  readonly subnetId: string | undefined;
  readonly keyName: string | undefined;
  readonly clientToken: string | undefined;
  readonly launchedAt: number;
  /** Eventual consistency: before this instant the API answers as if the instance did not exist. */
  readonly visibleAt: number;
  state: SimState;
  stateChangedAt: number;
  stateReason: StateReason | undefined;
  privateIp: string;
  readonly tags: Map<string, string>;
}

export interface Reservation {
  readonly reservationId: string;
  readonly instances: readonly SimInstance[];
}

export interface StateChange {
  instanceId: string;
  previous: SimState;
  current: SimState;
}
