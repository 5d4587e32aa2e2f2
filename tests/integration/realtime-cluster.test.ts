import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { startServerProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';
import { connectSocket, until } from '../helpers/sockets.js';

/** Two real server processes (the real entry point) on one database and a real redis-server. */
describe('several server processes behind one address', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const children: ChildProcess[] = [];
  const urls: string[] = [];

  async function startProcess(dbName: string): Promise<string> {
    const server = await startServerProcess(dbName, { REDIS_URL: redis.url });
    children.push(server.child);
    return server.url;
  }

  beforeAll(async () => {
    redis = await startRedis();
    const dbName = `cluster_${randomBytes(4).toString('hex')}`;
    urls.push(await startProcess(dbName), await startProcess(dbName));
  });
  afterAll(async () => {
    await Promise.all(
      children.map((c) => {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        return exited;
      }),
    );
    await redis.stop();
  });

  it('delivers an event raised on one process to sockets on the other, and replays it after a drop', async () => {
    const [a, b] = urls as [string, string];
    const browser = new Browser();
    await signIn(browser, a, 'dev', 'alice');
    const alice = new ApiClient(browser, a);
    expect(
      (
        await alice.call('POST', '/groups', {
          handle: 'cluster',
          name: 'Cluster',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);

    const listener = await connectSocket(b); // anonymous, on the other process
    expect(await listener.subscribe({ kind: 'group', group: 'cluster' })).toMatchObject({ ok: true });
    const thread = await alice.call('POST', '/groups/cluster/threads', {
      title: 'Across',
      body: 'hello from A',
    });
    expect(thread.status).toBe(201);
    await until(() => listener.of('thread.created').length === 1, 5000);
    expect(listener.of('thread.created')).toEqual([expect.objectContaining({ threadId: thread.body.id })]);

    // Connection state recovery through Redis: the transport to B drops, A raises events, B replays them.
    listener.socket.io.engine.close();
    for (let i = 0; i < 3; i++)
      await alice.call('POST', `/threads/${thread.body.id}/replies`, { body: `r${i}` });
    await until(() => listener.socket.connected && listener.of('reply.created').length === 3, 8000);
    expect(listener.socket.recovered).toBe(true);
    expect(listener.of('reply.created').map((p) => p.seq)).toEqual([1, 2, 3]);
    listener.close();
  });

  it("drops a page kept on one process before the other process's room events reach it (docs/adr/0027)", async () => {
    const [a, b] = urls as [string, string];
    const browser = new Browser();
    await signIn(browser, a, 'dev', 'alice');
    const alice = new ApiClient(browser, a);
    const page = async () =>
      (
        (await (await fetch(`${b}/api/v1/groups/cluster/threads`)).json()) as { items: { title: string }[] }
      ).items.map((t) => t.title);
    const before = await page();
    expect(await page()).toEqual(before); // now kept on B
    const listener = await connectSocket(b);
    try {
      expect(await listener.subscribe({ kind: 'group', group: 'cluster' })).toMatchObject({ ok: true });
      // As a client does: when the event arrives, read the page again from the same process.
      const seen = new Promise<string[]>((resolve) => {
        listener.socket.once('thread.created' as never, () => void page().then(resolve));
      });
      expect(
        (await alice.call('POST', '/groups/cluster/threads', { title: 'Seen at once', body: 'x' })).status,
      ).toBe(201);
      const timeout = new Promise<string[]>((_, reject) =>
        setTimeout(() => reject(new Error('no thread.created on B within 5 s')), 5000),
      );
      expect(await Promise.race([seen, timeout])).toContain('Seen at once');
    } finally {
      listener.close();
    }
  });
});
