// Child process of bench/realtime.bench.ts: opens N socket.io-client connections to a node, follows one
// group, and reports to the parent (IPC) when each awaited event has reached every socket.
import { io, type Socket } from 'socket.io-client';

const url = process.env.BENCH_URL!;
const count = Number(process.env.BENCH_SOCKETS ?? 2000);
const group = process.env.BENCH_GROUP!;
const now = () => performance.timeOrigin + performance.now();

const sockets: Socket[] = [];
/** key → { receipts, last receipt time } for the event being awaited. */
const pending = new Map<string, { left: number; last: number }>();

function record(key: string) {
  const entry = pending.get(key);
  if (!entry) return;
  entry.left--;
  entry.last = now();
  if (entry.left === 0) {
    pending.delete(key);
    process.send!({ type: 'done', key, last: entry.last });
  }
}

for (let i = 0; i < count; i++) {
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  const key = (p: { threadId: string; seq: number }) => record(`${p.threadId}:${p.seq}`);
  socket.on('reply.created', key);
  socket.on('bench.raw', key);
  sockets.push(socket);
}
await Promise.all(
  sockets.map(
    (s) =>
      new Promise<void>((resolve, reject) => {
        const subscribe = () =>
          s.emit('subscribe', { room: { kind: 'group', group } }, (a: { ok: boolean }) =>
            a.ok ? resolve() : reject(new Error('subscribe refused')),
          );
        if (s.connected) subscribe();
        else s.once('connect', subscribe);
        s.once('connect_error', reject);
      }),
  ),
);
process.on('message', (m: { type: string; key?: string }) => {
  if (m.type === 'expect') pending.set(m.key!, { left: count, last: 0 });
  if (m.type === 'stop') {
    for (const s of sockets) s.disconnect();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
