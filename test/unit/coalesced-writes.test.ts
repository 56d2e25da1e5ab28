import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/local/coalesced-writes.js';

/** A stream that records each batch the stream machinery hands it (one batch = one system call on a socket). */
function recorder(): { stream: Writable; batches: string[][] } {
  const batches: string[][] = [];
  const stream = new Writable({
    writev(chunks, done) {
      batches.push(chunks.map((c) => String(c.chunk)));
      done();
    },
    write(chunk: Buffer, _encoding, done) {
      batches.push([String(chunk)]);
      done();
    },
  });
  return { stream, batches };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('coalesceWrites', () => {
  it('sends the writes of one turn together, in order, and those of the next turn apart', async () => {
    const { stream, batches } = recorder();
    coalesceWrites(stream);
    stream.write('a');
    stream.write('b');
    stream.write('c');
    expect(batches).toEqual([]);
    await turn();
    stream.write('d');
    await turn();
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('lets end() flush what the turn wrote', async () => {
    const { stream, batches } = recorder();
    coalesceWrites(stream);
    stream.write('bye');
    stream.end();
    await turn();
    expect(batches.flat()).toEqual(['bye']);
    expect(stream.writableFinished).toBe(true);
  });

  it('wraps a stream once however often it is asked', async () => {
    const { stream, batches } = recorder();
    coalesceWrites(coalesceWrites(stream));
    stream.write('x');
    await turn();
    stream.write('y');
    await turn();
    expect(batches).toEqual([['x'], ['y']]);
  });
});
