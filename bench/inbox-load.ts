// Child process of bench:federation-in: a remote server (its actor document served here) that posts
// BENCH_COUNT signed Create activities to BENCH_TARGET, BENCH_CONCURRENCY at a time, and reports the rate
// and latencies. BENCH_MODE=raw posts the same bodies unsigned (for the raw-insert baseline).
import http from 'node:http';
import { FakeServer } from '../tests/helpers/fediverse.js';
import { signRequest } from '../server/federation/http-signature.js';

const target = process.env.BENCH_TARGET!;
const group = process.env.BENCH_GROUP!;
const count = Number(process.env.BENCH_COUNT ?? 5000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const signed = process.env.BENCH_MODE !== 'raw';
const AS = 'https://www.w3.org/ns/activitystreams';

const server = await new FakeServer().start();
const actor = server.actor('sender');
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const tag = `${Date.now().toString(36)}-${signed ? 's' : 'r'}`;

function request(i: number): { headers: Record<string, string>; body: string; id: string } {
  const id = `${server.url}/activities/${tag}-${i}`;
  const body = JSON.stringify({
    '@context': AS,
    id,
    type: 'Create',
    actor: actor.id,
    to: ['https://www.w3.org/ns/activitystreams#Public'],
    cc: [group],
    audience: group,
    object: {
      id: `${id}/note`,
      type: 'Note',
      attributedTo: actor.id,
      content: `<p>Note ${i}</p>`,
      to: [AS + '#Public'],
      cc: [group],
      audience: group,
    },
  });
  const base: Record<string, string> = { 'content-type': 'application/activity+json' };
  const headers: Record<string, string> = signed
    ? signRequest({ method: 'POST', url: target, headers: base, body }, actor)
    : base;
  delete headers.host;
  return { headers, body, id };
}

const post = (r: { headers: Record<string, string>; body: string }) =>
  new Promise<number>((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent, headers: r.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(r.body);
  });

// The sender joins the group (posts come from members; docs/federation.md), the node fetches its key once
// while warming up, then everything is signed before the clock starts.
if (signed) {
  const follow = JSON.stringify({
    '@context': AS,
    id: `${server.url}/activities/${tag}-follow`,
    type: 'Follow',
    actor: actor.id,
    object: group,
  });
  const base: Record<string, string> = { 'content-type': 'application/activity+json' };
  const headers = signRequest({ method: 'POST', url: target, headers: base, body: follow }, actor);
  delete headers.host;
  await post({ headers, body: follow });
}
for (let i = 0; i < 20; i++) await post(request(-1 - i));
const prepared = Array.from({ length: count }, (_, i) => request(i));
const latencies: number[] = [];
let errors = 0;
let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < prepared.length) {
      const r = prepared[next++]!;
      const t = performance.now();
      const status = await post(r);
      latencies.push(performance.now() - t);
      if (status !== 202) errors++;
    }
  }),
);
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
process.send!({
  type: 'done',
  perSecond: count / seconds,
  p50: pct(50),
  p99: pct(99),
  errors,
  ids: prepared.map((r) => r.id),
});
await server.close();
agent.destroy();
