import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { freePort } from '../../server/core/net.js';
import { DeliveryQueue } from '../../server/federation/delivery.queue.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { testServerUri } from '../helpers/db.js';
import { FakeServer, waitUntil } from '../helpers/fediverse.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';

interface Outcome {
  via: 'a' | 'b';
  body: string;
  status: number | 'network-error';
}

/**
 * Two processes of one node (the real entry point, one database, Redis). One is killed with SIGKILL while
 * people post and deliveries and jobs are in flight: what it had answered is kept, what it was answering is
 * either whole or absent, the other process never fails, and it takes over the dead one's deliveries and jobs
 * when their leases run out.
 */
describe('an app process killed with SIGKILL under load', () => {
  const dbName = `crash_${randomBytes(4).toString('hex')}`;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let a: ServerProcess;
  let b: ServerProcess;
  let peer: FakeServer;
  let client: MongoClient;
  let startB: () => Promise<void>;

  beforeAll(async () => {
    redis = await startRedis();
    peer = await new FakeServer().start();
    // Slow answers, one at a time per process, so that the first process still holds deliveries when it dies.
    peer.delayMs = 3000;
    const portA = await freePort();
    // One node behind one address: both processes are http://127.0.0.1:<portA> to people and peers.
    const env = {
      REDIS_URL: redis.url,
      PUBLIC_URL: `http://127.0.0.1:${portA}`,
      JOBS_LEASE_MS: '2000',
      FEDERATION_DELIVERY_LEASE_MS: '2000',
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_DELIVERY_PER_HOST: '1',
    };
    a = await startServerProcess(dbName, env, portA);
    startB = async () => {
      b = await startServerProcess(dbName, env);
    };
    client = new MongoClient(testServerUri());
  });
  afterAll(async () => {
    await Promise.all([a, b].map((p) => p?.stop()));
    await redis.stop();
    await peer.close();
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('keeps every answered write, leaves no half-written one, and resumes deliveries and jobs elsewhere', async () => {
    const browser = new Browser();
    await signIn(browser, a.url, 'dev', 'alice');
    const onA = new ApiClient(browser, a.url);
    expect(
      (
        await onA.call('POST', '/groups', {
          handle: 'crash',
          name: 'Crash',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    const threadId = (await onA.call('POST', '/groups/crash/threads', { title: 'Load', body: 'x' })).body.id;

    // Activities to a slow peer, from the node's instance actor, claimed by the first process alone (the
    // second starts after): whatever it has not sent when it dies, only the survivor can send. Enough that
    // the first cannot send them all (3 s each, one at a time) before it is killed, however long the second
    // takes to start and the load to build up on a busy machine (eight were all sent once, in CI).
    const db = client.db(dbName);
    const queue = new DeliveryQueue(db);
    const actor = `${a.url}/ap/a/instance`;
    const activities = Array.from({ length: 40 }, (_, i) => `${a.url}/ap/s/crash-${i}`);
    for (const id of activities)
      await queue.enqueue(actor, JSON.stringify({ id, type: 'Announce', actor, object: actor }), [
        `${peer.url}/inbox`,
      ]);
    await waitUntil(() => peer.inFlight > 0, 10_000, 'the first delivery');
    await startB();
    // The same session on the other process (sessions are in the database).
    for (const [k, v] of browser.cookies(a.url)) browser.cookies(b.url).set(k, v);
    const onB = new ApiClient(browser, b.url);

    const outcomes: Outcome[] = [];
    let aliveA = true;
    let running = true;
    let n = 0;
    const workers = Array.from({ length: 6 }, async (_, i) => {
      while (running) {
        const via = aliveA && i % 2 === 0 ? 'a' : 'b';
        const body = `w${i}-${++n}`;
        try {
          const res = await (via === 'a' ? onA : onB).call('POST', `/threads/${threadId}/replies`, { body });
          outcomes.push({ via, body, status: res.status });
        } catch {
          outcomes.push({ via, body, status: 'network-error' });
        }
      }
    });
    await waitUntil(
      () => outcomes.filter((o) => o.via === 'a' && o.status === 201).length >= 10,
      20_000,
      'load on both processes',
    );
    const exited = new Promise((r) => a.child.once('exit', r));
    a.child.kill('SIGKILL');
    aliveA = false;
    await exited;
    // The peer answers at once from now on: what is left is the survivor's to send.
    peer.delayMs = 0;
    const receivedIds = () => new Set(peer.received.map((r) => (JSON.parse(r.body) as { id: string }).id));
    // Deliveries the dead process had not finished, and jobs held under a lease at that moment.
    const leftByA = activities.filter((id) => !receivedIds().has(id));
    expect(leftByA.length).toBeGreaterThan(0);
    const leasedJobs = (
      await db
        .collection('jobs')
        .find({ leaseUntil: { $gt: new Date() } })
        .toArray()
    ).map((j) => j._id);
    const afterKill = outcomes.length;
    await waitUntil(() => outcomes.length >= afterKill + 30, 20_000, 'the survivor to keep serving');
    running = false;
    await Promise.all(workers);

    // The survivor answered everything it was asked: no 5xx, no dropped connection.
    expect(outcomes.filter((o) => o.via === 'b' && o.status !== 201)).toEqual([]);
    // The dead process answered 201 or nothing.
    expect(outcomes.filter((o) => o.via === 'a' && o.status !== 201 && o.status !== 'network-error')).toEqual(
      [],
    );

    // Every reply answered 201 is there once; one cut short is there whole, or not at all.
    const listReplies = async () => {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await onB.call(
          'GET',
          `/threads/${threadId}/replies?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.status).toBe(200);
        listed.push(
          ...page.body.items.map((r: { body: { html: string } }) => r.body.html.replace(/<[^>]+>|\n/g, '')),
        );
        cursor = page.body.nextCursor ?? undefined;
      } while (cursor);
      return listed;
    };
    const listed = await listReplies();
    const answered = outcomes.filter((o) => o.status === 201).map((o) => o.body);
    expect(answered.filter((b) => !listed.includes(b))).toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
    const sent = new Set(outcomes.map((o) => o.body));
    expect(listed.filter((b) => !sent.has(b))).toEqual([]);
    expect(await db.collection('replies').countDocuments({})).toBe(listed.length);
    // The thread's reply count, settled by that read, is the number of replies there.
    const replyCount = async () => (await onB.call('GET', `/threads/${threadId}`)).body.replyCount as number;
    await waitUntil(async () => (await replyCount()) === listed.length, 5000, 'the reply count').catch(
      () => undefined,
    );
    expect(await replyCount()).toBe(listed.length);

    // Deliveries the dead process held are sent by the survivor once their lease runs out: each activity
    // reaches the peer (at least once), none is left queued or failed.
    await waitUntil(
      () => leftByA.every((id) => receivedIds().has(id)),
      30_000,
      'the survivor to send what the dead process held',
    );
    await waitUntil(
      async () => (await db.collection('fed_deliveries').countDocuments({})) === 0,
      10_000,
      'the delivery queue to empty',
    );
    // Jobs (the notifications of every reply) the dead process had claimed are run by the survivor.
    await waitUntil(
      async () => (await db.collection('jobs').countDocuments({ _id: { $in: leasedJobs } })) === 0,
      30_000,
      'the jobs held at the crash to be done',
    );
    await waitUntil(
      async () => (await db.collection('jobs').countDocuments({})) === 0,
      30_000,
      'every job to be done',
    );
  });
});
