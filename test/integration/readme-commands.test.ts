import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSsh } from '../../src/boot/ssh.js';
import { packageRoot } from '../../src/config.js';
import { freePort } from '../../src/local/free-port.js';
import { runToEnd, runWorker, type Child } from '../helpers/child.js';
import { simRegistryConfigs, simRegistryUrls, testKeyPath } from '../helpers/test-config.js';
import { simProviders } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Every `sh` block of README.md, run in order against `npm start` (start.js
 * on free ports), as a new user would type them from a second terminal. Blocks
 * are found by parsing, so the README can move; a command this test does not
 * know fails it, so a new README command needs a way to run here.
 */
interface Command {
  text: string;
  words: string[];
  /** The README's own comment on the line: what it promises. */
  comment: string;
}

/** The `sh` code blocks of a markdown text, each as its commands (`a; b` is two). */
export function shellBlocks(markdown: string): Command[][] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map(([, body]) =>
    body!.split('\n').flatMap((line) => {
      const { code, comment } = splitComment(line);
      return code
        .split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/)
        .map((part) => part.trim())
        .filter(Boolean)
        .map((text) => ({ text, words: [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!), comment }));
    }),
  );
}

function splitComment(line: string): { code: string; comment: string } {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    if (line[i] === '#' && !quoted && (i === 0 || /\s/.test(line[i - 1]!))) return { code: line.slice(0, i), comment: line.slice(i + 1).trim() };
  }
  return { code: line, comment: '' };
}

// Not run here, and why.
const SKIPPED: [RegExp, string][] = [
  [/^npm test\b|^npm run (typecheck|lint)\b|^npx vitest\b/, 'the test suite itself (CI runs it)'],
  [/^npm run bench/, 'benchmarks are never run by tests (they measure speed on a quiet machine)'],
  [/^npm run build$/, 'the suite already built dist/ before this test'],
  [/^export REDIS_URL=|^node dist\/workers\//, 'the roles by hand need a Redis and fixed ports of their own; the same roles run as separate processes in breaker-processes.test.ts and shutdown.test.ts'],
];

let start: Child | undefined;
afterAll(async () => {
  await start?.kill();
});

describe('README.md, command by command', () => {
  it('every sh block runs as written against npm start, with the outputs it promises', async () => {
    const blocks = shellBlocks(readFileSync(join(packageRoot(), 'README.md'), 'utf8'));
    expect(blocks.flat().map((c) => c.text)).toContain('npx vmpool pool churn small --count 10');

    const [httpPort, simPort, r1, r2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const key = testKeyPath();
    const nodeConfig = JSON.stringify({
      http: { port: httpPort },
      ssh: { privateKeyPath: key },
      sim: { port: simPort, authorizedKeyPath: `${key}.pub`, bootDelay: '100ms', bootSpread: '300ms', registries: simRegistryConfigs([r1, r2]) },
      providers: simProviders(`http://127.0.0.1:${simPort}`),
      registries: simRegistryUrls([r1, r2]),
    });
    const env = { NODE_CONFIG: nodeConfig, VMPOOL_URL: `http://127.0.0.1:${httpPort}`, VMPOOL_SIM_URL: `http://127.0.0.1:${simPort}` };
    let lastLease: { id: string; port: number; user: string; address: string; fingerprint: string } | undefined;
    let brokenZone = false;
    const ran: string[] = [];
    const vmpool = (words: string[]) => runToEnd('cli.js', words.map((w) => (w === 'm-...' && lastLease ? lastLease.id : w)), env);

    for (const command of blocks.flat()) {
      const { text, words, comment } = command;
      if (SKIPPED.some(([pattern]) => pattern.test(text))) continue;
      ran.push(text);
      if (text === 'npm start') {
        start = runWorker('start.js', [], { ...env, REDIS_URL: '', LOG_PRETTY: 'true' });
        await start.waitForLine(/API at http:\/\/127\.0\.0\.1:\d+/, { timeoutMs: 90_000 });
        await start.waitForLine(/pool small: 3\/3 ready/, { timeoutMs: 90_000 });
        continue;
      }
      expect(start, `npm start runs before "${text}"`).toBeDefined();
      if (words[0] === 'ssh') {
        // As printed by the lease: the key, the port, user@address.
        expect(lastLease, 'a lease before ssh').toBeDefined();
        const session = await connectSsh(
          { host: lastLease!.address, port: lastLease!.port, username: lastLease!.user, privateKey: readFileSync(key), hostKeyFingerprint: lastLease!.fingerprint },
          { timeoutMs: 10_000, loopbackOnly: true },
        );
        expect((await session.exec('cat prepared.txt', { timeoutMs: 10_000 })).output.trim()).toBe('prepared');
        session.close();
        continue;
      }
      if (words[0] === 'curl') {
        const url = words.find((w) => w.includes('/metrics'))!.replace(/^(http:\/\/)?localhost:8080/, `http://127.0.0.1:${httpPort}`);
        const pattern = words[words.indexOf('grep') + 1]!;
        // "primary failed, secondary ok": the new machines' pulls went to the secondary.
        const wanted = /secondary ok/.test(comment) ? /registry="secondary",result="ok"/ : new RegExp(pattern);
        await waitFor(async () => (await (await fetch(url)).text()).split('\n').filter((l) => l.includes(pattern)).some((l) => wanted.test(l)), { what: `${text}: ${comment}`, timeoutMs: 120_000 });
        continue;
      }
      expect(words.slice(0, 2), `a command this test knows: ${text}`).toEqual(['npx', 'vmpool']);
      const args = words.slice(2);
      const refused = /(^|: )exit 1$|^refused/.test(comment);
      if (args[0] === 'status' && brokenZone) {
        // "within a minute zone b shows open": poll the same command.
        await waitFor(async () => /sim\/zone-b\s+open/.test((await vmpool(args)).output), { what: 'zone b open in vmpool status', timeoutMs: 120_000 });
        continue;
      }
      if (args[0] === 'breaker' && args[1] === 'audit') {
        await waitFor(async () => (await vmpool(args)).output.includes('sim/zone-b  closed -> open'), { what: 'closed -> open in the audit' });
        continue;
      }
      const result = await vmpool(args);
      expect(result.code, `${text}\n${result.output}`).toBe(refused ? 1 : 0);
      const out = result.output;
      if (args[0] === 'lease') {
        const lease = /leased (m-\S+)[\s\S]*ssh -i \S+ (?:-o \S+ )*-p (\d+) (\S+)@(\S+)\n\s+host key (\S+)/.exec(out);
        expect(lease, out).not.toBeNull();
        lastLease = { id: lease![1]!, port: Number(lease![2]), user: lease![3]!, address: lease![4]!, fingerprint: lease![5]! };
      }
      if (args[0] === 'release') expect(out).toContain(`released ${lastLease!.id}: terminating`);
      if (args[0] === 'leases') expect(out).toMatch(/^ID\s+POOL\s+ZONE\s+ADDRESS\s+AGE\s+LEASED BY/);
      if (args[0] === 'status') expect(out).toMatch(/pool small: \d+\/\d+ ready \(sim\/zone-a/);
      if (args[0] === 'sim' && args[1] === 'fault') {
        brokenZone = !args.includes('--clear');
        expect(out).toContain(brokenZone ? 'sim/zone-b: boot-fail 100%' : 'sim/zone-b: healthy');
      }
      if (args[0] === 'pool' && args[1] === 'churn') expect(out).toMatch(/churned 10 lease\(s\) of pool small/);
      if (args[0] === 'breaker' && args[1] === 'set') expect(out).toMatch(new RegExp(`sim/zone-b\\s+\\S+.*${args[4] === 'auto' ? '' : 'operator|open'}`));
      if (args[0] === 'breaker' && args[1] === 'list') expect(out).toMatch(/^ZONE\s+BREAKER/);
      if (args[0] === 'agent' && args[1] === 'set' && refused) expect(out).toContain('--force');
      if (args[0] === 'agent' && args[1] === 'set' && !refused) expect(out).toContain(`agent ${args[2]}`);
      if (args.includes('--canary')) expect(out).toContain(`canary ${args[args.indexOf('--canary') + 1]} at 10%`);
      if (args[0] === 'agent' && args[1] === 'verify') expect(out).toContain(args[2]);
      if (args[0] === 'sim' && args[1] === 'registry') expect(out).toContain(args[2]);
    }
    // The demo blocks ran, in order.
    expect(ran).toEqual(expect.arrayContaining(['npm start', 'npx vmpool sim fault sim/zone-b --boot-fail', 'npx vmpool pool churn small --count 10', 'npx vmpool leases']));
    process.kill(-start!.pid, 'SIGINT');
    expect(await start!.exited).toBe(0);
  }, 900_000);
});
