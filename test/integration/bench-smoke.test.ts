import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config.js';

// The benchmarks run in seconds instead of minutes: behaviour only (what they write), never their figures.
let out: string | undefined;
afterEach(() => {
  if (out) rmSync(out, { recursive: true, force: true });
  out = undefined;
});

/** Runs a compiled benchmark to its end (it starts and stops its own Redis and processes); SIGTERM at the timeout, which it obeys by stopping them. */
function runBench(name: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const { NODE_ENV: _testEnv, ...env } = process.env;
    execFile(process.execPath, [join(packageRoot(), 'dist', 'bench', `${name}.js`), ...args], { env, timeout: 100_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: stdout + stderr });
    });
  });
}

const results = (dir: string, prefix: string) => readdirSync(dir).filter((f) => f.startsWith(prefix));

describe('benchmarks, as smoke runs', () => {
  it('bench:outage writes per-strategy figures, the ratios and targets, and a chart, with no instance leaked', async () => {
    out = mkdtempSync(join(tmpdir(), 'vmpool-bench-smoke-'));
    const run = await runBench('outage', ['--strategies', 'redis-breaker', '--faults', 'boot-fail', '--warmup', '2s', '--fault-for', '4s', '--after', '3s', '--out', out]);
    expect(run.code, run.output).toBe(0);
    const [json] = results(out, 'outage-').filter((f) => f.endsWith('.json'));
    const report = JSON.parse(readFileSync(join(out, json!), 'utf8')) as Record<string, unknown> & { figures: Record<string, unknown>[]; comparisons: { targets: unknown[] }[] };
    expect(report).toMatchObject({ benchmark: 'outage', machine: { cores: expect.any(Number) as number, memoryGb: expect.any(Number) as number } });
    const [figures] = report.figures;
    expect(figures).toMatchObject({ strategy: 'redis-breaker', fault: 'boot-fail', leakedInstances: 0, problems: [], launchesIntoFailingZone: expect.any(Number) as number, wastedLaunches: expect.any(Number) as number, wastedMachineSeconds: expect.any(Number) as number });
    for (const phase of ['before', 'during', 'after']) expect(Object.keys((figures!.leaseWaitMs as Record<string, object>)[phase]!)).toEqual(expect.arrayContaining(['p50', 'p95', 'p99', 'n', 'timeouts']));
    expect(figures).toHaveProperty('zoneAvoidedAfterMs');
    expect(figures).toHaveProperty('zoneBackAfterHealMs');
    expect(report.comparisons[0]!.targets.length).toBeGreaterThan(0);
    const [svg] = results(out, 'outage-').filter((f) => f.endsWith('-boot-fail-redis-breaker.svg'));
    expect(readFileSync(join(out, svg!), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<polyline[\s\S]*<\/svg>$/);
    expect(run.output).toContain('leaked instances');
  }, 120_000);

  it('bench:throughput writes lifecycles per second, Redis commands, CPU and memory per role, and lease latency', async () => {
    out = mkdtempSync(join(tmpdir(), 'vmpool-bench-smoke-'));
    const run = await runBench('throughput', ['--sets', '1', '--warm', '12', '--clients', '4', '--measure', '2s', '--out', out]);
    expect(run.code, run.output).toBe(0);
    const [json] = results(out, 'throughput-');
    const report = JSON.parse(readFileSync(join(out, json!), 'utf8')) as { results: Record<string, unknown>[]; summary: Record<string, unknown>[]; targets: unknown[] };
    const [result] = report.results;
    expect(result).toMatchObject({ processesPerRole: 1, problems: [] });
    expect(report.summary[0]).toMatchObject({ processesPerRole: 1, lifecyclesPerSecond: expect.any(Number) as number, redisCommandsPerLifecycle: expect.any(Number) as number });
    expect(Object.keys(report.summary[0]!.cpuMsPerLifecycle as object)).toEqual(expect.arrayContaining(['producer', 'booter', 'web', 'redis']));
    expect(Object.keys(result!.peakMemoryMb as object)).toEqual(expect.arrayContaining(['producer', 'booter', 'web', 'redis']));
    expect(Object.keys(result!.leaseLatencyMs as object)).toEqual(expect.arrayContaining(['p50', 'p99']));
    expect((result!.describe as unknown[]).length).toBe(2);
    expect(report.targets.length).toBeGreaterThan(0);
  }, 120_000);
});
