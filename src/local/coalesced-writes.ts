import type { Writable } from 'node:stream';

const coalesced = new WeakSet<Writable>();

/**
 * Makes the writes a socket gets in one turn of the event loop leave in one
 * system call: the first write of a turn corks the socket, and the turn's
 * end (process.nextTick) uncorks it, so Node sends them with one writev.
 * The bytes and their order are unchanged; only their grouping into
 * segments is. Worth it where a protocol answers one read with several
 * writes: an SSH server's key exchange reply and NEWKEYS, a command's exit
 * status, EOF and close. On loopback each send also runs the receiver's TCP
 * input, so a write saved is saved twice.
 */
export function coalesceWrites<T extends Writable>(socket: T): T {
  if (coalesced.has(socket)) return socket;
  coalesced.add(socket);
  const write = socket.write.bind(socket);
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: Parameters<Writable['write']>): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Writable['write'];
  return socket;
}
