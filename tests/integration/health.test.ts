import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../server/app.js';
import { connectDatabase } from '../../server/db/client.js';
import { freePort } from '../../server/core/net.js';
import { MongoClient } from 'mongodb';
import { createTestNode, testConfig, type TestNode } from '../helpers/app.js';

describe('health and readiness', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await createTestNode();
  });
  afterAll(() => node.close());

  it('GET /healthz answers 200 while the process is up', async () => {
    const res = await request(node.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('GET /readyz answers 200 when the database answers a ping', async () => {
    const res = await request(node.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });

  it('GET /readyz answers 503 problem+json while shutting down', async () => {
    const app = createApp({
      config: node.config,
      logger: pino({ level: 'silent' }),
      db: node.database.db,
      lifecycle: { isShuttingDown: () => true },
    });
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      type: '/problems/service-unavailable',
      detail: 'The server is shutting down.',
    });
  });
});

describe('readiness with an unreachable database', () => {
  it('GET /readyz answers 503 problem+json when nothing listens at the database address', async () => {
    // A client pointed at a loopback port where no server listens: a database that is down.
    const port = await freePort();
    const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, { serverSelectionTimeoutMS: 300 });
    const app = createApp({ config: testConfig(), logger: pino({ level: 'silent' }), db: client.db('x') });
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, detail: 'The database does not answer.' });
    await client.close();
  });

  it('connectDatabase refuses to start on an unreachable server', async () => {
    const port = await freePort();
    await expect(
      connectDatabase({ uri: `mongodb://127.0.0.1:${port}/`, dbName: 'x', serverSelectionTimeoutMS: 300 }),
    ).rejects.toThrow();
  });
});
