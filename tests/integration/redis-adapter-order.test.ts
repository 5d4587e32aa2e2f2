import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { Server, type Socket } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { orderedAdapter } from '../../server/realtime/redis.adapter.js';
import { startRedis } from '../helpers/redis.js';

/**
 * Two Socket.IO servers on a real redis-server, as two processes of a node are. A process sends its peers an
 * invalidation, then a room event of the same change; the other must hear them in that order, or a client
 * re-reading a page on the event could get the page from before it (docs/adr/0027-page-cache.md).
 */
describe('messages between processes through Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** How many room events process B sent its socket before the invalidation sent ahead of them. */
  async function inversions(adapter: typeof orderedAdapter, rounds: number): Promise<number> {
    const clients: ReturnType<typeof createClient>[] = [];
    const servers: Server[] = [];
    const start = async () => {
      const client: ReturnType<typeof createClient> = createClient({ url: redis.url });
      client.on('error', () => undefined); // the adapter's reading connections go when the servers close
      await client.connect();
      clients.push(client);
      const httpServer = http.createServer();
      const io = new Server(httpServer);
      io.adapter(adapter(client));
      await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
      servers.push(io);
      return { io, port: (httpServer.address() as AddressInfo).port };
    };
    const a = await start();
    const b = await start();
    const heard = new Set<number>();
    let early = 0;
    let delivered = 0;
    b.io.on('invalidate' as never, ((n: number) => heard.add(n)) as never);
    const joined = new Promise<Socket>((resolve) =>
      b.io.on('connection', (socket) => {
        void socket.join('room');
        // Every room event this process sends its socket: was its invalidation heard first?
        socket.onAnyOutgoing((_event, n: number) => {
          if (!heard.has(n)) early++;
          delivered++;
        });
        resolve(socket);
      }),
    );
    const client = connect(`http://127.0.0.1:${b.port}`, { transports: ['websocket'] });
    await joined;
    // The adapters have found each other (heartbeats) once a test message crosses.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => a.io.serverSideEmit('ping' as never), 50);
      b.io.on('ping' as never, (() => (clearInterval(timer), resolve())) as never);
    });
    for (let n = 0; n < rounds; n++) {
      a.io.serverSideEmit('invalidate' as never, n as never);
      a.io.to('room').emit('changed' as never, n as never);
      if (n % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 20_000;
    while (delivered < rounds && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(delivered).toBe(rounds);
    client.close();
    for (const io of servers) await new Promise((r) => io.close(r));
    for (const c of clients) await c.quit().catch(() => undefined);
    return early;
  }

  // With the adapter alone (`createAdapter(client)` in place of orderedAdapter) 446 of 2,000 room events came
  // first (2026-12-07): its peer messages take pub/sub, room events the stream.
  it('hears an invalidation before the room event sent after it, every time', async () => {
    expect(await inversions(orderedAdapter, 2000)).toBe(0);
  }, 60_000);
});
