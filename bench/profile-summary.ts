// `node dist/bench/profile-summary.js <file or folder>...`: the top costs of V8 CPU profiles
// (`--profile <dir>` of a benchmark, or any `node --cpu-prof`), read without a GUI. Flags: --help.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { wholeNumberFlag } from './cli.js';
import { summarize, type Cost, type CpuProfile, type ProfileSummary } from './cpu-profile.js';
import { table } from './table.js';

const program = new Command('profile-summary')
  .description('top self-time functions, packages and files, and packages on the stack, of each .cpuprofile (folders searched)')
  .argument('<paths...>', '.cpuprofile files or folders holding them')
  .option('--top <n>', 'rows per table', wholeNumberFlag, 15);

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => profilesIn(join(path, name)))
    .filter((file) => file.endsWith('.cpuprofile'));
}

function costs(title: string, rows: readonly Cost[], busyMs: number): string {
  return table([[title, 'ms', '% busy'], ...rows.map((c) => [c.name, c.ms.toFixed(0), ((100 * c.ms) / busyMs).toFixed(1)])]);
}

function report(file: string, s: ProfileSummary): string {
  const head = `== ${s.script ?? '(unknown script)'}: ${file}\n   ${(s.wallMs / 1000).toFixed(1)} s sampled, ${s.busyMs.toFixed(0)} ms busy (${((100 * s.busyMs) / s.wallMs).toFixed(1)}% of one core)`;
  const parts = [costs('self time: function', s.functions, s.busyMs), costs('self time: package', s.packages, s.busyMs), costs('self time: file', s.files, s.busyMs), costs('self time charged to the nearest caller outside Node', s.callers, s.busyMs), costs('on the stack: package', s.packagesInclusive, s.busyMs)];
  return [head, ...parts].join('\n\n');
}

const paths = program.parse().args;
const top = program.opts<{ top: number }>().top;
const files = paths.flatMap(profilesIn);
if (files.length === 0) {
  process.stderr.write(`no .cpuprofile under ${paths.join(', ')}\n`);
  process.exitCode = 1;
}
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${report(file, summarize(profile, top))}\n\n`);
}
