import type { FastifyReply } from 'fastify';

/**
 * The answer of a web process that is closing: a 503 that tells a load
 * balancer, and a client, to go elsewhere. `closeConnection: false` for a
 * request that was already in flight: a request pipelined behind it on the
 * same connection still gets its own answer (the server's close ends the
 * connection after the last one).
 */
export function answerShuttingDown(reply: FastifyReply, { closeConnection = true } = {}): FastifyReply {
  if (closeConnection) reply.header('connection', 'close');
  return reply.code(503).send({ error: 'shutting-down', message: 'vmpool is shutting down; retry on another instance' });
}
