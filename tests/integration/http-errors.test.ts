import { Router } from 'express';
import request from 'supertest';
import { ConflictError } from '../../server/core/errors.js';
import { asyncHandler } from '../../server/core/http.js';
import { capturingLogger, createTestNode, type TestNode } from '../helpers/app.js';
import { documentCounts } from '../helpers/db.js';

const PROBLEM = /^application\/problem\+json/;

/** A write route as domain modules will mount them: it only writes a valid body. */
function notesRouter(node: () => TestNode): Router {
  const router = Router();
  router.post(
    '/notes',
    asyncHandler(async (req, res) => {
      const body = req.body as { text?: unknown };
      if (typeof body?.text !== 'string') throw new ConflictError('text must be a string');
      await node().database.db.collection('notes').insertOne({ text: body.text });
      res.status(201).json({ ok: true });
    }),
  );
  router.get('/boom', () => {
    throw new Error('database password is hunter2');
  });
  router.get(
    '/async-boom',
    asyncHandler(async () => {
      await Promise.resolve();
      throw new ConflictError('the thing already exists');
    }),
  );
  return router;
}

describe('one error pipeline: every failure is application/problem+json', () => {
  let node: TestNode;
  const captured = capturingLogger();
  beforeAll(async () => {
    node = await createTestNode({
      env: { JSON_BODY_LIMIT: '1kb' },
      deps: { apiRouters: [notesRouter(() => node)], logger: captured.logger },
    });
  });
  afterAll(() => node.close());

  it('answers an unknown route with 404 problem+json naming the route', async () => {
    const res = await request(node.app).get('/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({
      type: '/problems/not-found',
      status: 404,
      title: 'Not found',
      detail: 'No route for GET /api/v1/nothing-here.',
      instance: '/api/v1/nothing-here',
    });
  });

  it('answers malformed JSON with 400 problem+json and stores nothing', async () => {
    const before = await documentCounts(node.database.db);
    const res = await request(node.app)
      .post('/api/v1/notes')
      .set('Content-Type', 'application/json')
      .send('{"text": "unterminated');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: '/problems/malformed-body', errors: [{ field: 'body' }] });
    expect(await documentCounts(node.database.db)).toEqual(before);
  });

  it('answers an oversized body with 413 problem+json and stores nothing', async () => {
    const before = await documentCounts(node.database.db);
    const res = await request(node.app)
      .post('/api/v1/notes')
      .send({ text: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: '/problems/payload-too-large', status: 413 });
    expect(res.body.detail).toContain('1024');
    expect(await documentCounts(node.database.db)).toEqual(before);
  });

  it('stores a valid body (the route really writes)', async () => {
    const res = await request(node.app).post('/api/v1/notes').send({ text: 'hello' });
    expect(res.status).toBe(201);
    expect(await node.database.db.collection('notes').countDocuments({ text: 'hello' })).toBe(1);
  });

  it('maps a domain error thrown in an async handler to its status', async () => {
    const res = await request(node.app).get('/api/v1/async-boom');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problems/conflict', detail: 'the thing already exists' });
  });

  it('answers an unexpected error with 500 problem+json and logs it with the request id', async () => {
    const res = await request(node.app).get('/api/v1/boom').set('X-Request-Id', 'req-abc-123');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    expect(res.body).toMatchObject({
      type: '/problems/internal-error',
      status: 500,
      requestId: 'req-abc-123',
    });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    const logged = captured.lines().find((l) => l.msg === 'unhandled error');
    expect(logged).toBeDefined();
    expect((logged!.req as { id: string }).id).toBe('req-abc-123');
    expect(JSON.stringify(logged!.err)).toContain('hunter2');
    // The request's own line says what it was and how it ended, and carries no headers (no cookies).
    const line = captured
      .lines()
      .find((l) => l.res && (l.req as { id?: string } | undefined)?.id === 'req-abc-123');
    expect(line).toMatchObject({
      req: { id: 'req-abc-123', method: 'GET', url: '/api/v1/boom' },
      res: { statusCode: 500 },
    });
    expect(Object.keys(line!.req as object).sort()).toEqual(['id', 'method', 'url']);
  });

  it('mints a request id when the incoming one is unsafe', async () => {
    const res = await request(node.app).get('/healthz').set('X-Request-Id', 'bad id\twith spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('in production', () => {
  let node: TestNode;
  beforeAll(async () => {
    const router = Router();
    router.get('/boom', () => {
      throw new Error('database password is hunter2');
    });
    node = await createTestNode({
      env: {
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://ensemble.example.gc.ca',
        SESSION_SECRET: 'a-production-secret-of-at-least-32-chars',
        OIDC_ISSUERS: JSON.stringify([
          {
            id: 'd',
            name: { en: 'D', fr: 'D' },
            issuer: 'https://idp.example',
            clientId: 'c',
            clientSecret: 's',
          },
        ]),
      },
      deps: { apiRouters: [router] },
    });
  });
  afterAll(() => node.close());

  it('hides the error message of a 500 and sends security headers', async () => {
    const res = await request(node.app).get('/api/v1/boom');
    expect(res.status).toBe(500);
    expect(res.body.detail).toBe('An unexpected error occurred.');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
