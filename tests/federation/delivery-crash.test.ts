import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient } from 'mongodb';
import { freePort } from '../../server/core/net.js';
import { collections, ensureCollections } from '../../server/db/collections.js';
import { DeliveryQueue } from '../../server/federation/delivery.queue.js';
import { testServerUri } from '../helpers/db.js';
import { waitUntil, createPublicGroup } from '../helpers/fediverse.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const COUNT = 1000;

/** Forwards requests to `target` and counts the inbox POSTs answered 2xx, and those open now. */
async function countingProxy(target: string) {
  const stats = { answered: 0, open: 0, ids: [] as string[] };
  const server = http.createServer((req, res) => {
    stats.open++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request(
        `${target}${req.url}`,
        { method: req.method, headers: req.headers },
        (up) => {
          const ok = (up.statusCode ?? 0) < 300;
          if (ok && req.method === 'POST') {
            stats.answered++;
            stats.ids.push((JSON.parse(body.toString()) as { id: string }).id);
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
    res.on('close', () => stats.open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    stats,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('delivery survives kill -9', () => {
  let receiver: World;
  let sender: ServerProcess | undefined;
  let client: MongoClient;

  beforeAll(async () => {
    receiver = await startWorld(['bea'], {
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_INBOX_RATE_LIMIT: '100000',
    });
    await createPublicGroup(receiver.as.bea!, 'intake');
    client = await MongoClient.connect(testServerUri());
  });
  afterAll(async () => {
    await sender?.stop();
    await receiver.close();
    await client.close();
  });

  it(`${COUNT} deliveries queued and in flight: after kill -9 and a restart each arrives, and is recorded once`, async () => {
    const dbName = `crash_${randomBytes(4).toString('hex')}`;
    const db = client.db(dbName);
    const port = await freePort();
    const senderUrl = `http://127.0.0.1:${port}`;
    const proxy = await countingProxy(receiver.node.url);
    const env = {
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_DELIVERY_LEASE_MS: '3000',
      FEDERATION_RETRY_BASE_MS: '500',
      FEDERATION_DELIVERY_PER_HOST: '8',
    };
    try {
      // The sender's queue is filled before it starts: it cannot have sent them all before it is killed,
      // however slowly the queue fills on a busy machine (it once had, in a loaded run).
      await ensureCollections(db);
      const group = `${receiver.node.url}/ap/a/g.intake`;
      const actor = `${senderUrl}/ap/a/instance`;
      const queue = new DeliveryQueue(db);
      const ids: string[] = [];
      for (let i = 0; i < COUNT; i++) {
        const id = `${senderUrl}/ap/s/crash-${i}`;
        ids.push(id);
        // An Announce by an actor that is no group: recorded in the group's inbox, nothing else done (what is
        // under test is the delivery, not what the receiver makes of it).
        const body = {
          '@context': AS,
          id,
          type: 'Announce',
          actor,
          to: [group],
          audience: group,
          object: `${senderUrl}/notes/${i}`,
        };
        await queue.enqueue(actor, JSON.stringify(body), [`${proxy.url}/ap/inbox`]);
      }
      sender = await startServerProcess(dbName, env, port);
      // Kill it mid-stream, with deliveries in flight.
      await waitUntil(
        () => proxy.stats.answered >= COUNT / 5 && proxy.stats.open > 0,
        60_000,
        'deliveries in flight',
      );
      sender.child.kill('SIGKILL');
      await new Promise((r) => sender!.child.once('exit', r));
      const beforeRestart = proxy.stats.answered;
      expect(beforeRestart).toBeLessThan(COUNT);
      expect(await db.collection(collections.fedDeliveries).countDocuments()).toBeGreaterThan(0);

      sender = await startServerProcess(dbName, env, port);
      await waitUntil(
        async () => (await db.collection(collections.fedDeliveries).countDocuments()) === 0,
        90_000,
        'an empty queue',
      );

      // Every activity arrived at least once...
      expect(new Set(proxy.stats.ids)).toEqual(new Set(ids));
      expect(proxy.stats.answered).toBeGreaterThanOrEqual(COUNT);
      // ...and the receiver recorded each exactly once, in the group's inbox.
      const stored = await receiver.node.database.db
        .collection(collections.apStreams)
        .find({ _id: { $in: ids as never[] } }, { projection: { _id: 1, '_meta.collection': 1 } })
        .toArray();
      expect(stored).toHaveLength(COUNT);
      expect(stored.every((s) => JSON.stringify(s._meta).includes(`${group}/inbox`))).toBe(true);
    } finally {
      proxy.close();
    }
  }, 180_000);
});
