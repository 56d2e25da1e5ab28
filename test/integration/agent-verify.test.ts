import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/agent/registry-client.js';
import { verifyVersion } from '../../src/agent/verify.js';
import { createLogger } from '../../src/log.js';
import { SimRegistry, simManifest } from '../../src/sim/sim-registry.js';
import { startDistributionRegistry } from '../helpers/distribution-registry.js';
import type { Cleanups } from '../helpers/sim-vm.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const IMAGE = 'vmpool/build-agent';

async function distribution() {
  const registry = await startDistributionRegistry();
  cleanups.push(() => registry.stop());
  return registry;
}

async function simRegistry(token: boolean, images: string[]) {
  const registry = new SimRegistry({ name: 'sim', host: '127.0.0.1', port: 0, token, images, logger: createLogger({ level: 'silent', pretty: false }) });
  await registry.start();
  cleanups.push(() => registry.close());
  return registry;
}

const digestOf = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

describe('vmpool agent verify: the registry HTTP API v2', () => {
  it('finds a tag pushed to a real Distribution registry with its digest, and reports a tag it lacks', async () => {
    const real = await distribution();
    const digest = await real.push(IMAGE, '2.0.0');
    const target = [{ image: IMAGE, registries: [{ name: 'real', url: real.url }] }];

    const found = await verifyVersion(target, '2.0.0', { loopbackOnly: true });
    expect(found).toEqual({ version: '2.0.0', ok: true, problems: [], checks: [{ registry: 'real', url: real.url, image: IMAGE, present: true, digest }] });

    const missing = await verifyVersion(target, '1.9.9', { loopbackOnly: true });
    expect(missing.ok).toBe(false);
    expect(missing.checks[0]).toMatchObject({ present: false });
    expect(missing.problems).toEqual([`real: has no ${IMAGE}:1.9.9`]);
  });

  it("follows the sim registry's bearer-token challenge", async () => {
    const sim = await simRegistry(true, [`${IMAGE}:1.5.0`]);
    const bare = await fetch(`${sim.url}/v2/${IMAGE}/manifests/1.5.0`, { method: 'HEAD' });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe(`Bearer realm="${sim.url}/token",service="sim-registry-sim",scope="repository:${IMAGE}:pull"`);

    const report = await verifyVersion([{ image: IMAGE, registries: [{ name: 'sim', url: sim.url }] }], '1.5.0', { loopbackOnly: true });
    expect(report.checks).toEqual([{ registry: 'sim', url: sim.url, image: IMAGE, present: true, digest: digestOf(simManifest(`${IMAGE}:1.5.0`)) }]);
    expect(report.ok).toBe(true);
    const pulled = await fetchManifest(sim.url, IMAGE, '1.5.0', { method: 'GET' });
    expect(pulled).toMatchObject({ present: true, body: simManifest(`${IMAGE}:1.5.0`) });
  });

  it('rejects a tag whose digests differ between registries, and one a registry lacks', async () => {
    const real = await distribution();
    const digest = await real.push(IMAGE, '1.5.0');
    const sim = await simRegistry(true, [`${IMAGE}:1.5.0`]);
    const target = [{ image: IMAGE, registries: [{ name: 'real', url: real.url }, { name: 'sim', url: sim.url }] }];
    const differ = await verifyVersion(target, '1.5.0', { loopbackOnly: true });
    expect(differ.ok).toBe(false);
    expect(differ.problems).toEqual([`${IMAGE}:1.5.0 differs between registries: real ${digest}, sim ${digestOf(simManifest(`${IMAGE}:1.5.0`))}`]);

    sim.change({ push: [`${IMAGE}:1.6.0`] });
    const lacking = await verifyVersion(target, '1.6.0', { loopbackOnly: true });
    expect(lacking.problems).toEqual([`real: has no ${IMAGE}:1.6.0`]);
  });

  it('reports a registry that does not answer, and never dials outside loopback when told not to', async () => {
    const sim = await simRegistry(false, []);
    const url = sim.url;
    await sim.close();
    const down = await verifyVersion([{ image: IMAGE, registries: [{ name: 'down', url }] }], '1.5.0');
    expect(down.checks[0]).toMatchObject({ present: false, error: expect.stringContaining('RegistryError') as string });
    await expect(fetchManifest('http://192.0.2.1:5000', IMAGE, '1.5.0', { loopbackOnly: true })).rejects.toThrow('refusing to dial 192.0.2.1:5000');
  });
});
