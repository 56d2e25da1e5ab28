import { createHash } from 'node:crypto';
import { isLoopback } from '../local/loopback.js';

/** Media types a manifest request accepts: Docker's and OCI's, single images and indexes. */
export const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface ManifestOptions {
  /** HEAD (verify: the digest alone) or GET (a pull: the manifest too). */
  method?: 'HEAD' | 'GET';
  timeoutMs?: number;
  /** Refuse any host outside 127.0.0.0/8 and ::1, the token realm included: the guard for demos and tests. */
  loopbackOnly?: boolean;
  /** Hosts besides the registry's own that may serve its token realm (`agent.tokenRealmHosts`). */
  realmHosts?: readonly string[];
}

export type ManifestAnswer = { present: true; digest: string | undefined; body?: Buffer } | { present: false };

/** The registry could not say whether it has the manifest (unreachable, 5xx, refused credentials). */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

/**
 * Asks a registry (Docker Registry HTTP API v2) for `/v2/<image>/manifests/<tag>`.
 * A 401 with a bearer challenge is followed once: an anonymous token from the
 * realm, then the same request with it. 404 means absent; anything else
 * that is not 2xx throws RegistryError. The token never leaves this function.
 */
export async function fetchManifest(baseUrl: string, image: string, tag: string, options: ManifestOptions = {}): Promise<ManifestAnswer> {
  const method = options.method ?? 'HEAD';
  const url = new URL(`v2/${image}/manifests/${encodeURIComponent(tag)}`, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  let response = await send(url, { method, headers: { accept: MANIFEST_TYPES }, signal }, options);
  const challenge = response.status === 401 ? parseChallenge(response.headers.get('www-authenticate')) : undefined;
  if (challenge) {
    const token = await fetchToken(challenge, url, signal, options);
    response = await send(url, { method, headers: { accept: MANIFEST_TYPES, authorization: `Bearer ${token}` }, signal }, options);
  }
  if (response.status === 404) return { present: false };
  if (!response.ok) throw new RegistryError(`${url.origin}: ${method} manifest answered ${response.status}${await errorCode(response)}`);
  const body = method === 'GET' ? Buffer.from(await response.arrayBuffer()) : undefined;
  const digest = response.headers.get('docker-content-digest') ?? (body ? `sha256:${createHash('sha256').update(body).digest('hex')}` : undefined);
  return { present: true, digest, ...(body ? { body } : {}) };
}

interface Challenge {
  realm: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x:pull"` */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header || !/^bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of header.slice(7).matchAll(/([a-zA-Z_]+)=(?:"([^"]*)"|([^,\s]*))/g)) params[key!.toLowerCase()] = quoted ?? bare ?? '';
  const { realm, ...rest } = params;
  return realm ? { realm, params: rest } : undefined;
}

/**
 * The anonymous token from the challenge's realm. The realm is the registry's
 * word, so only the registry's own host (or one the config allows) is asked:
 * a registry answering for someone else cannot make us call any URL it likes.
 */
async function fetchToken(challenge: Challenge, registry: URL, signal: AbortSignal, options: ManifestOptions): Promise<string> {
  const url = URL.canParse(challenge.realm) ? new URL(challenge.realm) : undefined;
  if (!url || !/^https?:$/.test(url.protocol)) throw new RegistryError(`${registry.origin}: token realm ${JSON.stringify(challenge.realm.slice(0, 200))} is not an http(s) URL`);
  if (url.hostname !== registry.hostname && !(options.realmHosts ?? []).includes(url.hostname)) {
    throw new RegistryError(`${registry.origin}: refusing token realm on ${url.host}: neither the registry's host nor in agent.tokenRealmHosts`);
  }
  for (const key of ['service', 'scope']) if (challenge.params[key]) url.searchParams.set(key, challenge.params[key]);
  const response = await send(url, { method: 'GET', signal }, options);
  if (!response.ok) throw new RegistryError(`${url.origin}: token request answered ${response.status}`);
  const body = (await response.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new RegistryError(`${url.origin}: token answer holds no token`);
  return token;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** One request; redirects are followed only within the same host (never to another host, which would get our token). */
async function send(url: URL, init: RequestInit, options: ManifestOptions): Promise<Response> {
  let at = url;
  for (let hop = 0; ; hop++) {
    if (options.loopbackOnly && !isLoopback(at.hostname)) throw new RegistryError(`refusing to dial ${at.host}: loopbackOnly allows only 127.0.0.0/8 and ::1`);
    let response: Response;
    try {
      response = await fetch(at, { ...init, redirect: 'manual' });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      throw new RegistryError(`${at.origin}: ${cause}`, { cause: err });
    }
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return response;
    const next = URL.canParse(location, at.href) ? new URL(location, at) : undefined;
    if (!next || next.host !== url.host || next.protocol !== url.protocol) {
      throw new RegistryError(`${at.origin}: refusing a redirect to ${next?.origin ?? 'an invalid URL'}: only the same host is followed`);
    }
    if (hop >= MAX_REDIRECTS) throw new RegistryError(`${url.origin}: more than ${MAX_REDIRECTS} redirects`);
    at = next;
  }
}

// The registry's error code (MANIFEST_UNKNOWN, UNAUTHORIZED...) says more than the status alone.
async function errorCode(response: Response): Promise<string> {
  const body = (await response.json().catch(() => undefined)) as { errors?: { code?: string }[] } | undefined;
  const code = body?.errors?.[0]?.code;
  return code ? ` (${code})` : '';
}
