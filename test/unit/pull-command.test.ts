import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidPullValue, pullCommand } from '../../src/boot/agent-image.js';

const registry = { name: 'primary', url: 'https://registry.example.com/' };
const local = { name: 'p', url: 'http://127.0.0.1:4601' };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** What the command's words are once /bin/sh has read it: the template is `printf '<%s>\n' ...`. */
function argv(command: string, cwd: string): string[] {
  return execFileSync('sh', ['-c', command], { cwd, encoding: 'utf8' }).trim().split('\n');
}

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmpool-pull-command-'));
  dirs.push(dir);
  return dir;
}

describe('pullCommand', () => {
  it('fills the registry host, URL, image and version in, bare or inside the operator\'s double quotes', () => {
    const dir = scratch();
    const bare = pullCommand({ pullCommand: "printf '<%s>\\n' {registry}/{image}:{version} {url}", image: 'org/agent' }, registry, '1.5.0');
    expect(argv(bare, dir)).toEqual(['<registry.example.com/org/agent:1.5.0>', '<https://registry.example.com>']);
    const quoted = pullCommand({ pullCommand: `printf '<%s>\\n' "{url}" "{image}:{version}"`, image: 'org/agent' }, local, '1');
    expect(argv(quoted, dir)).toEqual(['<http://127.0.0.1:4601>', '<org/agent:1>']);
  });

  it.each(['1.5.0$(touch pwned)', '1.5.0`touch pwned`', '1.5.0"; touch pwned; "', "1.5.0'; touch pwned; '", '1.5.0\ntouch pwned', ''])(
    'refuses the version %j before any command exists, whatever the template quoting',
    (version) => {
      for (const template of ['registry-pull {url} {image}:{version}', 'registry-pull "{url}" "{image}:{version}"', "registry-pull '{image}:{version}'"]) {
        expect(() => pullCommand({ pullCommand: template, image: 'org/agent' }, local, version, 'instance tag vmpool:agent-version')).toThrow(InvalidPullValue);
      }
      expect(() => pullCommand({ pullCommand: 'x {version}', image: 'org/agent' }, local, version, 'instance tag vmpool:agent-version')).toThrow(/instance tag vmpool:agent-version/);
    },
  );

  it('refuses an image or a registry URL outside their grammar', () => {
    expect(() => pullCommand({ pullCommand: 'x {image}', image: 'org/agent$(id)' }, local, '1')).toThrow(InvalidPullValue);
    expect(() => pullCommand({ pullCommand: 'x {url}', image: 'org/agent' }, { name: 'p', url: 'http://127.0.0.1:4601/$(touch pwned)' }, '1')).toThrow(/registry p URL/);
  });

  it('keeps a value that slipped past a check from running as code, even inside double quotes', () => {
    // The values reach the shell as variables: expansion never reads them as code.
    const dir = scratch();
    const command = pullCommand({ pullCommand: `printf '<%s>\\n' "{image}:{version}"`, image: 'org/agent' }, local, '1.5.0');
    const tampered = command.replace("VMPOOL_VERSION=1.5.0", "VMPOOL_VERSION='1.5.0$(touch pwned)'");
    expect(tampered).not.toBe(command);
    expect(argv(tampered, dir)).toEqual(['<org/agent:1.5.0$(touch pwned)>']);
    expect(readdirSync(dir)).toEqual([]);
  });
});
