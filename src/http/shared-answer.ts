import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';

/** Thrown when another process's computation did not answer within the wait: the route answers 503. */
export class AnswerBusyError extends Error {
  constructor(name: string) {
    super(`${name}: another request is still computing this answer; retry in a few seconds`);
  }
}

/** A route's answer when the wait for another's computation ran out; any other error goes on to the error handler. */
export function answerBusy(err: unknown, reply: FastifyReply): FastifyReply {
  if (!(err instanceof AnswerBusyError)) throw err;
  return reply.code(503).header('retry-after', '5').send({ error: 'busy', message: err.message });
}

/** How long a computation may take before another process may start one too. */
const COMPUTE_BOUND_MS = 60_000;
/** How long a caller waits for another's computation before a 503. */
const WAIT_MS = 30_000;
const POLL_MS = 100;

/**
 * Answers that cost work outside vmpool (a cloud listing, a call to every
 * registry), computed at most once per `everyMs` for every caller of every
 * process: the first caller takes a slot in Redis (SET NX) and computes; the
 * answer is kept `everyMs`, and the slot until `everyMs` after the
 * computation ended, so a failing cloud is not asked again sooner either.
 * Other callers wait for the answer; callers in one process share one wait.
 */
export class SharedAnswers {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly everyMs: number,
  ) {}

  get<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(name) as Promise<T> | undefined;
    if (running) return running;
    const answer = this.fetch(name, compute).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, answer);
    return answer;
  }

  private async fetch<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const answerKey = `${this.prefix}:answer:${name}`;
    const slotKey = `${this.prefix}:answer-slot:${name}`;
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const cached = await this.redis.get(answerKey);
      if (cached !== null) return JSON.parse(cached) as T;
      if ((await this.redis.set(slotKey, '1', 'PX', this.everyMs + COMPUTE_BOUND_MS, 'NX')) === 'OK') {
        try {
          const value = await compute();
          await this.redis.set(answerKey, JSON.stringify(value), 'PX', this.everyMs);
          return value;
        } finally {
          await this.redis.set(slotKey, '1', 'PX', this.everyMs, 'XX');
        }
      }
      if (Date.now() > deadline) throw new AnswerBusyError(name);
      await delay(POLL_MS);
    }
  }
}
