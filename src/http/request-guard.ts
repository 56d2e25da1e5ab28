import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Refuses what a web page in the operator's browser could send on its own,
 * for every route (those added later too):
 * * a `Host` that is not one of ours: a DNS-rebinding page reaches a
 *   loopback API under its own name (403);
 * * an `Origin` other than the API's own: a cross-site request (403);
 * * a body that is not JSON on a mutating request: a cross-site form or a
 *   `text/plain` fetch needs no CORS preflight, JSON does (415).
 * `/healthz` and `/metrics` skip the Host check: load balancers and scrapers
 * call them by address, and they change nothing.
 */
export interface GuardOptions {
  /** `http.allowedHosts`: extra names, any port; "*" accepts every Host. */
  allowedHosts: readonly string[];
  /** `http.host`: the listen address is a name clients may use. */
  listenHost: string;
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]', '::1'];
const UNCHECKED_HOST = new Set(['/healthz', '/metrics']);

export function requestGuard(options: GuardOptions) {
  const any = options.allowedHosts.includes('*');
  const names = new Set([...LOOPBACK, ...options.allowedHosts, options.listenHost].map((n) => bareName(n.toLowerCase())));
  const hostAllowed = (host: string | undefined) => any || (host !== undefined && names.has(bareName(hostName(host.toLowerCase()))));

  return (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const host = request.headers.host;
    if (!UNCHECKED_HOST.has(request.routeOptions.url ?? '') && !hostAllowed(host)) {
      return reply.code(403).send({ error: 'forbidden', message: `host ${JSON.stringify(host ?? '')} is not one of this API's names; add it to http.allowedHosts` });
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host)) {
      return reply.code(403).send({ error: 'forbidden', message: `cross-origin request from ${JSON.stringify(origin.slice(0, 100))} refused` });
    }
    if (isMutating(request) && hasBody(request) && !isJson(request.headers['content-type'])) {
      return reply.code(415).send({ error: 'unsupported-media-type', message: `content-type: expected application/json, got ${JSON.stringify(request.headers['content-type'] ?? 'nothing')}` });
    }
    return undefined;
  };
}

export function isMutating(request: FastifyRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
}

/** A browser sends the page's origin; ours is the Host it asked (already checked above). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!URL.canParse(origin) || host === undefined || !URL.canParse(`http://${host}`)) return false;
  const url = new URL(origin);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType.trim());
}

/** `127.0.0.1:8080` -> `127.0.0.1`, `[::1]:8080` -> `[::1]`. */
function hostName(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
}

function bareName(name: string): string {
  return name.replace(/^\[(.*)\]$/, '$1');
}
