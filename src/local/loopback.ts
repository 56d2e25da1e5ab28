import { BlockList, isIP } from 'node:net';

// Node's BlockList also matches the IPv4-mapped forms (::ffff:127.0.0.1, ::ffff:7f00:1) and any spelling of ::1.
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True for IP literals in 127.0.0.0/8 and ::1. Host names are never loopback
 * here: DNS (or /etc/hosts) could send "localhost" anywhere.
 */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}
