import { describe, expect, it } from 'vitest';
import { ownerOf, summarize, type CpuProfile } from '../../bench/cpu-profile.js';

const ROOT = '/work/vmpool';
const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });

// (root) -> runJob (ours) -> sendCommand (ioredis) -> writeUtf8String (native); plus GC and idle samples.
const PROFILE: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 5, 6] },
    { id: 2, callFrame: frame('runJob', `file://${ROOT}/dist/src/pool/launch.js`), children: [3] },
    { id: 3, callFrame: frame('sendCommand', `file://${ROOT}/node_modules/ioredis/built/Redis.js`), children: [4] },
    { id: 4, callFrame: frame('writeUtf8String', '') },
    { id: 5, callFrame: frame('(garbage collector)', '') },
    { id: 6, callFrame: frame('(idle)', '') },
  ],
  samples: [4, 4, 3, 2, 5, 6],
  timeDeltas: [1_000, 1_000, 500, 500, 250, 6_750],
};

describe('cpu profile summary', () => {
  it('names the owner of a frame: npm package (scoped too), Node built-in, V8 pseudo-frame, or our folder', () => {
    expect(ownerOf(`file://${ROOT}/node_modules/@aws-sdk/core/dist-cjs/index.js`, 'f').pkg).toBe('@aws-sdk/core');
    expect(ownerOf(`file://${ROOT}/node_modules/a/node_modules/b/x.js`, 'f')).toEqual({ pkg: 'b', file: 'b/x.js' });
    expect(ownerOf('node:internal/crypto/sig', 'sign').pkg).toBe('node:internal');
    expect(ownerOf('', '(garbage collector)').pkg).toBe('(garbage collector)');
    expect(ownerOf('', 'writeBuffer').pkg).toBe('(native)');
    expect(ownerOf(`file://${ROOT}/dist/src/sim/vm.js`, 'f')).toEqual({ pkg: 'vmpool src/sim', file: 'dist/src/sim/vm.js' });
  });

  it('adds each sample to its top frame, leaving idle time out of the busy total', () => {
    const s = summarize(PROFILE);
    expect(s.wallMs).toBe(10);
    expect(s.busyMs).toBe(3.25);
    expect(s.functions[0]).toEqual({ name: 'writeUtf8String (native):10', ms: 2 });
    expect(s.packages).toEqual([
      { name: '(native)', ms: 2 },
      { name: 'ioredis', ms: 0.5 },
      { name: 'vmpool src/pool', ms: 0.5 },
      { name: '(garbage collector)', ms: 0.25 },
    ]);
  });

  it('charges native and Node time to the nearest caller outside them', () => {
    const callers = summarize(PROFILE).callers;
    expect(callers[0]).toEqual({ name: 'sendCommand ioredis/built/Redis.js:10', ms: 2.5 });
    expect(callers).toContainEqual({ name: '(garbage collector)', ms: 0.25 });
  });

  it('counts a package once per sample for every sample with it on the stack', () => {
    const inclusive = new Map(summarize(PROFILE).packagesInclusive.map((c) => [c.name, c.ms]));
    expect(inclusive.get('vmpool src/pool')).toBe(3);
    expect(inclusive.get('ioredis')).toBe(2.5);
    expect(inclusive.has('(idle)')).toBe(false);
  });

  it('names the process by the worker script it ran', () => {
    const profile = { ...PROFILE, nodes: [...PROFILE.nodes, { id: 7, callFrame: frame('', `file://${ROOT}/dist/workers/booter.js`) }] };
    expect(summarize(profile).script).toBe('booter');
    expect(summarize(PROFILE).script).toBe('dist/src/pool/launch.js');
  });
});
