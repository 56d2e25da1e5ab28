import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { createLogger } from '../../src/log.js';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { Queue } from 'bullmq';
import type { Machine } from '../../src/machines/machine.js';
import { MachineStore } from '../../src/machines/store.js';
import { TAGS } from '../../src/providers/provider.js';
import { LeaseWaiters } from '../../src/pool/lease-waiters.js';
import { ZoneBreaker } from '../../src/zones/breaker.js';
import { runWorker, type Child } from '../helpers/child.js';
import { exitUnlessHung, HANG_AFTER_GRACE_MS, MULTI_PROCESS_TEST_MS } from '../helpers/hang-ceilings.js';
import { processConfig, startSimProcess, processHarness } from '../helpers/processes.js';
import { gatedStep, holdInPrepare } from '../helpers/prepare-gate.js';
import { onePool } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

// SIGTERM (a dyno restart) to each role: stop taking work, finish or hand
// back what is in flight, exit 0 within the grace.
const { redis, children } = processHarness();

function start(script: string, env: Record<string, string>): Child {
  const child = runWorker(script, [], env);
  children.push(child);
  return child;
}

/** SIGTERM to the process group, without waiting. */
function terminate(child: Child): void {
  process.kill(-child.pid, 'SIGTERM');
}

/** The machine's job waits in its queue again, none of its attempts spent. */
async function expectHandedBack(queueName: 'boot' | 'launch', prefix: string, machineId: string): Promise<void> {
  const queue = new Queue(queueName, { connection: redis, prefix });
  try {
    const job = await queue.getJob(machineId);
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);
  } finally {
    await queue.close();
  }
}

const lines = (child: Child, msg: string) => child.output().split('\n').filter((line) => line.includes(`"msg":"${msg}"`)).length;

/** Raw HTTP/1.1 on one connection, so a request can be sent on it at any moment (pipelined after one in flight). */
class RawHttp {
  private readonly socket: Socket;
  private text = '';
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => (this.text += chunk));
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  send(method: string, path: string, body?: string): void {
    const head = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', ...(body ? ['content-type: application/json', `content-length: ${Buffer.byteLength(body)}`] : [])];
    this.socket.write(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`);
  }

  /** Every complete response received so far, in order. */
  responses(): { status: number; headers: Record<string, string>; body: string }[] {
    const out: { status: number; headers: Record<string, string>; body: string }[] = [];
    let rest = this.text;
    for (;;) {
      const end = rest.indexOf('\r\n\r\n');
      if (end < 0) return out;
      const [statusLine, ...headerLines] = rest.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < end + 4 + length) return out;
      out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
      rest = rest.slice(end + 4 + length);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('graceful shutdown of each role on SIGTERM', () => {
  it('a booter stopped in the middle of a prepare hands it back at the end of the grace and exits 0, leaves the machine unfailed, and another booter makes it ready', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    const pc = await processConfig(
      onePool({ warm: 1, max: 1, bootTimeout: '60s', prepare: { steps: [gatedStep('30s')] } }),
    );
    const store = new MachineStore(redis, pc.prefix);
    const { machine, booter: first, runs, release } = await holdInPrepare(pc, redis, (script) => start(script, pc.env), children);

    terminate(first);
    // The prepare step would run for 30 s: an exit before that is the grace's doing, however long the exit took.
    expect(await exitUnlessHung(first, pc.config.shutdown.grace + HANG_AFTER_GRACE_MS, 'the booter')).toBe(0);
    expect(first.output()).toContain('"msg":"jobs still running at the end of the grace period; handing them back"');
    // Handed back, not failed: the boot was cut short by the shutdown, not by the machine or its zone.
    const handedBack = await store.get(machine.id);
    expect(handedBack).toMatchObject({ state: 'preparing' });
    expect(handedBack?.failure).toBeUndefined();
    // Back in its queue without spending an attempt: a rolling restart must not exhaust a boot's retries.
    await expectHandedBack('boot', pc.prefix, machine.id);

    const second = start('booter.js', pc.env);
    await waitFor(() => runs() === 2, { what: 'the second booter to run the prepare step again', timeoutMs: 60_000 });
    release();
    await waitFor(async () => (await store.get(machine.id))?.state === 'ready', { what: 'the machine to be ready', timeoutMs: 60_000 });
    // The store changes before the log line is written and read from the pipe: wait for the line, not just the state.
    await second.waitForLine(new RegExp(`"machineId":"${machine.id}".*"msg":"machine ready"`));
    const breaker = new ZoneBreaker(redis, pc.prefix, pc.config.breaker, createLogger({ level: 'silent', pretty: false }));
    expect((await breaker.read([machine.zone], Date.now())).get(machine.zone)).toMatchObject({ outcomes: 1, failures: 0 });
  });

  it('the api answers 503 to requests after SIGTERM, ends a lease still waiting at the end of the grace with a 503, drops idle keep-alive connections, and exits 0', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    const port = await freePort();
    const pc = await processConfig({ http: { port }, ...onePool({ warm: 0, max: 1 }) });
    const api = start('api.js', pc.env);
    await api.waitForLine(/vmpool started/);
    const idle = new RawHttp(port);
    const http = new RawHttp(port);
    try {
      // A keep-alive connection left idle after one request: it must not hold the process up.
      idle.send('GET', '/healthz');
      await waitFor(() => idle.responses().length === 1, { what: 'the health answer' });
      // No producer runs: the lease would wait its whole 60s, far past the grace.
      http.send('POST', '/v1/pools/small/leases', '{"wait":"60s"}');
      await waitFor(async () => (await redis.zcard(`${pc.prefix}:waiting:small`)) === 1, { what: 'the lease to be waiting' });
      terminate(api);
      await api.waitForLine(/"msg":"shutting down"/);
      http.send('GET', '/v1/status');
      await http.closed;
      await idle.closed;
      const [lease, late] = http.responses();
      // A 503 that tells a load balancer (and the client) to move on, and says why.
      expect(late).toMatchObject({ status: 503, headers: { connection: 'close' } });
      expect(JSON.parse(late!.body)).toMatchObject({ error: 'shutting-down' });
      expect(lease).toMatchObject({ status: 503 });
      expect(JSON.parse(lease!.body)).toMatchObject({ error: 'shutting-down' });
      // The lease would wait 60 s: its 503 and the exit come from the grace's end.
      expect(await exitUnlessHung(api, pc.config.shutdown.grace + HANG_AFTER_GRACE_MS, 'the api')).toBe(0);
      expect(api.output()).toContain('"msg":"requests still running at the end of the grace period; ending them"');
      // The waiting lease no longer counts as demand.
      expect(await redis.zcard(`${pc.prefix}:waiting:small`)).toBe(0);
    } finally {
      http.destroy();
      idle.destroy();
    }
  });

  it('a producer whose launch and reaper run hang on a frozen cloud: a second SIGTERM is harmless, the calls are abandoned at the end of the grace, exit 0, and another producer finishes the launch with the same instance', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    // Reaper runs back to back: one is listing the frozen cloud's instances when the shutdown comes.
    const pc = await processConfig({ reaper: { every: '200ms' }, ...onePool({ warm: 0, max: 1 }) });
    const store = new MachineStore(redis, pc.prefix);
    const sim = await startSimProcess(pc.env, children);
    const producer = start('producer.js', pc.env);
    await producer.waitForLine(/vmpool started/);
    // A frozen cloud keeps a launch in flight, so the producer is still closing when the second signal comes.
    process.kill(sim.pid, 'SIGSTOP');
    let launching: Machine;
    try {
      await new LeaseWaiters(redis, pc.prefix).start('small', 'test-demand', Date.now() + 60_000);
      launching = await waitFor(async () => (await store.list('small', 'launching'))[0], { what: 'a launch in flight', timeoutMs: 60_000 });
      terminate(producer);
      await producer.waitForLine(/"msg":"shutting down"/);
      terminate(producer);
      await producer.waitForLine(/"msg":"already shutting down"/);
      // The frozen cloud never answers: only abandoning its calls at the grace's end lets the producer exit.
      expect(await exitUnlessHung(producer, pc.config.shutdown.grace + HANG_AFTER_GRACE_MS, 'the producer')).toBe(0);
    } finally {
      process.kill(sim.pid, 'SIGCONT');
    }
    expect([lines(producer, 'shutting down'), lines(producer, 'already shutting down'), lines(producer, 'stopped')]).toEqual([1, 1, 1]);
    expect(producer.output()).toContain('"msg":"jobs still running at the end of the grace period; handing them back"');
    // Handed back, not failed: nothing is counted against the zone, the machine waits for another producer.
    expect(await store.get(launching.id)).toMatchObject({ state: 'launching' });
    expect((await store.get(launching.id))?.failure).toBeUndefined();
    await expectHandedBack('launch', pc.prefix, launching.id);

    start('producer.js', pc.env);
    const booting = await waitFor(async () => {
      const m = await store.get(launching.id);
      return m?.state === 'booting' ? m : undefined;
    }, { what: 'the handed-back launch to be finished by the second producer', timeoutMs: 60_000 });
    // The abandoned call may have reached the cloud: the repeat (same ClientToken) must not have made a second instance.
    const ec2 = new EC2Client({ endpoint: pc.simUrl, region: pc.config.sim.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    try {
      const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TAGS.machineId}`, Values: [launching.id] }] }));
      expect((out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId)).toEqual([booting.instanceId]);
    } finally {
      ec2.destroy();
    }
    const breaker = new ZoneBreaker(redis, pc.prefix, pc.config.breaker, createLogger({ level: 'silent', pretty: false }));
    expect((await breaker.read([launching.zone], Date.now())).get(launching.zone)).toMatchObject({ failures: 0 });
  });
});
