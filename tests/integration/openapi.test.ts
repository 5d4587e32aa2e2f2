import fs from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import { projectRoot } from '../../server/core/paths.js';
import { buildOpenApiDocument } from '../../server/openapi.js';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  name?: string;
  regexp?: RegExp & { fast_slash?: boolean };
  handle?: { stack?: Layer[] };
}

/** Every route Express will answer under /api/v1, read from Express's own routing table. */
function expressApiRoutes(app: Express): string[] {
  const routes: string[] = [];
  const stack = (app as unknown as { _router: { stack: Layer[] } })._router.stack;
  for (const layer of stack) {
    if (layer.route?.path.startsWith('/api/v1/')) {
      for (const m of Object.keys(layer.route.methods)) routes.push(`${m} ${layer.route.path}`);
    }
    if (layer.name === 'router') {
      // A router mounted at the root answers its own paths; one mounted at /api/v1 answers under it.
      const prefix = layer.regexp?.fast_slash ? '' : layer.regexp?.test('/api/v1/x') ? '/api/v1' : undefined;
      if (prefix === undefined) continue;
      for (const inner of layer.handle?.stack ?? []) {
        if (!inner.route) continue;
        const path = `${prefix}${inner.route.path}`;
        if (!path.startsWith('/api/v1/')) continue;
        // `_all`: the 405 guard's catch-all for each path, not a route of its own.
        for (const m of Object.keys(inner.route.methods)) if (m !== '_all') routes.push(`${m} ${path}`);
      }
    }
  }
  return routes.map((r) => r.replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
}

describe('OpenAPI 3.1 document', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode({ port: await freePort() });
  });
  afterAll(() => node.close());

  it('is served at /api/v1/openapi.json and lists every API route Express answers', async () => {
    const res = await fetch(`${node.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc).toEqual(JSON.parse(JSON.stringify(await buildOpenApiDocument())));
    expect(doc.openapi).toBe('3.1.0');
    // A client following the specification appends each path to the server URL, itself resolved against
    // the document's own address (OpenAPI 3.1, "Server Object").
    const base = new URL(doc.servers[0]!.url, `${node.url}/api/v1/openapi.json`);
    expect(base.pathname).toBe('/api/v1');
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${base.pathname}${path}`),
      ),
    );
    const served = expressApiRoutes(node.node.app).filter((r) => r !== 'get /api/v1/openapi.json');
    expect(served.length).toBeGreaterThan(10);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.includes(r))).toEqual([]);
    // And such a client reaches the node: a public list, at the address it builds.
    expect(Object.keys(doc.paths)).toContain('/organizations');
    const listed = await fetch(`${base.href}/organizations`);
    expect(listed.status).toBe(200);
    expect(Array.isArray(await listed.json())).toBe(true);
  });

  it('answers a method a documented path does not have with 405, its Allow header and problem+json', async () => {
    const doc = (await (await fetch(`${node.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const patterns = Object.entries(doc.paths).map(([path, ops]) => ({
      path,
      regex: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      methods: Object.keys(ops).map((m) => m.toUpperCase()),
    }));
    const all = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    let checked = 0;
    for (const { path } of patterns) {
      const concrete = path.replace(/\{[^}]+\}/g, 'x1');
      // Every documented pattern this concrete path matches adds its methods (/groups/{group} and friends).
      const allowed = new Set(patterns.filter((p) => p.regex.test(concrete)).flatMap((p) => p.methods));
      if (allowed.has('GET')) allowed.add('HEAD');
      for (const method of all.filter((m) => !allowed.has(m))) {
        const res = await fetch(`${node.url}/api/v1${concrete}`, { method });
        expect({ method, concrete, status: res.status }).toEqual({ method, concrete, status: 405 });
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(res.headers.get('allow')!.split(', ').sort()).toEqual([...allowed].sort());
        expect(((await res.json()) as { type: string }).type).toBe('/problems/method-not-allowed');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    // The document itself, and a session's CSRF guard does not hide the 405.
    const post = await fetch(`${node.url}/api/v1/openapi.json`, {
      method: 'POST',
      headers: { cookie: 'ensemble.sid=whatever' },
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // An unknown path is still 404, whatever the method.
    expect((await fetch(`${node.url}/api/v1/nothing-here`, { method: 'DELETE' })).status).toBe(404);
  });

  it('describes request schemas and problem responses', async () => {
    const doc = (await (await fetch(`${node.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
    };
    const patch = doc.paths['/me/profile']!.patch!;
    expect(JSON.stringify(patch.requestBody)).toContain('visibility');
    expect(JSON.stringify(patch.responses.default)).toContain('application/problem+json');
  });
});

describe('docs/api/openapi.json', () => {
  it('is the document the server serves (run `npm run docs:openapi` after changing a route)', async () => {
    const committed = JSON.parse(
      fs.readFileSync(path.join(projectRoot, 'docs', 'api', 'openapi.json'), 'utf8'),
    );
    expect(committed).toEqual(JSON.parse(JSON.stringify(await buildOpenApiDocument())));
  });
});
