import { jest } from '@jest/globals';
import { parseSignature, verifyRequest } from '../../server/federation/http-signature.js';
import { DeliveryQueue } from '../../server/federation/delivery.queue.js';
import { DeliveryWorker, defaultDeliveryOptions } from '../../server/federation/delivery.worker.js';
import type { Federation } from '../../server/federation/federation.module.js';
import pino from 'pino';
import { collectionSize, createPublicGroup, FakeServer, waitUntil } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const env = { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8', FEDERATION_RETRY_BASE_MS: '200' };

describe('delivery: the persistent queue and its workers', () => {
  let a: World;
  let b: World;
  let fedA: Federation;
  let seq = 0;

  /** Queue `count` activities from A's instance actor to these inboxes (behind another activity, if told). */
  const queue = async (inboxes: string[], count = 1, behind?: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${a.node.url}/ap/s/test-${++seq}`;
      ids.push(id);
      const actor = fedA.directory.instanceIri;
      await fedA.deliveries.enqueue(
        actor,
        JSON.stringify({
          '@context': AS,
          id,
          type: 'Create',
          actor,
          object: { id: `${id}/note`, type: 'Note', attributedTo: actor, content: `n${seq}` },
        }),
        inboxes,
        { behind },
      );
    }
    return ids;
  };
  const idsIn = (server: FakeServer) => server.received.map((r) => (JSON.parse(r.body) as { id: string }).id);

  beforeAll(async () => {
    a = await startWorld(['alice'], env);
    b = await startWorld(['bea'], env);
    fedA = a.node.node.federation!;
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('two real nodes: a person on B follows an open group on A, A accepts, both sides record it', async () => {
    await createPublicGroup(a.as.alice!, 'policy-lab');
    const fedB = b.node.node.federation!;
    const group = `${a.node.url}/ap/a/g.policy-lab`;
    const bea = fedB.directory.personIri('bea');
    await fedB.publish(bea, 'Follow', [group], { object: group });
    await waitUntil(async () => (await collectionSize(`${group}/followers`)) === 1, 20_000);
    await waitUntil(async () => (await collectionSize(`${bea}/following`)) === 1, 20_000);
    // The group's outbox lists its public activities only (the Accept went to bea alone), without apex's
    // private fields.
    const outbox = await (
      await fetch(`${group}/outbox?page=true`, { headers: { accept: 'application/activity+json' } })
    ).text();
    expect(JSON.parse(outbox)).toMatchObject({ type: 'OrderedCollectionPage', orderedItems: [] });
    expect(outbox).not.toMatch(/"_id"|"_meta"/);
    const own = await (
      await fetch(`${bea}/outbox?page=true`, { headers: { accept: 'application/activity+json' } })
    ).text();
    expect(own).not.toMatch(/"_id"|"_meta"|PRIVATE KEY/);
    // Nothing left in either queue.
    await waitUntil(
      async () => (await fedA.worker.metrics()).queued + (await fedB.worker.metrics()).queued === 0,
    );
  });

  it('signs each delivery with its actor’s key at send time (the receiver verifies it)', async () => {
    const peer = await new FakeServer().start();
    try {
      // The same inbox listed three times (a shared inbox reached through several followers) is sent once.
      const [id] = await queue([`${peer.url}/inbox`, `${peer.url}/inbox`, `${peer.url}/inbox`]);
      await fedA.worker.drain();
      expect(idsIn(peer).filter((i) => i === id)).toHaveLength(1);
      const post = peer.received.find((r) => (JSON.parse(r.body) as { id: string }).id === id)!;
      const signature = parseSignature(post.headers.signature as string);
      const actor = (await (
        await fetch(fedA.directory.instanceIri, { headers: { accept: 'application/activity+json' } })
      ).json()) as { publicKey: { id: string; publicKeyPem: string } };
      expect(signature.keyId).toBe(actor.publicKey.id);
      expect(() =>
        verifyRequest(
          { method: 'POST', path: post.path, headers: post.headers },
          signature,
          actor.publicKey.publicKeyPem,
          { maxSkewMs: 60_000, body: Buffer.from(post.body) },
        ),
      ).not.toThrow();
      // The queue holds no key: neither the activity nor the delivery carries one.
      const stored = JSON.stringify(await a.node.database.db.collection('fed_activities').find({}).toArray());
      expect(stored).not.toMatch(/PRIVATE KEY/);
    } finally {
      await peer.close();
    }
  });

  it('does not retry permanent refusals (4xx, 501) but retries 401, 429 and 5xx', async () => {
    const peer = await new FakeServer().start();
    try {
      let calls = 0;
      const answers = [429, 503, 401];
      peer.status = (req) =>
        req.url === '/gone' ? 410 : req.url === '/none' ? 501 : (answers[calls++] ?? 202);
      const [gone] = await queue([`${peer.url}/gone`]);
      const [none] = await queue([`${peer.url}/none`]);
      const [retried] = await queue([`${peer.url}/inbox`]);
      // A receiver that could not fetch the node's key for now (401) takes the activity when retried.
      await waitUntil(async () => idsIn(peer).filter((i) => i === retried).length === 4, 15_000);
      await fedA.worker.drain();
      expect(idsIn(peer).filter((i) => i === gone)).toHaveLength(1);
      expect(idsIn(peer).filter((i) => i === none)).toHaveLength(1);
      const deliveries = a.node.database.db.collection('fed_deliveries');
      expect(await deliveries.findOne({ activityId: gone })).toMatchObject({
        state: 'failed',
        lastStatus: 410,
        attempts: 1,
      });
      expect(await deliveries.findOne({ activityId: none })).toMatchObject({
        state: 'failed',
        lastStatus: 501,
        attempts: 1,
      });
      expect(
        await a.node.database.db.collection('fed_deliveries').findOne({ activityId: retried }),
      ).toBeNull();
    } finally {
      await peer.close();
    }
  });

  it.each([
    ['refuses the signature (401)', 401, {}],
    ['answers 503 with Retry-After (waiting for a third server)', 503, { 'retry-after': '30' }],
  ] as const)(
    'a receiver that %s is tried again, and its circuit stays closed: it answered',
    async (_what, status, headers) => {
      const peer = await new FakeServer().start();
      try {
        let refusing = true;
        peer.status = () => (refusing ? status : 202);
        peer.statusHeaders = (): Record<string, string> => (refusing ? headers : {});
        const ids = await queue([`${peer.url}/inbox`], 8);
        await waitUntil(
          () => idsIn(peer).filter((i) => ids.includes(i)).length >= 16,
          15_000,
          'each delivery tried twice',
        );
        expect((await fedA.worker.metrics()).hosts.find((h) => h.host === peer.host)).toBeUndefined();
        refusing = false;
        await waitUntil(async () => (await fedA.worker.metrics()).queued === 0, 15_000, 'the queue emptied');
      } finally {
        await peer.close();
      }
    },
  );

  it('activities waiting behind one a slow receiver holds take no room: other activities go out meanwhile', async () => {
    const slow = await new FakeServer().start();
    const fast = await new FakeServer().start();
    try {
      slow.delayMs = 2000;
      const [ahead] = await queue([`${slow.url}/inbox`]);
      // More than the worker holds at once (its default room is 13 batches), all waiting behind it.
      const waiting = await queue([`${slow.url}/inbox`], 20, ahead);
      const [other] = await queue([`${fast.url}/inbox`]);
      await waitUntil(() => idsIn(fast).includes(other!), 15_000, 'the other activity');
      // It went out while the slow receiver still held the first one: nothing behind it had arrived.
      expect(idsIn(slow).filter((i) => waiting.includes(i))).toEqual([]);
      expect(idsIn(slow)).not.toContain(ahead);
      // And once the first is answered, those behind it follow.
      await waitUntil(
        () => waiting.every((id) => idsIn(slow).includes(id)),
        30_000,
        'the activities behind the first',
      );
    } finally {
      await slow.close();
      await fast.close();
    }
  });

  it('an inbox that redirects is not "delivered" by a bodiless GET: the POST is retried', async () => {
    const peer = await new FakeServer().start();
    try {
      let posts = 0;
      // The first POST is answered 302 (to a GET-only page); the retry is taken.
      peer.status = () => (++posts === 1 ? 302 : 202);
      peer.statusHeaders = (): Record<string, string> => (posts === 1 ? { location: '/new/inbox' } : {});
      const [id] = await queue([`${peer.url}/old/inbox`]);
      const deliveries = a.node.database.db.collection('fed_deliveries');
      await waitUntil(
        async () => posts >= 2 && !(await deliveries.findOne({ activityId: id })),
        10_000,
        'the retried delivery',
      );
      expect(peer.gets).not.toContain('/new/inbox');
      expect(peer.received.map((r) => r.path)).toEqual(['/old/inbox', '/old/inbox']);
    } finally {
      await peer.close();
    }
  });

  it('a receiver down then back: its circuit opens (no hammering), then everything arrives', async () => {
    const peer = await new FakeServer().start();
    try {
      let down = true;
      peer.status = () => (down ? 503 : 202);
      const ids = await queue([`${peer.url}/inbox`], 20);
      await waitUntil(
        async () =>
          (await fedA.worker.metrics()).hosts.some((h) => h.host === peer.host && h.state === 'open'),
        10_000,
        'an open circuit',
      );
      await new Promise((r) => setTimeout(r, 2500));
      const whileDown = peer.received.length;
      // Twenty deliveries, each retried with backoff, would be far more requests without the circuit breaker.
      expect(whileDown).toBeLessThan(20);
      down = false;
      await waitUntil(async () => new Set(idsIn(peer).filter((i) => ids.includes(i))).size === 20, 30_000);
      await waitUntil(async () => (await fedA.worker.metrics()).queued === 0);
      // Administrators read the same metrics over the API; others may not.
      await a.node.database.db
        .collection('users')
        .updateOne({ handle: 'alice' }, { $set: { isAdmin: true } });
      const metrics = await a.as.alice!.call('GET', '/admin/federation/deliveries');
      expect(metrics.status).toBe(200);
      expect(metrics.body.hosts.find((h: { host: string }) => h.host === peer.host)).toBeUndefined();
      expect(metrics.body).toMatchObject({ queued: 0, inFlight: 0 });
      expect(metrics.body.delivered).toBeGreaterThanOrEqual(20);
      expect((await a.anonymous.call('GET', '/admin/federation/deliveries')).status).toBe(401);
    } finally {
      await peer.close();
    }
  });

  it('gives a delivery up once the whole retry schedule has passed, even one waiting on a circuit', async () => {
    const peer = await new FakeServer().start();
    try {
      peer.status = () => 503;
      // Queued while the worker is stopped, as if three weeks ago.
      await fedA.worker.stop();
      const [id] = await queue([`${peer.url}/inbox`]);
      await a.node.database.db
        .collection('fed_deliveries')
        .updateMany({ activityId: id }, { $set: { queuedAt: new Date(Date.now() - 21 * 86_400_000) } });
      fedA.worker.start();
      const deliveries = a.node.database.db.collection('fed_deliveries');
      await waitUntil(
        async () => (await deliveries.findOne({ activityId: id }))?.state === 'failed',
        10_000,
        'the delivery given up',
      );
      expect(await deliveries.findOne({ activityId: id })).toMatchObject({
        lastError: 'given up after the retry schedule',
      });
      expect(await deliveries.countDocuments({ activityId: id })).toBe(1);
    } finally {
      await peer.close();
    }
  });

  it('sends what its own process queues at once: no poll, no query for due batches, no read of the body, no claim', async () => {
    const peer = await new FakeServer().start();
    // A worker that polls once an hour: only being told of the new batch can send it now.
    const worker = new DeliveryWorker(
      fedA.deliveries,
      fedA.keys,
      { allowedCidrs: ['127.0.0.0/8'], timeoutMs: 5000, maxBytes: 1 << 20, maxRedirects: 0 },
      fedA.policy,
      {
        ...defaultDeliveryOptions,
        pollMs: 3_600_000,
        concurrency: 8,
        perHost: 4,
        retryBaseMs: 200,
        maxAttempts: 3,
        leaseMs: 60_000,
      },
      pino({ level: 'silent' }),
      'test',
    );
    await fedA.worker.stop();
    const due = jest.spyOn(fedA.deliveries, 'due');
    const body = jest.spyOn(fedA.deliveries, 'body');
    const claim = jest.spyOn(fedA.deliveries, 'claim');
    try {
      worker.start();
      await worker.drain();
      due.mockClear();
      body.mockClear();
      claim.mockClear();
      // What the worker had asked the queue when the delivery arrived: the batch was written leased to it.
      const asked: number[] = [];
      peer.status = () => {
        asked.push(due.mock.calls.length + body.mock.calls.length + claim.mock.calls.length);
        return 202;
      };
      const [id] = await queue([`${peer.url}/inbox`]);
      await waitUntil(async () => idsIn(peer).includes(id!), 10_000, 'the delivery');
      expect(asked).toEqual([0]);
      // Settled as any batch (nothing left pending).
      await waitUntil(
        async () => (await fedA.deliveries.deliveries.countDocuments({ activityId: id })) === 0,
        10_000,
        'the batch settled',
      );
    } finally {
      due.mockRestore();
      body.mockRestore();
      claim.mockRestore();
      await worker.stop();
      fedA.worker.start();
      await peer.close();
    }
  });

  it('a batch written leased to a worker that dies before sending it goes out once its lease has run out, once', async () => {
    const peer = await new FakeServer().start();
    try {
      // Another process's queue, whose worker took the batch as it was queued and died before sending it.
      const dying = new DeliveryQueue(a.node.database.db);
      dying.onEnqueue({
        reserve: (count) => ({ count, leaseMs: 1500 }),
        release: () => undefined,
        take: () => undefined,
        isSending: () => false,
      });
      const id = `${a.node.url}/ap/s/test-${++seq}`;
      const actor = fedA.directory.instanceIri;
      let arrivedAt = 0;
      peer.status = () => {
        arrivedAt ||= Date.now();
        return 202;
      };
      const queuedAt = Date.now();
      await dying.enqueue(
        actor,
        JSON.stringify({ '@context': AS, id, type: 'Create', actor, object: `${id}/note` }),
        [`${peer.url}/inbox`],
      );
      const [batch] = await fedA.deliveries.deliveries.find({ activityId: id }).toArray();
      expect(batch).toMatchObject({ claims: 1, state: 'pending' });
      // This node's worker polls meanwhile, and leaves it to its holder until the lease runs out.
      await waitUntil(async () => idsIn(peer).includes(id), 15_000, 'the delivery');
      expect(arrivedAt - queuedAt).toBeGreaterThanOrEqual(1500);
      await waitUntil(
        async () => (await fedA.deliveries.deliveries.countDocuments({ activityId: id })) === 0,
        10_000,
        'the batch settled',
      );
      expect(idsIn(peer).filter((i) => i === id)).toHaveLength(1);
    } finally {
      await peer.close();
    }
  });

  it('several workers share the queue: each delivery is sent exactly once, several at a time per host, within the per-host limits', async () => {
    const peers = await Promise.all([1, 2, 3, 4].map(() => new FakeServer().start()));
    for (const p of peers) p.delayMs = 30;
    const second = new DeliveryWorker(
      fedA.deliveries,
      fedA.keys,
      { allowedCidrs: ['127.0.0.0/8'], timeoutMs: 5000, maxBytes: 1 << 20, maxRedirects: 0 },
      fedA.policy,
      {
        ...defaultDeliveryOptions,
        concurrency: 8,
        perHost: 2,
        retryBaseMs: 200,
        maxAttempts: 3,
        leaseMs: 60_000,
      },
      pino({ level: 'silent' }),
      'test',
    );
    second.start();
    try {
      const ids = await queue(
        peers.map((p) => `${p.url}/inbox`),
        50,
      );
      await waitUntil(async () => (await fedA.worker.metrics()).queued === 0, 30_000, 'an empty queue');
      await Promise.all([fedA.worker.drain(), second.drain()]);
      for (const p of peers) {
        const got = idsIn(p).filter((i) => ids.includes(i));
        expect(got).toHaveLength(50);
        expect(new Set(got).size).toBe(50);
        // Several at once to each host, never more than the two workers' per-host limits (4 + 2).
        expect(p.maxInFlight).toBeGreaterThan(1);
        expect(p.maxInFlight).toBeLessThanOrEqual(6);
      }
      expect((await fedA.worker.metrics()).queued).toBe(0);
    } finally {
      await second.stop();
      await Promise.all(peers.map((p) => p.close()));
    }
  });

  it('workers of two processes failing against one host count every failure once (the circuit sees them all)', async () => {
    const peer = await new FakeServer().start();
    peer.status = () => 503;
    peer.delayMs = 5;
    // Two processes' workers, each with its own view of the host: no retries, and a circuit that would
    // open only far away, so that every failure is sent and counted.
    const worker = () =>
      new DeliveryWorker(
        fedA.deliveries,
        fedA.keys,
        { allowedCidrs: ['127.0.0.0/8'], timeoutMs: 5000, maxBytes: 1 << 20, maxRedirects: 0 },
        fedA.policy,
        {
          ...defaultDeliveryOptions,
          circuitThreshold: 1000,
          concurrency: 8,
          perHost: 4,
          retryBaseMs: 200,
          maxAttempts: 1,
          leaseMs: 60_000,
        },
        pino({ level: 'silent' }),
        'test',
      );
    await fedA.worker.stop();
    const [one, two] = [worker(), worker()];
    try {
      await queue([`${peer.url}/inbox`], 40);
      one.start();
      two.start();
      await Promise.all([one.drain(), two.drain()]);
      expect(peer.received).toHaveLength(40);
      const host = await a.node.database.db.collection('fed_hosts').findOne({ _id: peer.host as never });
      expect(host?.consecutiveFailures).toBe(40);
      // The first success, from either, closes it for both.
      peer.status = () => 202;
      await queue([`${peer.url}/inbox`]);
      await one.drain();
      await two.drain();
      expect(
        (await a.node.database.db.collection('fed_hosts').findOne({ _id: peer.host as never }))
          ?.consecutiveFailures,
      ).toBe(0);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
      await a.node.database.db.collection('fed_deliveries').deleteMany({ state: 'failed' });
      fedA.worker.start();
      await peer.close();
    }
  });
});
