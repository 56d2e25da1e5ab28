/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that a summary reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  /** The node on top of the stack at each sample, and the µs before each sample. */
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  ms: number;
}

export interface ProfileSummary {
  /** The `dist/workers/<name>.js` the process ran, when the profile shows it. */
  script: string | undefined;
  wallMs: number;
  /** Sampled time not idle: what the process spent CPU (and GC) on. */
  busyMs: number;
  /** Self time: where the samples landed. */
  functions: Cost[];
  packages: Cost[];
  files: Cost[];
  /** Self time charged to the nearest caller outside Node and V8: who asked for the native write, the GC aside. */
  callers: Cost[];
  /** Inclusive time: a package counts for every sample with it anywhere on the stack (once per sample). */
  packagesInclusive: Cost[];
}

// V8's pseudo-frames: `(program)` is native code outside JS (parsing, the event loop's own C++), not idle.
const IDLE = '(idle)';
const ROOT = '(root)';

/**
 * Who owns a frame: an npm package (`@aws-sdk/client-ec2`, the innermost
 * `node_modules` wins), a Node built-in (`node:stream`), a V8 pseudo-frame
 * (`(garbage collector)`), or one of our files (`src/sim/vm.ts`-like path
 * under the package root, as compiled: `dist/src/sim/vm.js`).
 */
export function ownerOf(url: string, functionName: string): { pkg: string; file: string } {
  if (url === '') return { pkg: functionName.startsWith('(') ? functionName : '(native)', file: functionName.startsWith('(') ? functionName : '(native)' };
  if (url.startsWith('node:')) return { pkg: url.split('/')[0]!, file: url };
  const path = url.replace(/^file:\/\//, '');
  const at = path.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const parts = path.slice(at + '/node_modules/'.length).split('/');
    const pkg = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    return { pkg, file: `${pkg}/${parts.slice(pkg.split('/').length).join('/')}` };
  }
  const dist = path.lastIndexOf('/dist/');
  const file = dist >= 0 ? path.slice(dist + 1) : path;
  return { pkg: dist >= 0 ? `vmpool ${file.split('/').slice(1, -1).join('/') || '.'}` : file, file };
}

// Node's own code and V8's: charged to whoever called them.
function isRuntime(pkg: string): boolean {
  return pkg.startsWith('node:') || pkg === '(native)' || pkg === '(program)';
}

/** Adds each sample's time to its top frame's function, file and package, and to every package on its stack. */
export function summarize(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const stackPackages = new Map<number, Set<string>>();
  const packagesOnStack = (id: number): Set<string> => {
    const known = stackPackages.get(id);
    if (known) return known;
    // Iteratively: deep stacks would overflow a recursive walk.
    const path: number[] = [];
    for (let at: number | undefined = id; at !== undefined && !stackPackages.has(at); at = parentOf.get(at)) path.push(at);
    for (const nodeId of path.reverse()) {
      const parent = parentOf.get(nodeId);
      const set = new Set(parent === undefined ? [] : stackPackages.get(parent));
      const frame = byId.get(nodeId)!.callFrame;
      if (frame.functionName !== ROOT) set.add(ownerOf(frame.url, frame.functionName).pkg);
      stackPackages.set(nodeId, set);
    }
    return stackPackages.get(id)!;
  };
  const callerOf = new Map<number, string>();
  const callerName = (id: number): string => {
    const known = callerOf.get(id);
    if (known !== undefined) return known;
    let name = '(runtime)';
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const owner = ownerOf(frame.url, frame.functionName);
      if (frame.functionName === ROOT || (frame.url === '' && frame.functionName.startsWith('('))) {
        if (at === id) name = frame.functionName;
        break;
      }
      if (!isRuntime(owner.pkg)) {
        name = `${frame.functionName || '(anonymous)'} ${owner.file}:${frame.lineNumber + 1}`;
        break;
      }
    }
    callerOf.set(id, name);
    return name;
  };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  const files = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const callers = new Map<string, number>();
  let busyUs = 0;
  let script: string | undefined;
  for (const node of profile.nodes) script ??= /\/dist\/workers\/([\w-]+)\.js$/.exec(node.callFrame.url)?.[1];
  // A forked helper whose entry point was never sampled: named by the first of our files it ran.
  for (const node of profile.nodes) script ??= /\/(dist\/src\/.+\.js)$/.exec(node.callFrame.url)?.[1];
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === IDLE) continue;
    busyUs += us;
    const owner = ownerOf(frame.url, frame.functionName);
    add(functions, `${frame.functionName || '(anonymous)'} ${owner.file}:${frame.lineNumber + 1}`, us);
    add(packages, owner.pkg, us);
    add(files, owner.file, us);
    add(callers, callerName(id), us);
    for (const pkg of packagesOnStack(id)) add(inclusive, pkg, us);
  }
  const ranked = (costs: Map<string, number>): Cost[] =>
    [...costs].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000 }));
  return {
    script,
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busyUs / 1000,
    functions: ranked(functions),
    packages: ranked(packages),
    files: ranked(files),
    callers: ranked(callers),
    packagesInclusive: ranked(inclusive),
  };
}

function add(costs: Map<string, number>, key: string, us: number): void {
  costs.set(key, (costs.get(key) ?? 0) + us);
}
