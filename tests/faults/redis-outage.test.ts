import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { serveNode, startTestNode, testConfig, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { waitUntil } from '../helpers/fediverse.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { startRedis } from '../helpers/redis.js';
import { connectSocket } from '../helpers/sockets.js';

const cast: DemoPerson[] = [
  { sub: 'rosa', name: 'Rosa', email: 'rosa@dept.example', locale: 'en', organization: '' },
];

/**
 * Redis (the Socket.IO adapter between two processes of one node) goes down and comes back: the node keeps
 * serving HTTP, sockets stay or come back, events cross processes again, and nobody gets an event twice.
 */
describe('Redis down, then back', () => {
  let idp: TestIdp;
  let a: RunningNode;
  let b: { url: string; node: RunningNode['node']; close(): Promise<void> };
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let rosa: ApiClient;
  let threadId: string;
  const sockets: Awaited<ReturnType<typeof connectSocket>>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const [portA, portB] = [await freePort(), await freePort()];
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${portA}`, people: cast });
    a = await startTestNode({ port: portA, issuers: [idp.issuer], env: { REDIS_URL: redis.url } });
    const urlB = `http://127.0.0.1:${portB}`;
    const served = await serveNode(
      testConfig({ PORT: String(portB), PUBLIC_URL: urlB, REDIS_URL: redis.url }, a.database.uri),
      a.database,
      portB,
    );
    b = { url: urlB, node: served.node, close: served.close };
    const browser = new Browser();
    await signIn(browser, a.url, 'dept', 'rosa');
    rosa = new ApiClient(browser, a.url);
    expect(
      (
        await rosa.call('POST', '/groups', {
          handle: 'ops',
          name: 'Ops',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    threadId = (await rosa.call('POST', '/groups/ops/threads', { title: 'Status', body: 'x' })).body.id;
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await b.close();
    await a.close();
    await idp.close();
    await redis.stop().catch(() => undefined);
  });

  it('serves HTTP through the outage, sockets recover, events cross processes again, none twice', async () => {
    const onA = await connectSocket(a.url);
    const onB = await connectSocket(b.url);
    sockets.push(onA, onB);
    for (const s of [onA, onB]) expect((await s.subscribe({ kind: 'group', group: 'ops' })).ok).toBe(true);
    const seqs = (s: typeof onA) => s.of('reply.created').map((p) => p.seq as number);
    const reply = async (n: number) => {
      const started = Date.now();
      const res = await rosa.call('POST', `/threads/${threadId}/replies`, { body: `reply ${n}` });
      return { status: res.status, ms: Date.now() - started };
    };

    expect((await reply(1)).status).toBe(201);
    await waitUntil(() => seqs(onB).includes(1), 5000, 'the first reply on the other process');
    // The other process keeps the thread's anonymous page (page cache, ADR 0027).
    const pageOnB = async () => (await fetch(`${b.url}/api/v1/threads/${threadId}/replies`)).text();
    for (let i = 0; i < 2; i++) expect(await pageOnB()).toContain('reply 1');

    await redis.stop();
    await waitUntil(() => a.node.realtime.redisReady() === false, 5000, 'the node to notice Redis is down');
    // HTTP goes on: writes, reads and readiness, on both processes.
    for (let n = 2; n <= 4; n++) expect((await reply(n)).status).toBe(201);
    // Changes made on A cannot be heard on B now: B shows them rather than the page it kept.
    await waitUntil(() => b.node.realtime.redisReady() === false, 5000, 'the other process to notice');
    expect(await pageOnB()).toContain('reply 4');
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    // The process that raised them still tells its own sockets.
    await waitUntil(() => [2, 3, 4].every((n) => seqs(onA).includes(n)), 5000, 'local events');
    // A socket that drops meanwhile connects again (without Redis, without recovery).
    onA.socket.io.engine.close();
    await waitUntil(() => onA.socket.connected, 10_000, 'a socket to reconnect during the outage');

    const again = await startRedis({ port: redis.port });
    redis = again;
    await waitUntil(
      () => a.node.realtime.redisReady() === true && b.node.realtime.redisReady() === true,
      15_000,
      'both processes to reconnect to Redis',
    );
    // Events cross processes again.
    let n = 5;
    await waitUntil(
      async () => {
        expect((await reply(n)).status).toBe(201);
        n++;
        await new Promise((r) => setTimeout(r, 300));
        return seqs(onB).some((s) => s >= 5);
      },
      15_000,
      'an event from one process to reach a socket on the other',
    );
    if (!onA.socket.connected) await waitUntil(() => onA.socket.connected, 10_000, 'the socket');
    expect((await onA.subscribe({ kind: 'group', group: 'ops' })).ok).toBe(true);
    const last = (await reply(100)).status;
    expect(last).toBe(201);
    await waitUntil(() => seqs(onA).includes(n) && seqs(onB).includes(n), 5000, 'the last reply on both');
    // Nothing lost: the other process's socket, connected throughout, gets every reply, those posted while
    // Redis was away included (late, once Redis is back).
    await waitUntil(
      () => Array.from({ length: n }, (_, i) => i + 1).every((s) => seqs(onB).includes(s)),
      10_000,
      'every reply on the other process',
    );
    // No storm: no socket got an event twice, and none got one that was not posted.
    for (const s of [onA, onB]) {
      const got = seqs(s);
      expect(new Set(got).size).toBe(got.length);
      expect(Math.max(...got)).toBeLessThanOrEqual(n);
    }
    expect(seqs(onB)).toHaveLength(n);
    onA.close();
    onB.close();
  });
});
