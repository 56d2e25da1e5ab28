import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { countCollected } from '../helpers/gc.js';
import { CloudApiUnavailableError, GuardedProvider, isEndpointFailure } from '../../src/providers/guarded-provider.js';
import type { Instance, LaunchRequest, Provider } from '../../src/providers/provider.js';

const options = { timeout: 1_000, errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeout: 10_000 };
const request: LaunchRequest = { machineId: 'm-1', pool: 'linux', zone: 'us-east-1a', imageId: 'ami-1', instanceType: 'c7i.large', tags: {} };
const instance: Instance = { instanceId: 'i-0123456789abcdef0', state: 'pending', zone: 'us-east-1a', instanceType: 'c7i.large', imageId: 'ami-1', launchedAt: 0, tags: {} };

/** Built the way the SDK builds a service error: name from the error code, fault and status from the response. */
const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} (simulated)`), { name, $fault: status < 500 ? 'client' : 'server', $metadata: { httpStatusCode: status } });
/** What reaches the caller when no HTTP answer came: Node's code, and the SDK's retry metadata without a status. */
const networkError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code, $metadata: { attempts: 5, totalRetryDelay: 900 } }); // message text only: never dial it

function fakeProvider() {
  return {
    name: 'aws-east',
    zones: () => ['us-east-1a', 'us-east-1b'],
    launch: vi.fn<Provider['launch']>(() => Promise.resolve(instance)),
    describe: vi.fn<Provider['describe']>(() => Promise.resolve(new Map())),
    terminate: vi.fn<Provider['terminate']>(() => Promise.resolve({ confirmed: new Set<string>(), notFound: new Set<string>() })),
    listByTags: vi.fn<Provider['listByTags']>(() => Promise.resolve([])),
    tag: vi.fn<Provider['tag']>(() => Promise.resolve()),
    close: vi.fn(),
  } satisfies Provider;
}

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  provider?: string;
  lastError?: string;
}

let guards: GuardedProvider[] = [];
function guarded(inner: Provider, lines: LogLine[] = []) {
  const destination = { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) };
  const guard = new GuardedProvider(inner, options, createLogger({ level: 'info', pretty: false, destination }));
  guards.push(guard);
  return guard;
}

/** Opens the launch action's breaker: volumeThreshold (3) endpoint failures of RunInstances. */
async function open(guard: GuardedProvider, inner: ReturnType<typeof fakeProvider>) {
  inner.launch.mockRejectedValueOnce(sdkError('InternalError', 500)).mockRejectedValueOnce(sdkError('Unavailable', 503)).mockRejectedValueOnce(networkError('ECONNREFUSED'));
  await expect(guard.launch(request)).rejects.toMatchObject({ name: 'InternalError' });
  await expect(guard.launch(request)).rejects.toMatchObject({ name: 'Unavailable' });
  await expect(guard.launch(request)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const guard of guards) guard.close();
  guards = [];
  vi.useRealTimers();
});

describe('isEndpointFailure', () => {
  it.each([
    ['a 500 InternalError', true, sdkError('InternalError', 500)],
    ['a 503 without a known name', true, sdkError('ServiceUnavailable', 503)],
    ['a server fault without a status', true, Object.assign(new Error('x'), { $fault: 'server' })],
    ['a refused connection after SDK retries', true, networkError('ECONNREFUSED')],
    ['a raw socket reset', true, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['the SDK socket timeout', true, Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['a capacity error, sent by EC2 as a 500', false, sdkError('InsufficientInstanceCapacity', 500)],
    ['RequestLimitExceeded, sent by EC2 as a 503', false, sdkError('RequestLimitExceeded', 503)],
    ['Throttling', false, sdkError('Throttling', 400)],
    ['an unknown instance id', false, sdkError('InvalidInstanceID.NotFound', 400)],
    ['an auth failure', false, sdkError('AuthFailure', 401)],
    ['a 429 of any name', false, sdkError('SlowDown', 429)],
    ['a provider error raised before any call', false, new Error('provider aws-east has no zone "x"')],
  ])('%s: endpoint failure %s', (_what, expected, err) => {
    expect(isEndpointFailure(err)).toBe(expected);
  });
});

describe('GuardedProvider', () => {
  it('opens after volumeThreshold endpoint failures, then fails fast without calling the provider', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    await open(guard, inner);
    expect(guard.isAvailable()).toBe(false);
    expect(guard.state()).toBe('open');

    const refused = await guard.launch(request).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(CloudApiUnavailableError);
    expect(refused).toMatchObject({ name: 'CloudApiUnavailable', provider: 'aws-east', action: 'launch', reason: 'open', message: expect.stringContaining('aws-east') as unknown });
    expect(inner.launch).toHaveBeenCalledTimes(3);
  });

  it('keeps each action apart: with RunInstances failing fast, terminations, listings, describes and tags still go out', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    await open(guard, inner);
    expect(guard.states()).toEqual({ launch: 'open', describe: 'closed', terminate: 'closed', tag: 'closed' });
    inner.terminate.mockResolvedValueOnce({ confirmed: new Set(['i-1']), notFound: new Set() });
    await expect(guard.terminate(['i-1'])).resolves.toEqual({ confirmed: new Set(['i-1']), notFound: new Set() });
    await expect(guard.listByTags({ pool: 'linux' })).resolves.toEqual([]);
    await expect(guard.describe(['i-1'])).resolves.toEqual(new Map());
    await expect(guard.tag(['i-1'], { a: 'b' })).resolves.toBeUndefined();
    expect([inner.terminate, inner.listByTags, inner.describe, inner.tag].map((f) => f.mock.calls.length)).toEqual([1, 1, 1, 1]);
  });

  it('opens DescribeInstances alone for describe and listByTags together, leaving launches available', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    inner.describe.mockRejectedValue(sdkError('ServiceUnavailable', 503));
    inner.listByTags.mockRejectedValue(sdkError('ServiceUnavailable', 503));
    await expect(guard.describe(['i-1'])).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    await expect(guard.listByTags({})).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    await expect(guard.describe(['i-1'])).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(guard.states().describe).toBe('open');
    await expect(guard.listByTags({})).rejects.toMatchObject({ name: 'CloudApiUnavailable', action: 'describe' });
    expect(guard.isAvailable()).toBe(true);
    await expect(guard.launch(request)).resolves.toBe(instance);
  });

  it('stays closed at exactly errorThresholdPercentage: opossum opens only above it', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    await guard.launch(request);
    await guard.launch(request);
    inner.launch.mockRejectedValue(sdkError('InternalError', 500));
    await expect(guard.launch(request)).rejects.toThrow('InternalError');
    await expect(guard.launch(request)).rejects.toThrow('InternalError');
    expect(guard.isAvailable()).toBe(true);
  });

  it('never opens on capacity errors, throttling or unknown ids, and hands them to the caller unchanged', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    const answers = [sdkError('InsufficientInstanceCapacity', 500), sdkError('RequestLimitExceeded', 503), sdkError('InvalidInstanceID.NotFound', 400), sdkError('InvalidParameterValue', 400)];
    for (let round = 0; round < 3; round++) {
      for (const err of answers) {
        inner.terminate.mockRejectedValueOnce(err);
        await expect(guard.terminate(['i-1'])).rejects.toBe(err);
      }
    }
    expect(guard.isAvailable()).toBe(true);
    expect(inner.terminate).toHaveBeenCalledTimes(12);
  });

  it('after resetTimeout lets one trial call through, and its success closes the breaker', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    await open(guard, inner);
    await vi.advanceTimersByTimeAsync(options.resetTimeout);
    expect(guard.state()).toBe('half-open');
    expect(guard.isAvailable()).toBe(true);

    let answer!: (value: Instance) => void;
    inner.launch.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    const trial = guard.launch(request);
    expect(guard.isAvailable()).toBe(false);
    await expect(guard.launch(request)).rejects.toMatchObject({ name: 'CloudApiUnavailable', reason: 'open' });
    expect(inner.launch).toHaveBeenCalledTimes(4);

    answer(instance);
    await expect(trial).resolves.toBe(instance);
    expect(guard.state()).toBe('closed');
    expect(guard.isAvailable()).toBe(true);
    await expect(guard.launch(request)).resolves.toBe(instance);
  });

  it('opens again when the trial call fails', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    await open(guard, inner);
    await vi.advanceTimersByTimeAsync(options.resetTimeout);
    inner.launch.mockRejectedValueOnce(networkError('ECONNRESET'));
    await expect(guard.launch(request)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(guard.state()).toBe('open');
    expect(guard.isAvailable()).toBe(false);
  });

  it('rejects a call slower than timeout and counts it as a failure', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    inner.describe.mockImplementation(() => new Promise(() => undefined));
    const calls = Promise.allSettled([guard.describe(['i-1']), guard.describe(['i-2']), guard.describe(['i-3'])]);
    await vi.advanceTimersByTimeAsync(options.timeout);
    for (const result of await calls) {
      expect(result).toMatchObject({ status: 'rejected', reason: { name: 'CloudApiUnavailable', reason: 'timeout' } });
    }
    expect(guard.states().describe).toBe('open');
  });

  it('ends a call its caller abandons with CallAborted, never counted against the endpoint', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    // A hung endpoint: the call ends only when its signal aborts, as the SDK's does.
    inner.launch.mockImplementation((_request, options) => new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError', $metadata: {} })))));
    for (let i = 0; i < options.volumeThreshold + 1; i++) {
      const shutdown = new AbortController();
      const call = guard.launch(request, { signal: shutdown.signal });
      shutdown.abort();
      await expect(call).rejects.toMatchObject({ name: 'CallAborted' });
    }
    expect(guard.state()).toBe('closed');
  });

  it('abandons the request of a call its timeout rejected, instead of leaving it to a hung endpoint', async () => {
    vi.useRealTimers();
    const inner = fakeProvider();
    const guard = new GuardedProvider(inner, { ...options, timeout: 50 }, createLogger({ level: 'silent', pretty: false }));
    guards.push(guard);
    let abandoned: Promise<void> | undefined;
    inner.describe.mockImplementation((_ids, o) => {
      abandoned = new Promise((resolve) => o?.signal?.addEventListener('abort', () => resolve()));
      return new Promise(() => undefined);
    });
    await expect(guard.describe(['i-1'])).rejects.toMatchObject({ name: 'CloudApiUnavailable', reason: 'timeout' });
    await abandoned;
    expect(inner.describe.mock.calls[0]?.[1]?.signal?.aborted).toBe(true);
  });

  it('leaves no listener on the caller’s long-lived signal once its calls are over, answered, failed or refused', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    const shutdown = new AbortController();
    // As the SDK does: a listener on the signal each request is given.
    inner.launch.mockImplementation((_request, o) => (o?.signal?.addEventListener('abort', () => undefined), Promise.resolve(instance)));
    for (let i = 0; i < 20; i++) await guard.launch(request, { signal: shutdown.signal });
    inner.launch.mockRejectedValueOnce(sdkError('InternalError', 500));
    await expect(guard.launch(request, { signal: shutdown.signal })).rejects.toMatchObject({ name: 'InternalError' });
    const other = fakeProvider();
    const opened = guarded(other);
    await open(opened, other);
    await expect(opened.launch(request, { signal: shutdown.signal })).rejects.toMatchObject({ name: 'CloudApiUnavailable', reason: 'open' });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('lets each call’s own signal be collected once the call is over, while the caller’s signal lives on', async () => {
    vi.useRealTimers();
    const seen: WeakRef<AbortSignal>[] = [];
    // Not a vi.fn: its record of calls would hold every signal it was given.
    const inner: Provider = {
      ...fakeProvider(),
      launch: (_request, o) => {
        o?.signal?.addEventListener('abort', () => undefined); // as the SDK does
        if (o?.signal) seen.push(new WeakRef(o.signal));
        return Promise.resolve(instance);
      },
    };
    const guard = guarded(inner);
    const shutdown = new AbortController();
    for (let i = 0; i < 50; i++) await guard.launch(request, { signal: shutdown.signal });
    expect(seen).toHaveLength(50);
    // AbortSignal.any([caller, timeout]) kept every one of them alive as long as the caller's signal.
    expect(await countCollected(seen)).toBeGreaterThanOrEqual(45);
  });

  it('logs each state change once: warn with the provider on open, info on half-open and close', async () => {
    const inner = fakeProvider();
    const lines: LogLine[] = [];
    const guard = guarded(inner, lines);
    await open(guard, inner);
    await expect(guard.launch(request)).rejects.toThrow(CloudApiUnavailableError);
    await vi.advanceTimersByTimeAsync(options.resetTimeout);
    await guard.launch(request);

    const guardLines = lines.filter((l) => l.component === 'cloud-api-guard');
    expect(guardLines.map((l) => l.level)).toEqual([40, 30, 30]);
    expect(guardLines[0]).toMatchObject({ provider: 'aws-east', lastError: expect.stringContaining('ECONNREFUSED') as unknown });
  });

  it('delegates name and zones, and close shuts the breaker and the provider down', async () => {
    const inner = fakeProvider();
    const guard = guarded(inner);
    expect(guard.name).toBe('aws-east');
    expect(guard.zones()).toEqual(['us-east-1a', 'us-east-1b']);
    guard.close();
    expect(inner.close).toHaveBeenCalledOnce();
    expect(guard.isAvailable()).toBe(false);
    await expect(guard.launch(request)).rejects.toMatchObject({ name: 'CloudApiUnavailable', reason: 'shutdown' });
    expect(inner.launch).not.toHaveBeenCalled();
  });
});
