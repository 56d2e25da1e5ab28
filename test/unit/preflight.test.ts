import { describe, expect, it } from 'vitest';
import { preflightPools } from '../../src/pool/preflight.js';
import type { PreflightPool } from '../../src/providers/preflight-check.js';
import type { Provider } from '../../src/providers/provider.js';

const unused = () => Promise.reject(new Error('not called by a preflight'));

/** A provider whose preflight answers `answer` for each pool it is asked about (recorded in `asked`). */
function provider(name: string, answer?: (pool: PreflightPool) => ReturnType<NonNullable<Provider['preflight']>>): Provider & { asked: PreflightPool[] } {
  const asked: PreflightPool[] = [];
  return {
    name,
    asked,
    zones: () => ['zone-a', 'zone-b'],
    launch: unused,
    describe: unused,
    terminate: unused,
    listByTags: unused,
    tag: unused,
    ...(answer
      ? {
          preflight: (pool: PreflightPool) => {
            asked.push(pool);
            return answer(pool);
          },
        }
      : {}),
  };
}

const pool = (name: string, providerName: string) => ({ name, provider: providerName, zones: [`${providerName}/zone-a`, `${providerName}/zone-b`], imageId: 'ami-1', instanceTypes: ['t3.small'], keyName: null });

describe('preflightPools', () => {
  it("asks each pool's provider with the pool's zones (without the provider prefix) and ownership tags, and names zones by zone id", async () => {
    const aws = provider('aws', (p) => Promise.resolve([{ check: `image ${p.imageId}`, ok: true }, { zone: 'zone-b', check: 't3.small offered', ok: false, detail: 'no' }]));
    const rows = await preflightPools({ deployment: 'prod', pools: [pool('linux', 'aws')] as never }, new Map([['aws', aws]]));
    expect(aws.asked).toEqual([{ name: 'linux', zones: ['zone-a', 'zone-b'], imageId: 'ami-1', instanceTypes: ['t3.small'], tags: { 'vmpool:managed': 'true', 'vmpool:deployment': 'prod', 'vmpool:pool': 'linux' } }]);
    expect(rows).toEqual([
      { pool: 'linux', zone: null, check: 'image ami-1', ok: true },
      { pool: 'linux', zone: 'aws/zone-b', check: 't3.small offered', ok: false, detail: 'no' },
    ]);
  });

  it('reports a provider that cannot be asked as a failed row, and one without checks as a passed row saying so, never throwing', async () => {
    const failing = provider('down', () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' })));
    const bare = provider('bare');
    const rows = await preflightPools({ deployment: 'prod', pools: [pool('a', 'down'), pool('b', 'bare')] as never }, new Map<string, Provider>([['down', failing], ['bare', bare]]));
    expect(rows).toEqual([
      { pool: 'a', zone: null, check: 'preflight', ok: false, detail: 'Error: connect ECONNREFUSED' },
      { pool: 'b', zone: null, check: 'preflight', ok: true, detail: 'provider bare has no preflight checks' },
    ]);
  });
});
