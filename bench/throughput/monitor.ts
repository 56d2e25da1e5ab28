import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { ProcessRole } from '../cluster.js';

/** Commands seen by MONITOR in a window: those each role's clients sent (round trips), and those scripts ran. */
export interface MonitorCount {
  seconds: number;
  sentByRole: Record<string, number>;
  sentByCommand: Record<string, number>;
  byScripts: number;
  /** Per kind of script (BullMQ's, by queue; the machine store's; the breaker's): runs, and the commands they ran. */
  scripts: Record<string, { runs: number; commands: number }>;
}

// `+1700000000.123456 [0 127.0.0.1:50432] "evalsha" "<sha>" "3" "<first key>" ...`, or `[0 lua]` for a command a script ran.
const LINE = /^\+\d+\.\d+ \[\d+ (\S+)\] "([^"]+)"(?: "[^"]*" "\d+" "([^"]*)")?/;

/** Whose script an evalsha runs, told by its first key: vmpool's keys are `{prefix}:machine:`, `:state:`, `:breaker:`; BullMQ's `{prefix}:<queue>:`. */
function scriptKind(firstKey: string): string {
  const [, kind = '?'] = /^\{[^}]*\}:([^:]+)/.exec(firstKey) ?? [];
  if (kind === 'machine' || kind === 'state') return 'machine store';
  if (kind === 'breaker') return 'zone breaker';
  return `bullmq ${kind}`;
}

/**
 * Watches every command for `ms` with MONITOR, which tags commands run by
 * Lua scripts as such: what INFO commandstats cannot tell apart. Who sent a
 * command is found from its client's port (`ss` maps ports to processes).
 * A plain socket: MONITOR's stream is one line per command. MONITOR slows
 * Redis down, so the rates of this window are not the benchmark's.
 */
export async function monitorCommands(redisUrl: string, ms: number, pids: ReadonlyMap<number, ProcessRole | 'bench'>): Promise<MonitorCount> {
  const { hostname, port } = new URL(redisUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  const sentByPort = new Map<string, number>();
  const sentByCommand: Record<string, number> = {};
  let byScripts = 0;
  const scripts: Record<string, { runs: number; commands: number }> = {};
  let running: { runs: number; commands: number } | undefined;
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const match = LINE.exec(line);
      if (!match) continue;
      const [, source = '', command = '', firstKey] = match;
      if (source === 'lua') {
        // A script runs alone: the commands after its evalsha are its own.
        byScripts++;
        if (running) running.commands++;
        continue;
      }
      running = undefined;
      if (command.toLowerCase() === 'evalsha' && firstKey !== undefined) {
        running = scripts[scriptKind(firstKey)] ??= { runs: 0, commands: 0 };
        running.runs++;
      }
      const client = source.slice(source.lastIndexOf(':') + 1);
      sentByPort.set(client, (sentByPort.get(client) ?? 0) + 1);
      sentByCommand[command.toLowerCase()] = (sentByCommand[command.toLowerCase()] ?? 0) + 1;
    }
  });
  socket.on('error', () => undefined); // the count so far stands
  socket.write('MONITOR\r\n');
  const started = Date.now();
  await delay(ms);
  const seconds = (Date.now() - started) / 1_000;
  socket.destroy();
  const owners = portOwners(port);
  const sentByRole: Record<string, number> = {};
  for (const [client, n] of sentByPort) {
    const role = pids.get(owners.get(client) ?? -1) ?? 'other';
    sentByRole[role] = (sentByRole[role] ?? 0) + n;
  }
  return { seconds, sentByRole, sentByCommand: Object.fromEntries(Object.entries(sentByCommand).sort((a, b) => b[1] - a[1])), byScripts, scripts };
}

/** Local port -> pid of the process holding each TCP connection to Redis's port. */
function portOwners(redisPort: string): Map<string, number> {
  const owners = new Map<string, number>();
  try {
    const out = execFileSync('ss', ['-tnpH', 'state', 'established', `dport = :${redisPort}`], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const local = /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+/.exec(line)?.[1];
      const pid = /pid=(\d+)/.exec(line)?.[1];
      if (local && pid) owners.set(local, Number(pid));
    }
  } catch {
    // Without ss every sender is "other"; the totals stand.
  }
  return owners;
}
