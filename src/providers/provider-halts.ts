import type { Redis } from 'ioredis';

/** Why a provider's launches are halted, as every process reads it. */
export interface ProviderHalt {
  /** The refusal, in the cloud's words (`UnauthorizedOperation: ...`). */
  reason: string;
  /** The guarded action refused (launch, describe, terminate, tag): its next success clears the halt. */
  action: string;
  since: number;
  /** From then on one trial launch may go (a launch halt only); a refusal pushes it on again. */
  retryAt: number;
}

/**
 * KEYS[1] the provider's halt hash
 * ARGV[1] reason, ARGV[2] action, ARGV[3] now, ARGV[4] retryAt
 * Returns 1 when this call halted the provider, 0 when it was halted already
 * (only its retryAt moves: the first refusal's reason and action stand).
 */
const HALT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'action', ARGV[2], 'since', ARGV[3], 'retryAt', ARGV[4])
  return 1
end
redis.call('HSET', KEYS[1], 'retryAt', ARGV[4])
return 0
`;

/**
 * KEYS[1] the provider's halt hash
 * ARGV[1] the action that just succeeded
 * Returns 1 when the halt was that action's and is cleared, else 0.
 */
const CLEAR_FOR = `
if redis.call('HGET', KEYS[1], 'action') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

interface HaltScripts {
  vmpoolProviderHalt(key: string, reason: string, action: string, now: number, retryAt: number): Promise<number>;
  vmpoolProviderClearFor(key: string, action: string): Promise<number>;
}

/**
 * Providers whose launches stop for every process: an authorization or
 * authentication refusal (a missing IAM permission, revoked credentials)
 * on any call. No retry and no other zone can fix it, and a provider that
 * may launch but not terminate leaves instances billing. Cleared when the
 * refused action succeeds again (after `producer.fatalPause` one trial
 * launch goes, for a launch refusal), or by the operator
 * (`vmpool provider resume`).
 */
export class ProviderHalts {
  private readonly redis: Redis & HaltScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('vmpoolProviderHalt', { numberOfKeys: 1, lua: HALT });
    redis.defineCommand('vmpoolProviderClearFor', { numberOfKeys: 1, lua: CLEAR_FOR });
    this.redis = redis as Redis & HaltScripts;
  }

  private key(provider: string): string {
    return `${this.prefix}:provider-halt:${provider}`;
  }

  /** Halts the provider; true when this call did it (so it is logged once). */
  async halt(provider: string, refusal: { reason: string; action: string }, now: number, pauseMs: number): Promise<boolean> {
    return (await this.redis.vmpoolProviderHalt(this.key(provider), refusal.reason, refusal.action, now, now + pauseMs)) === 1;
  }

  /** Clears the halt if `action` is the one refused; true when it did. */
  async clearFor(provider: string, action: string): Promise<boolean> {
    return (await this.redis.vmpoolProviderClearFor(this.key(provider), action)) === 1;
  }

  /** The operator's resume; true when the provider was halted. */
  async resume(provider: string): Promise<boolean> {
    return (await this.redis.del(this.key(provider))) === 1;
  }

  /** The halted ones among `providers`, in one round trip. */
  async read(providers: readonly string[]): Promise<Map<string, ProviderHalt>> {
    const halts = new Map<string, ProviderHalt>();
    if (providers.length === 0) return halts;
    const pipeline = this.redis.pipeline();
    for (const provider of providers) pipeline.hgetall(this.key(provider));
    const answers = (await pipeline.exec()) ?? [];
    providers.forEach((provider, i) => {
      const [err, fields] = answers[i] ?? [];
      if (err) throw err;
      const halt = parse(fields as Record<string, string> | undefined);
      if (halt) halts.set(provider, halt);
    });
    return halts;
  }

  /** True at most once per `pauseMs` per provider across every producer: the pace of trial launches. */
  async claimTrial(provider: string, pauseMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:provider-trial:${provider}`, '1', 'PX', pauseMs, 'NX')) === 'OK';
  }
}

function parse(fields: Record<string, string> | undefined): ProviderHalt | undefined {
  if (!fields?.action) return undefined;
  return { reason: fields.reason ?? '', action: fields.action, since: Number(fields.since), retryAt: Number(fields.retryAt) };
}
