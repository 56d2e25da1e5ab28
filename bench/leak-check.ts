import type { Redis } from 'ioredis';
import type { Config } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { LIVE_STATES } from '../src/machines/machine.js';
import { MachineStore } from '../src/machines/store.js';
import { Ec2Provider } from '../src/providers/ec2.js';
import { TAGS } from '../src/providers/provider.js';
import { waitFor } from '../src/local/wait-for.js';

const LIVE: ReadonlySet<string> = new Set(LIVE_STATES);

/**
 * Instances the cloud still runs or starts (tagged managed) that no live
 * machine accounts for: what would bill forever. Looks again for up to
 * `graceMs`, since terminations just asked for take a moment; what is left
 * then is leaked.
 */
export async function leakedInstances(config: Readonly<Config>, redis: Redis, graceMs: number): Promise<string[]> {
  const provider = new Ec2Provider(config.providers[0]!, createLogger({ level: 'silent', pretty: false }));
  const store = new MachineStore(redis, config.redis.prefix);
  const look = async () => {
    const managed = await provider.listByTags({ [TAGS.managed]: 'true' });
    const records = await store.getMany(managed.map((i) => i.tags[TAGS.machineId] ?? ''));
    return managed.flatMap((i) => {
      const machine = records.get(i.tags[TAGS.machineId] ?? '');
      const accounted = machine && LIVE.has(machine.state) && machine.instanceId === i.instanceId;
      return accounted ? [] : [`${i.instanceId} ${i.state} (machine ${machine ? machine.state : 'unknown'})`];
    });
  };
  try {
    let left: string[] = [];
    await waitFor(async () => (left = await look()).length === 0, { timeoutMs: graceMs, everyMs: 250 }).catch(() => undefined);
    return left;
  } finally {
    provider.close();
  }
}
