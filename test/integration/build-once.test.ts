import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config.js';

const run = promisify(execFile);
let project: string | undefined;
afterEach(() => {
  if (project) rmSync(project, { recursive: true, force: true });
  project = undefined;
});

/** A tiny project shaped like vmpool (src, workers, the tsconfigs), using this checkout's TypeScript and scripts/build.sh. */
function tinyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmpool-build-once-'));
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(packageRoot(), 'scripts', 'build.sh'), join(dir, 'scripts', 'build.sh'));
  symlinkSync(join(packageRoot(), 'node_modules'), join(dir, 'node_modules'));
  for (const folder of ['src', 'workers']) mkdirSync(join(dir, folder));
  writeFileSync(join(dir, 'src', 'answer.ts'), 'export const answer = 41;\n');
  writeFileSync(join(dir, 'workers', 'main.ts'), "import { answer } from '../src/answer.js';\nconsole.log(answer);\n");
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(dir, 'package-lock.json'), '{}\n');
  const options = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist', rootDir: '.', skipLibCheck: true, types: [] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, include: ['src', 'workers'] }));
  writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json' }));
  return dir;
}

const build = async (dir: string) => (await run('sh', [join(dir, 'scripts', 'build.sh')], { cwd: dir })).stderr;

describe('one compile per start', () => {
  it('npm ci does not compile (no prepare script); start.sh and test.sh build through build.sh, once', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBeUndefined();
    for (const script of ['start.sh', 'test.sh']) {
      const text = readFileSync(join(packageRoot(), 'scripts', script), 'utf8');
      expect(text.match(/tsc/g) ?? []).toEqual([]);
      expect(text.match(/sh scripts\/build\.sh/g)).toHaveLength(1);
    }
  });

  it('builds (and says so) when dist is missing or older than a source, and skips silently when dist is fresh', async () => {
    project = tinyProject();
    expect(await build(project)).toBe('vmpool: building (tsc, 10-40 s)\n');
    expect(readFileSync(join(project, 'dist', 'src', 'answer.js'), 'utf8')).toContain('41');
    expect(await build(project)).toBe('');

    // A source saved after the build: the stale dist must not run.
    writeFileSync(join(project, 'src', 'answer.ts'), 'export const answer = 42;\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(project, 'src', 'answer.ts'), later, later);
    expect(await build(project)).toBe('vmpool: building (tsc, 10-40 s)\n');
    expect(readFileSync(join(project, 'dist', 'src', 'answer.js'), 'utf8')).toContain('42');
  }, 180_000);
});
