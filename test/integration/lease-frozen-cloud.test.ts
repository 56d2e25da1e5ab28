import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { MachineStore } from '../../src/machines/store.js';
import { TAGS } from '../../src/providers/provider.js';
import { runWorker } from '../helpers/child.js';
import { processConfig, processHarness, startSimProcess } from '../helpers/processes.js';
import { onePool } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { MULTI_PROCESS_TEST_MS } from '../helpers/hang-ceilings.js';

const { redis, children } = processHarness();

describe('leasing while the cloud API does not answer', () => {
  it('hands out a ready machine at once while the cloud is frozen, and the lease tag lands once it answers again', async () => {
    const apiPort = await freePort();
    // A cloud call would wait up to its 30 s timeout here, far past the test's wait for the answer.
    const pc = await processConfig({ http: { port: apiPort }, reaper: { every: '2s' }, cloudApi: { timeout: '30s' }, ...onePool({ warm: 2, max: 4 }) });
    const store = new MachineStore(redis, pc.prefix);
    const sim = await startSimProcess(pc.env, children);
    for (const script of ['producer.js', 'booter.js', 'api.js']) {
      const child = runWorker(script, [], pc.env);
      children.push(child);
      await child.waitForLine(/vmpool started/);
    }
    await waitFor(async () => (await store.list('small', 'ready')).length === 2, { what: 'the pool to fill', timeoutMs: 60_000 });

    process.kill(sim.pid, 'SIGSTOP');
    let lease: { id: string; instanceId: string };
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait":"0s"}', signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      lease = (await res.json()) as { id: string; instanceId: string };
      expect(await store.get(lease.id)).toMatchObject({ state: 'leased', instanceId: lease.instanceId });
    } finally {
      process.kill(sim.pid, 'SIGCONT');
    }
    // The tagging call sent after the answer, or the reaper's repair if it gave up: either way the cloud learns of the lease.
    const ec2 = new EC2Client({ endpoint: pc.simUrl, region: pc.config.sim.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    try {
      const tagged = async () => {
        const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [lease.instanceId] }));
        return out.Reservations?.[0]?.Instances?.[0]?.Tags?.some((t) => t.Key === TAGS.state && t.Value === 'leased');
      };
      await waitFor(tagged, { what: 'the lease tag on the instance', timeoutMs: 45_000 });
    } finally {
      ec2.destroy();
    }
  }, MULTI_PROCESS_TEST_MS);
});
