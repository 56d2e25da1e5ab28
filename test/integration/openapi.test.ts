import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../src/http/openapi.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem({ ...onePool(), http: { token: 'a-token-of-at-least-24-characters', protectReads: true } }, ['web']);
});
afterAll(async () => {
  await system.close();
});

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
}

/** Fastify's `/v1/zones/:zone/breaker` is OpenAPI's `/v1/zones/{zone}/breaker`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('GET /openapi.json', () => {
  it('describes every route fastify registered, with its answer codes, from the routes own schemas (open without the token)', async () => {
    const response = await fetch(`${system.app.url}/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as OpenApi;
    expect(doc.openapi).toMatch(/^3\./);
    const routes = registeredRoutes(system.app.http!).filter((r) => r.method !== 'HEAD' && !r.hidden);
    expect(routes.length).toBeGreaterThanOrEqual(16);
    for (const route of routes) {
      const operation = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.url}`).toBeDefined();
      expect(Object.keys(operation!.responses), `${route.method} ${route.url}`).toContain('200');
    }
    const lease = doc.paths['/v1/pools/{pool}/leases']!.post!;
    expect(Object.keys(lease.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409', '415', '503']));
    expect(lease.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'pool', in: 'path' }), expect.objectContaining({ name: 'wait', in: 'query' })]));
    expect(lease.requestBody).toBeDefined();
    expect(Object.keys(doc.paths['/v1/zones/audit']!.get!.responses)).toEqual(expect.arrayContaining(['200', '400']));
  });
});
