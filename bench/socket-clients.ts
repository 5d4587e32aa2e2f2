// Child process of bench/realtime.bench.ts: opens N Socket.IO connections to a node and follows one group,
// reporting to the parent (IPC) when an awaited event has reached every socket; posts replies when asked.
//
// The connections speak the Socket.IO protocol (Engine.IO v4 over WebSocket) directly with `ws` and only
// look for the key of each event in the frame's text: with 2,000 sockets on two cores, socket.io-client's
// own parsing would make the load generator, not the server, the thing measured. The tests use the real
// socket.io-client. For the same reason the replies are posted with node:http on a kept-alive connection
// (as a browser keeps one to its node): Node's WHATWG `fetch` (undici) spent about 1 ms of this busy process
// between the timestamp and the request reaching the node.
import http from 'node:http';
import WebSocket from 'ws';

const url = process.env.BENCH_URL!.replace(/^http/, 'ws');
const count = Number(process.env.BENCH_SOCKETS ?? 2000);
const group = process.env.BENCH_GROUP!;
const now = () => performance.timeOrigin + performance.now();
const pending = new Map<string, { left: number; last: number }>();
const KEY = /"threadId":"([^"]+)".*?"seq":(\d+)/;

function record(frame: string) {
  const m = KEY.exec(frame);
  if (!m) return;
  const key = `${m[1]}:${m[2]}`;
  const entry = pending.get(key);
  if (!entry) return;
  entry.left--;
  entry.last = now();
  if (entry.left === 0) {
    pending.delete(key);
    process.send!({ type: 'done', key, last: entry.last });
  }
}

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket`);
    ws.on('error', reject);
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame === '2')
        ws.send('3'); // ping → pong
      else if (frame.startsWith('0'))
        ws.send('40'); // open → connect to the main namespace
      else if (frame.startsWith('40'))
        ws.send(`421${JSON.stringify(['subscribe', { room: { kind: 'group', group } }])}`);
      else if (frame.startsWith('431')) {
        if (frame.includes('"ok":true')) resolve(ws);
        else reject(new Error(`subscribe refused: ${frame}`));
      } else if (frame.startsWith('42[')) record(frame);
    });
  });
}

const sockets: WebSocket[] = [];
for (let i = 0; i < count; i += 100) {
  sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, open))));
}
interface Post {
  type: 'post';
  key: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
process.on('message', (m: { type: string; key?: string } | Post) => {
  if (m.type === 'expect') pending.set(m.key!, { left: count, last: 0 });
  if (m.type === 'post') {
    // The reply is posted from here too, as a browser would: not from the server's own process.
    const post = m as Post;
    const sent = now();
    const req = http.request(post.url, { method: 'POST', headers: post.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => process.send!({ type: 'posted', key: post.key, sent, status: res.statusCode }));
    });
    req.end(post.body);
  }
  if (m.type === 'stop') {
    for (const s of sockets) s.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
