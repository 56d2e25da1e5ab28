import type { Logger } from '../log.js';
import type { MachineStore } from '../machines/store.js';

/**
 * Records that lease answers have left the api: those written in the same
 * turn of the event loop (a burst of fifty) share one Redis round trip
 * instead of one write each. Until recorded, the reaper would take a lease for
 * unanswered only after a minute, so a turn's delay costs nothing.
 */
export class LeaseConfirmations {
  private pending: string[] = [];

  constructor(
    private readonly store: Pick<MachineStore, 'confirmLeasesAnswered'>,
    private readonly logger: Logger,
  ) {}

  confirm(machineId: string): void {
    if (this.pending.push(machineId) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const ids = this.pending;
    this.pending = [];
    this.store.confirmLeasesAnswered(ids).catch((err: unknown) => this.logger.warn({ err, machineIds: ids }, 'could not record the lease answers'));
  }
}
