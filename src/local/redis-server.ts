import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** Stops the server by its PID and waits for it to exit. */
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  'redis-server is not installed. Install it with: sudo apt-get update && sudo apt-get install -y redis-server ' +
  '(or point REDIS_URL at a Redis 6.2+ server).';

/**
 * Starts a throwaway redis-server on a free loopback port: no persistence, no
 * eviction (BullMQ requires noeviction), its own process group so a terminal's
 * Ctrl-C reaches our shutdown code first and we stop it ourselves.
 */
export async function startRedisServer(): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(REDIS_INSTALL_HINT);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(port);
    } catch (err) {
      lastError = err; // most likely the port was taken between probe and bind
    }
  }
  throw lastError;
}

// util-linux's setpriv (on every Debian) asks the kernel to SIGTERM the server
// when this process dies, even by SIGKILL, so a killed run leaves no Redis behind.
const HAS_SETPRIV = !spawnSync('setpriv', ['--version']).error;

function launch(port: number): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--logfile', ''];
  const [command, argv] = HAS_SETPRIV ? ['setpriv', ['--pdeathsig', 'TERM', 'redis-server', ...args]] : ['redis-server', args];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stopOnExit = () => child.kill('SIGKILL');
  process.once('exit', stopOnExit);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ url: `redis://127.0.0.1:${port}`, port, pid: child.pid ?? 0, stop: () => stop(child, stopOnExit) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      process.off('exit', stopOnExit);
      reject(new Error(`redis-server exited with code ${code} before it was ready:\n${output.slice(-2000)}`));
    });
  });
}

function stop(child: ChildProcess, stopOnExit: () => void): Promise<void> {
  process.off('exit', stopOnExit);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
