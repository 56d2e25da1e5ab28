import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * How many of the objects `refs` point to nothing holds any more, after full
 * collections with turns of the event loop between them. The engine may keep
 * one or two alive a while in its own caches (the first or the newest of a
 * kind): assert on most of many, not on each.
 */
export async function countCollected(refs: readonly WeakRef<object>[]): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return refs.filter((ref) => ref.deref() === undefined).length;
}
