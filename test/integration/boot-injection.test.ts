import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { TAGS } from '../../src/providers/provider.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { rawDefaults } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';
import { loseEverything } from '../helpers/lose-redis.js';

// Issue 11 item 1: a version read back from an instance tag after a Redis loss,
// with a pull template that quotes its placeholders, never runs on the VM.
let system: TestSystem | undefined;
let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  await system?.close();
  system = undefined;
});

/** The default pool's prepare plan with its pull template replaced. */
function withPullCommand(pullCommand: string): Record<string, unknown> {
  const [pool] = rawDefaults().pools as { prepare: { agent: Record<string, unknown>; steps: unknown[] } }[];
  return { ...pool!.prepare, agent: { ...pool!.prepare.agent, pullCommand } };
}

describe('agent version read back from an instance tag', () => {
  it('fails the machine invalid-agent-version, runs nothing on the VM and leaves its zone alone, even with a quoted pull template', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1, prepare: withPullCommand('registry-pull "{url}" "{image}:{version}" agent-manifest.json') }));
    const { sim, app, config } = system;
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'the machine to be ready' });
    const [machine] = await app.store.list('small', 'ready');
    const scratch = join(sim.rootDir, machine!.instanceId!);
    // The quoted template works with honest values: the manifest was pulled into the VM's scratch directory.
    expect(existsSync(join(scratch, 'agent-manifest.json'))).toBe(true);

    // Someone who may tag instances writes a version that is shell code; both files would land in the sim's folders.
    const payload = '1.5.0$(touch pwned; touch ../pwned-by-tag)';
    const ec2 = new EC2Client({ endpoint: sim.endpoint, region: config.sim.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    try {
      await ec2.send(new CreateTagsCommand({ Resources: [machine!.instanceId!], Tags: [{ Key: TAGS.agentVersion, Value: payload }] }));
    } finally {
      ec2.destroy();
    }
    expect(sim.instances().find((i) => i.instanceId === machine!.instanceId)?.tags[TAGS.agentVersion]).toBe(payload);

    await loseEverything(redis, config.redis.prefix);
    await waitFor(async () => (await app.store.get(machine!.id))?.failure !== undefined, { what: 'the rebuilt machine to fail its prepare', timeoutMs: 30_000 });

    expect(readdirSync(sim.rootDir).filter((name) => name.startsWith('pwned'))).toEqual([]);
    if (existsSync(scratch)) expect(readdirSync(scratch)).not.toContain('pwned');
    const failed = await app.store.get(machine!.id);
    expect(failed?.failure).toBe('invalid-agent-version');
    expect(failed?.failureDetail).toContain(TAGS.agentVersion); // names where the value came from
    const health = (await app.breaker.read([machine!.zone], Date.now())).get(machine!.zone);
    expect(health).toMatchObject({ state: 'closed', failures: 0 });
  });
});

describe('what a VM printed, through the API', () => {
  it('GET /v1/machines/:id shows step output and failure detail with every kind of secret scrubbed', async () => {
    const secrets = {
      bearer: 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.sig-4f2a',
      keyBody: 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      password: 'hunter2-db-pass',
      token: 'tok-json-0c41',
      secret: 'colon-secret-9e1',
      urlPass: 'url-pass-77a',
    };
    const printed = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      secrets.keyBody,
      '-----END OPENSSH PRIVATE KEY-----',
      `> Authorization: Bearer ${secrets.bearer}`,
      `AWS_ACCESS_KEY_ID=${secrets.accessKeyId}`,
      `AWS_SECRET_ACCESS_KEY=${secrets.secretKey}`,
      `password=${secrets.password}`,
      `{"token": "${secrets.token}"}`,
      `client_secret: ${secrets.secret}`,
      `git clone https://deploy:${secrets.urlPass}@git.example.com/org/repo.git`,
    ];
    // printf's arguments in single quotes: nothing in them is special to the shell.
    const run = `printf '%s\\n' ${printed.map((line) => `'${line}'`).join(' ')}; exit 3`;
    system = await startSystem(onePool({ warm: 1, max: 1, prepare: { steps: [{ name: 'leaky', run, timeout: '10s', zoneFault: 'never' }] } }));
    const { app } = system;
    let id: string | undefined;
    await waitFor(
      async () => {
        const failed = [...(await app.store.list('small', 'failed')), ...(await app.store.list('small', 'terminating')), ...(await app.store.list('small', 'terminated'))];
        id = failed.find((m) => m.failure === 'prepare-failed')?.id;
        return id !== undefined;
      },
      { what: 'a machine to fail its leaky step' },
    );
    const answer = await app.http!.inject({ method: 'GET', url: `/v1/machines/${id}` });
    expect(answer.statusCode).toBe(200);
    const body = answer.json<{ failureDetail: string; log: { name: string; output: string }[] }>();
    expect(body.log.find((e) => e.name === 'leaky')?.output).toContain('[redacted]');
    expect(body.failureDetail).toContain('[redacted]');
    for (const [kind, value] of Object.entries(secrets)) expect(answer.body, kind).not.toContain(value);
    expect(answer.body).toContain('git.example.com'); // the host of a URL stays
  });
});
