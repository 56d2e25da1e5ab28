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
    const token = await fetchToken(challenge, signal, options);
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

async function fetchToken(challenge: Challenge, signal: AbortSignal, options: ManifestOptions): Promise<string> {
  const url = new URL(challenge.realm);
  for (const key of ['service', 'scope']) if (challenge.params[key]) url.searchParams.set(key, challenge.params[key]);
  const response = await send(url, { method: 'GET', signal }, options);
  if (!response.ok) throw new RegistryError(`${url.origin}: token request answered ${response.status}`);
  const body = (await response.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new RegistryError(`${url.origin}: token answer holds no token`);
  return token;
}

async function send(url: URL, init: RequestInit, options: ManifestOptions): Promise<Response> {
  if (options.loopbackOnly && !isLoopback(url.hostname)) throw new RegistryError(`refusing to dial ${url.host}: loopbackOnly allows only 127.0.0.0/8 and ::1`);
  try {
    return await fetch(url, { ...init, redirect: options.loopbackOnly ? 'error' : 'follow' });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new RegistryError(`${url.origin}: ${cause}`, { cause: err });
  }
}

// The registry's error code (MANIFEST_UNKNOWN, UNAUTHORIZED...) says more than the status alone.
async function errorCode(response: Response): Promise<string> {
  const body = (await response.json().catch(() => undefined)) as { errors?: { code?: string }[] } | undefined;
  const code = body?.errors?.[0]?.code;
  return code ? ` (${code})` : '';
}
