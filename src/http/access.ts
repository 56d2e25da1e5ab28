import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isMutating } from './request-guard.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** See OPEN_READ. */
    openRead?: boolean;
  }
}

/** Route option `config` of a read anyone may make even with `http.protectReads` (status, health, metrics, the dashboard). */
export const OPEN_READ = { openRead: true } as const;

/**
 * The bearer token (`http.token`): every mutation needs it; with
 * `http.protectReads`, so does every read not marked OPEN_READ (machine
 * detail with prepare output, recovery's cloud listing, verify's registry
 * calls, and any read added later). No token configured: nothing is checked.
 */
export function accessCheck(token: string | null, protectReads: boolean) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    if (!token) return undefined;
    const openRead = request.routeOptions.config?.openRead === true;
    const needed = isMutating(request) || (protectReads && !openRead);
    if (!needed || authorized(request, token)) return undefined;
    return reply.code(401).send({ error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)' });
  };
}

function authorized(request: FastifyRequest, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
