import type { Client, ClientChannel } from 'ssh2';

export interface ExecOptions {
  /** After this the command is killed and the result says `timedOut`. */
  timeoutMs: number;
  /** Only the last this many bytes of output are kept; 64 KiB by default. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number | null;
  /** Set when the command died of a signal, e.g. `SIGKILL`. */
  signal?: string;
  timedOut: boolean;
  /** stdout and stderr interleaved as they arrived; only the last maxOutputBytes kept. */
  output: string;
}

/**
 * Makes the error exec rejects with when the connection is gone. The caller
 * supplies it so the error kinds (and the host's name) stay with the connection
 * code, which imports this file and not the other way round.
 */
export type ConnectionLost = (message: string, options?: { cause?: unknown }) => Error;

// How long a timed-out command's channel may take to close before the whole connection is cut.
const CLOSE_GRACE_MS = 2_000;

/** Runs one command; resolves on exit or timeout, rejects (with `lost`'s error) only if the connection is lost. */
export function sshExec(client: Client, command: string, options: ExecOptions, lost: ConnectionLost): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const output = tailBuffer(options.maxOutputBytes ?? 64 * 1024);
    const result: ExecResult = { exitCode: null, timedOut: false, output: '' };
    let channel: ClientChannel | undefined;
    let grace: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      client.off('close', onLost);
      if (err && !result.timedOut) reject(err);
      else resolve({ ...result, output: output.text() });
    };
    const onLost = (): void => finish(lost('connection lost while running a command'));
    const timer = setTimeout(() => {
      result.timedOut = true;
      // Ask the remote to kill it, then hang up on the channel; a remote that will not let go loses the connection.
      channel?.signal('KILL');
      channel?.close();
      grace = setTimeout(() => (client.destroy(), finish()), CLOSE_GRACE_MS);
    }, options.timeoutMs);
    client.once('close', onLost);
    const onChannel = (err: Error | undefined, ch: ClientChannel): void => {
      if (err) return finish(lost(`cannot run a command: ${err.message}`, { cause: err }));
      if (done) return void ch.close();
      channel = ch;
      ch.on('data', (chunk: Buffer) => output.push(chunk));
      ch.stderr.on('data', (chunk: Buffer) => output.push(chunk));
      ch.on('exit', (code: number | null, signal?: string) => Object.assign(result, { exitCode: code }, signal ? { signal } : {}));
      ch.on('close', () => finish());
    };
    try {
      client.exec(command, onChannel);
    } catch (err) {
      finish(lost('session is closed', { cause: err }));
    }
  });
}

/** Keeps whole chunks until the newest ones alone hold `max` bytes, so memory stays near `max`. */
function tailBuffer(max: number): { push(chunk: Buffer): void; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      while (chunks.length > 0 && size - chunks[0]!.length >= max) size -= chunks.shift()!.length;
    },
    text() {
      const all = Buffer.concat(chunks);
      let start = Math.max(0, all.length - max);
      while (start < all.length && (all[start]! & 0xc0) === 0x80) start++; // never start mid-character
      return all.subarray(start).toString('utf8');
    },
  };
}
