import net from 'node:net';
import { MongoClient, MongoNetworkError } from 'mongodb';
import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * A command sent on a connection whose database end has just gone away: the socket has seen its peer's end
 * (and been ended or destroyed) but its 'close' event, which cleans the driver's connection up, has not run
 * yet. The driver (mongodb 7.9) wrote the command anyway; a socket in that state takes no write and never
 * drains, so the command waited for its answer forever. Seen as a request of
 * tests/faults/database-restart.test.ts open for 30 s (the database killed under load). The project patches
 * the driver (patches/mongodb+7.9.0.patch, docs/adr/0046-no-command-on-a-closed-socket.md): such a command
 * fails at once as a network error, which the driver retries on a new connection or reports.
 *
 * The database is a real FerretDB, reached through a loopback relay that cuts the driver's connection as a
 * killed server process does. The moment is chosen on the driver's socket (its internals: no public event
 * comes between the peer's end and the clean-up).
 */
const bin = ferretdbBinary('patched');
(bin ? describe : describe.skip)('a command on a connection whose database end is gone', () => {
  let f: PrivateFerretDB;
  beforeAll(async () => {
    f = await startPrivateFerretDB(bin!);
    await f.client.db('gone').collection('notes').insertOne({ text: 'kept' });
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });

  /** A client whose one connection goes through a relay; `cut` ends the relay's side of every connection. */
  async function relayed() {
    const upstream = new URL(f.server.uri);
    const sides: net.Socket[] = [];
    const relay = net.createServer((near) => {
      sides.push(near);
      const far = net.connect(Number(upstream.port), upstream.hostname);
      near.pipe(far);
      far.pipe(near);
      for (const s of [near, far]) s.on('error', () => undefined);
      near.on('close', () => far.destroy());
      far.on('close', () => near.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
    const { port } = relay.address() as net.AddressInfo;
    const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
      maxPoolSize: 1,
      serverSelectionTimeoutMS: 2000,
      heartbeatFrequencyMS: 60_000,
    });
    await client.connect();
    const notes = client.db('gone').collection('notes');
    expect(await notes.findOne({}, { projection: { _id: 0 } })).toEqual({ text: 'kept' });
    type Pooled = { socket: net.Socket };
    const servers = (client as unknown as { topology: { s: { servers: Map<string, unknown> } } }).topology.s
      .servers;
    const [server] = [...servers.values()] as { pool: { connections: Iterable<Pooled> } }[];
    const [connection] = [...server!.pool.connections];
    return {
      notes,
      socket: connection!.socket,
      cut: () => {
        for (const s of sides) s.destroy();
      },
      close: async () => {
        await client.close(true).catch(() => undefined);
        relay.close();
      },
    };
  }

  /** What a read sent at `moment` of the connection's end answers, or 'no answer' within 10 s. */
  async function readAt(moment: 'after its end' | 'as it finishes') {
    const r = await relayed();
    try {
      const answer = new Promise<string>((resolve) => {
        const read = () =>
          r.notes.findOne({}, { projection: { _id: 0 } }).then(
            (doc) => resolve(JSON.stringify(doc)),
            (err: unknown) => resolve(err instanceof MongoNetworkError ? 'network error' : String(err)),
          );
        if (moment === 'after its end') r.socket.once('end', () => setImmediate(read));
        else r.socket.once('finish', read);
        setTimeout(() => resolve('no answer'), 10_000).unref();
      });
      r.cut();
      return await answer;
    } finally {
      // A client with a command that never ends does not close either: not waited for beyond a moment.
      await Promise.race([r.close(), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    }
  }

  it.each(['after its end', 'as it finishes'] as const)(
    'answers a read sent %s (the document again, through a new connection)',
    async (moment) => {
      expect(await readAt(moment)).toBe('{"text":"kept"}');
    },
    30_000,
  );
});
