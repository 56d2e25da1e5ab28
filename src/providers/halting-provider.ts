import { describeError, isAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GuardedAction } from './guarded-provider.js';
import type { CallOptions, Instance, LaunchRequest, Provider, TagMatch, TerminateResult } from './provider.js';
import type { PreflightCheck, PreflightPool } from './preflight-check.js';
import type { ProviderHalt, ProviderHalts } from './provider-halts.js';

/** How stale this process's view of the provider's halt may be before a success reads it again. */
const VIEW_MS = 5_000;

/** EC2's name for each guarded action, for the operator's log and alert. */
const EC2_ACTION: Record<GuardedAction, string> = { launch: 'RunInstances', describe: 'DescribeInstances', terminate: 'TerminateInstances', tag: 'CreateTags' };

export interface HaltingOptions {
  /** `producer.fatalPause`: the wait before a trial launch. */
  pauseMs: number;
  logger: Logger;
  now: () => number;
}

/**
 * Watches every call of a provider for an authorization or authentication
 * refusal, and halts the provider's launches for every process when one
 * comes (logged as an error once, by the process that halted it). When the
 * refused action succeeds again, the halt is cleared. A success costs no
 * Redis call unless this process's view of the halt is older than a few
 * seconds: the hot path stays as it was.
 */
export class HaltingProvider implements Provider {
  readonly name: string;
  private view: { at: number; halt?: ProviderHalt } = { at: -Infinity };
  private readonly log: Logger;

  constructor(
    private readonly inner: Provider,
    private readonly halts: ProviderHalts,
    private readonly options: HaltingOptions,
  ) {
    this.name = inner.name;
    this.log = options.logger.child({ component: 'provider-halt', provider: inner.name });
  }

  zones(): readonly string[] {
    return this.inner.zones();
  }

  launch(request: LaunchRequest, options?: CallOptions): Promise<Instance> {
    return this.watch('launch', () => this.inner.launch(request, options));
  }

  describe(instanceIds: readonly string[], options?: CallOptions): Promise<Map<string, Instance>> {
    return this.watch('describe', () => this.inner.describe(instanceIds, options));
  }

  terminate(instanceIds: readonly string[], options?: CallOptions): Promise<TerminateResult> {
    return this.watch('terminate', () => this.inner.terminate(instanceIds, options));
  }

  tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options?: CallOptions): Promise<void> {
    return this.watch('tag', () => this.inner.tag(instanceIds, tags, options));
  }

  listByTags(tags: Readonly<Record<string, TagMatch>>, options?: CallOptions): Promise<Instance[]> {
    return this.watch('describe', () => this.inner.listByTags(tags, options));
  }

  /** Straight through: a preflight reports a refusal in its own rows rather than halting the provider. */
  preflight(pool: PreflightPool, options?: CallOptions): Promise<PreflightCheck[]> {
    return this.inner.preflight ? this.inner.preflight(pool, options) : Promise.resolve([]);
  }

  isAvailable(): boolean {
    return this.inner.isAvailable?.() ?? true;
  }

  close(): void {
    this.inner.close?.();
  }

  private async watch<T>(action: GuardedAction, call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      if (isAuthError(err)) await this.refused(action, err);
      throw err;
    }
    await this.answered(action);
    return result;
  }

  private async refused(action: GuardedAction, err: unknown): Promise<void> {
    const { now, pauseMs } = this.options;
    const reason = `${EC2_ACTION[action]} refused: ${describeError(err)}`;
    try {
      const first = await this.halts.halt(this.name, { reason, action }, now(), pauseMs);
      this.view = { at: -Infinity };
      if (!first) return;
      this.log.error(
        { action: EC2_ACTION[action], error: describeError(err), trialAfterMs: pauseMs },
        `provider ${this.name} halted: ${reason}; no launches until the permission or credentials are fixed (one trial launch after producer.fatalPause), or resume with: vmpool provider resume ${this.name}`,
      );
    } catch (redisErr) {
      // The refusal still reaches the caller; the next one halts the provider.
      this.log.warn({ error: describeError(redisErr) }, 'could not record the provider halt');
    }
  }

  private async answered(action: GuardedAction): Promise<void> {
    try {
      const now = this.options.now();
      if (now - this.view.at > VIEW_MS) this.view = { at: now, halt: (await this.halts.read([this.name])).get(this.name) };
      if (this.view.halt?.action !== action) return;
      this.view = { at: -Infinity };
      if (await this.halts.clearFor(this.name, action)) this.log.info({ action: EC2_ACTION[action] }, `provider ${this.name}: ${EC2_ACTION[action]} authorized again; launches resume`);
    } catch (redisErr) {
      // The call succeeded; the halt is cleared by a later success or the operator.
      this.log.warn({ error: describeError(redisErr) }, 'could not read or clear the provider halt');
    }
  }
}
