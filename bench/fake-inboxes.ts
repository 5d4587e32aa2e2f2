// Child process of the federation benchmarks: BENCH_HOSTS local "remote servers" (one port each, so each
// is its own host), whose inboxes answer 202 after BENCH_DELAY_MS. Reports its ports, and on request how
// many POSTs it has answered.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const hosts = Number(process.env.BENCH_HOSTS ?? 100);
let delay = Number(process.env.BENCH_DELAY_MS ?? 50);
let answered = 0;
const servers: http.Server[] = [];
for (let i = 0; i < hosts; i++) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = () => {
        answered++;
        res.writeHead(202).end();
      };
      if (delay) setTimeout(answer, delay);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
}
process.on('message', (m: { type: string; delay?: number }) => {
  if (m.type === 'count') process.send!({ type: 'count', answered });
  if (m.type === 'delay') delay = m.delay ?? delay;
  if (m.type === 'stop') {
    for (const s of servers) s.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready', ports: servers.map((s) => (s.address() as AddressInfo).port) });
