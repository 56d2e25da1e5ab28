import type { Child } from './child.js';

/**
 * How long past `shutdown.grace` a signalled role may take to exit before a
 * test calls it hung. Generous on purpose: a busy machine delays an exit by
 * seconds, only a hang (a close that waits on Redis, a job or a socket
 * forever) gets this far. Tests assert what happened at the end of the grace
 * (the lines, the handed-back jobs), never how quickly.
 */
export const HANG_AFTER_GRACE_MS = 20_000;

/** The child's exit code; fails naming the child as hung if it is still running `ceilingMs` from now. */
export async function exitUnlessHung(child: Child, ceilingMs: number, what: string): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still running ${ceilingMs} ms after SIGTERM: hung\n${child.output().slice(-3000)}`)), ceilingMs);
  });
  try {
    return await Promise.race([child.exited, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A test that starts vmpool's roles as processes and waits on them with
 * hang ceilings (60 s each): above vitest's 60 s default, so the waits, not
 * the test's own timer, say what never happened.
 */
export const MULTI_PROCESS_TEST_MS = 300_000;
