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
        for (const m of Object.keys(inner.route.methods)) routes.push(`${m} ${path}`);
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
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc).toEqual(JSON.parse(JSON.stringify(await buildOpenApiDocument())));
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    );
    const served = expressApiRoutes(node.node.app).filter((r) => r !== 'get /api/v1/openapi.json');
    expect(served.length).toBeGreaterThan(10);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.includes(r))).toEqual([]);
  });

  it('describes request schemas and problem responses', async () => {
    const doc = (await (await fetch(`${node.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
    };
    const patch = doc.paths['/api/v1/me/profile']!.patch!;
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
