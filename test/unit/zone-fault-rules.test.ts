import { describe, expect, it } from 'vitest';
import { countsAgainstZone } from '../../src/boot/prepare.js';
import { BOOT_VERDICTS } from '../../src/errors.js';

// README: "Failures of our own making (a prepare step exiting non-zero, a bad
// host key) do not count" against the zone; boot timeouts, SSH unreachable,
// prepare timeouts and lost instances do.
describe('which boot failures count against the zone', () => {
  it('a prepare step exiting non-zero does not count under the default policy; one timing out does', () => {
    expect(countsAgainstZone('timeout', 'failed')).toBe(false);
    expect(countsAgainstZone('timeout', 'timeout')).toBe(true);
  });

  it('a bad host key, a failed prepare and a missing agent image are not the zone’s fault; the machine’s network and host are', () => {
    expect([BOOT_VERDICTS['host-key-mismatch'], BOOT_VERDICTS['prepare-failed'], BOOT_VERDICTS['agent-pull-failed']]).toEqual(['not-zone', 'not-zone', 'not-zone']);
    expect([BOOT_VERDICTS['boot-timeout'], BOOT_VERDICTS['ssh-unreachable'], BOOT_VERDICTS['prepare-timeout'], BOOT_VERDICTS['instance-lost']]).toEqual(['zone-fault', 'zone-fault', 'zone-fault', 'zone-fault']);
  });
});
