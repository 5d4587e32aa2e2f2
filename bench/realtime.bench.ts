// One reply fanned out to 2,000 sockets in a group room (POST, sent from the socket clients' process, to
// the last receipt) against a raw
// socket.io broadcast of the same payload to the same sockets, in the same run; and notification fan-out
// to a 10,000-member group (the poster's request time, and the time to the last notification written).
// Run: npm run bench:realtime   (BENCH_SOCKETS, BENCH_MEMBERS scale it)
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { ObjectId } from 'mongodb';
import { projectRoot } from '../server/core/paths.js';
import { insertFollowers } from '../tests/helpers/crowd.js';
import { startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 2000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);
const now = () => performance.timeOrigin + performance.now();
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

const { uri, database, close: closeDatabase } = await startBenchDatabase('realtime');
const { db } = database;
const { ensemble, client, idp, browser } = await startSignedInNode(uri, database);
await client.call('POST', '/groups', {
  handle: 'room',
  name: 'Room',
  visibility: 'public',
  joinPolicy: 'open',
});
const thread = (await client.call('POST', '/groups/room/threads', { title: 'Live', body: 'x' })).body as {
  id: string;
};

// The sockets live in another process, so receiving does not share the server's event loop.
const clients = fork(path.join(projectRoot, 'bench', 'socket-clients.ts'), {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_URL: ensemble.url, BENCH_SOCKETS: String(SOCKETS), BENCH_GROUP: 'room' },
});
const messages: { type: string; key?: string; last?: number; sent?: number; status?: number }[] = [];
let wake: (() => void) | undefined;
clients.on('message', (m: { type: string }) => {
  messages.push(m);
  wake?.();
});
const next = async (type: string, key?: string) => {
  for (;;) {
    const i = messages.findIndex((m) => m.type === type && (key === undefined || m.key === key));
    if (i >= 0) return messages.splice(i, 1)[0]!;
    await new Promise<void>((r) => (wake = r));
  }
};
await next('ready');
// The signed-in person's cookie and CSRF token, for the replies the client process posts.
const post = {
  headers: {
    accept: 'application/json',
    'content-type': 'application/json',
    'x-csrf-token': await client.token(),
    cookie: [...browser.cookies(new URL(ensemble.url).origin)].map(([k, v]) => `${k}=${v}`).join('; '),
  },
};

const io = ensemble.node.realtime.io!;
const group = await db.collection('groups').findOne({ handle: 'room' });
// When the node's bridge hands the API's reply to Socket.IO (just before `io.to(rooms).emit`): the start
// of the fan-out part of the API path, measured the same way as the raw broadcast.
let emittedAt = 0;
const originalTo = io.to.bind(io);
io.to = ((room: string | string[]) => {
  emittedAt = now();
  return originalTo(room);
}) as typeof io.to;
const fanout: number[] = [];
// From the POST leaving the client to the bridge's broadcast call: the API's own part (HTTP, checks, writes).
const toBroadcast: number[] = [];
// How long the raw `emit` call itself holds the node's event loop: writing one frame to each socket.
const insideEmit: number[] = [];
// The floor under any Socket.IO broadcast: the same WebSocket frame written straight to each socket's TCP
// connection, with no Socket.IO or Engine.IO code in the loop (one write system call per socket).
const roomName = `group:${group!._id.toHexString()}`;
function bareWrite(seq: number) {
  const payload = {
    v: 1,
    at: new Date().toISOString(),
    groupId: group!._id.toHexString(),
    threadId: 'bare',
    seq,
  };
  const data = Buffer.from(`42${JSON.stringify(['bench.bare', payload])}`);
  // An unmasked, final text frame (RFC 6455 §5.2); the payload is well under 64 KiB.
  const header =
    data.length < 126
      ? Buffer.from([0x81, data.length])
      : Buffer.from([0x81, 126, data.length >> 8, data.length & 0xff]);
  const frame = Buffer.concat([header, data]);
  for (const id of io.of('/').adapter.rooms.get(roomName) ?? []) {
    const conn = io.of('/').sockets.get(id)?.conn as unknown as {
      transport: { socket: { _socket: Socket } };
    };
    conn.transport.socket._socket.write(frame);
  }
}
const insideBare: number[] = [];
async function round(kind: 'api' | 'raw' | 'bare', seq: number) {
  const threadId = kind === 'api' ? thread.id : kind;
  const key = `${threadId}:${seq}`;
  clients.send({ type: 'expect', key });
  await new Promise((r) => setTimeout(r, 20));
  let start = now();
  if (kind === 'api') {
    clients.send({
      type: 'post',
      key,
      url: `${ensemble.url}/api/v1/threads/${thread.id}/replies`,
      headers: post.headers,
      body: JSON.stringify({ body: `reply ${seq}` }),
    });
    const posted = await next('posted', key);
    if (posted.status !== 201) throw new Error(`reply answered ${posted.status}`);
    start = posted.sent!;
  } else if (kind === 'bare') {
    bareWrite(seq);
    insideBare.push(now() - start);
  } else {
    const entered = now();
    io.to(roomName).emit(
      'bench.raw' as never,
      {
        v: 1,
        at: new Date().toISOString(),
        groupId: group!._id.toHexString(),
        threadId,
        replyId: new ObjectId().toHexString(),
        seq,
        authorId: new ObjectId().toHexString(),
      } as never,
    );
    insideEmit.push(now() - entered);
  }
  const done = await next('done', key);
  if (kind === 'api') {
    fanout.push(done.last! - emittedAt);
    toBroadcast.push(emittedAt - start);
  }
  return done.last! - start;
}
const raw: number[] = [];
const api: number[] = [];
const bare: number[] = [];
for (let i = 1; i <= ROUNDS; i++) {
  raw.push(await round('raw', 100_000 + i));
  api.push(await round('api', i));
  bare.push(await round('bare', 200_000 + i));
}
clients.send({ type: 'stop' });

// Notification fan-out: MEMBERS people following a group; one new thread notifies them all.
const big = { _id: new ObjectId(), handle: 'town-hall' };
await client.call('POST', '/groups', {
  handle: big.handle,
  name: 'Town hall',
  visibility: 'public',
  joinPolicy: 'open',
});
const hall = await db.collection('groups').findOne({ handle: big.handle });
await insertFollowers(db, hall!._id, MEMBERS, 'member');
const posted = now();
const announcement = await client.call('POST', `/groups/${big.handle}/threads`, {
  title: 'All staff',
  body: 'Town hall at ten',
});
const requestMs = now() - posted;
const threadId = new ObjectId(announcement.body.id as string);
let written = 0;
while (written < MEMBERS) {
  await new Promise((r) => setTimeout(r, 250));
  written = await db.collection('notifications').countDocuments({ threadId });
  if (now() - posted > 30 * 60_000) throw new Error(`fan-out stalled at ${written}`);
}
const fanoutSeconds = (now() - posted) / 1000;

const fmt = (xs: number[]) => `${percentile(xs, 50).toFixed(1)} | ${percentile(xs, 99).toFixed(1)}`;
const rate = (xs: number[]) => SOCKETS / (percentile(xs, 50) / 1000);
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version} (SQLite); ${SOCKETS.toLocaleString('en')} sockets (websocket) in one group room, held by one client process which also posts the replies; ${ROUNDS} rounds of each case, interleaved.

| case | p50 (ms) | p99 (ms) | deliveries/s at p50 |
| --- | --- | --- | --- |
| raw \`io.to(room).emit\` of the same payload (baseline) | ${fmt(raw)} | ${Math.round(rate(raw)).toLocaleString('en')} |
| \`POST /threads/{id}/replies\` → \`reply.created\` on every socket | ${fmt(api)} | ${Math.round(rate(api)).toLocaleString('en')} |
| the same, from the bridge's broadcast call to the last socket (the fan-out alone) | ${fmt(fanout)} | ${Math.round(rate(fanout)).toLocaleString('en')} |
| the same, from the POST to the bridge's broadcast call (the API's own part) | ${fmt(toBroadcast)} | |
| inside the raw \`emit\` call alone (the node writing one frame per socket) | ${fmt(insideEmit)} | ${Math.round(rate(insideEmit)).toLocaleString('en')} |
| floor: the same frame written straight to each TCP socket, to the last receipt | ${fmt(bare)} | ${Math.round(rate(bare)).toLocaleString('en')} |
| floor: the loop of 2,000 socket writes alone | ${fmt(insideBare)} | ${Math.round(rate(insideBare)).toLocaleString('en')} |

Through the API: p99 ${percentile(api, 99).toFixed(1)} ms from the POST (goal ≤ 50 ms; ${api.filter((t) => t > 50).length} of ${ROUNDS} rounds over 50 ms, against ${raw.filter((t) => t > 50).length} of the raw broadcast's); the fan-out delivers at ${(rate(fanout) / rate(raw)).toFixed(2)}× the raw rate (goal ≥ 0.8×), and end to end at ${(rate(api) / rate(raw)).toFixed(2)}×. The API time includes the reply's own write (validation, markdown, the reply and its position, the thread's timeline position) before the broadcast.

Notification fan-out: a new thread in a group of ${MEMBERS.toLocaleString('en')} followers. The poster's request took ${requestMs.toFixed(0)} ms; the last of the ${MEMBERS.toLocaleString('en')} notifications was written ${fanoutSeconds.toFixed(1)} s after the post (jobs of ${500} people, two at a time per process).`;
await writeSection('realtime', markdown);
process.stdout.write(`${markdown}\n`);
await ensemble.close();
await idp.close();
await closeDatabase();
