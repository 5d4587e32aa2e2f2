// Child process of bench:federation-in: a remote server (its actor documents served here) that posts
// BENCH_COUNT signed activities to BENCH_TARGET, BENCH_CONCURRENCY at a time, and reports the rate and
// latencies. BENCH_MODE:
// - `signed`: a member of the node's group BENCH_GROUP posts a `Create` of a thread to the group's inbox;
// - `announce`: this server hosts a group (its actor at /groups/g) that a person of the node joined; the
//   group sends `Announce(Create(Note))` of its members' new threads, as a member node receives them
//   (FEP-1b12), to the node's shared inbox. The parent is told the group's IRI (`ready`), has the person
//   join, and says `go` once the node has sent its Follow; the group accepts it before the load;
// - `raw`: the `signed` bodies unsigned (the raw-insert baseline).
import http from 'node:http';
import { FakeServer, type FakeActor } from '../tests/helpers/fediverse.js';
import { signRequest } from '../server/federation/http-signature.js';

const target = process.env.BENCH_TARGET!;
const count = Number(process.env.BENCH_COUNT ?? 5000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const mode = process.env.BENCH_MODE ?? 'signed';
const signed = mode !== 'raw';
const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;

const server = await new FakeServer().start();
const author = server.actor('sender');
let group = process.env.BENCH_GROUP!;
let sender: FakeActor = author;
if (mode === 'announce') {
  sender = server.actor('g', { path: '/groups/g', type: 'Group' });
  group = sender.id;
  server.documents.set('/groups/g/followers', {
    '@context': AS,
    id: `${group}/followers`,
    type: 'OrderedCollection',
    totalItems: 2,
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const tag = `${Date.now().toString(36)}-${mode[0]}`;

const sign = (body: string, actor: FakeActor) => {
  const base: Record<string, string> = { 'content-type': 'application/activity+json' };
  const headers: Record<string, string> = signed
    ? signRequest({ method: 'POST', url: target, headers: base, body }, actor)
    : base;
  delete headers.host;
  return headers;
};

interface Prepared {
  headers: Record<string, string>;
  body: string;
  /** The activity's id, and the post's. */
  id: string;
  note: string;
}

function request(i: number): Prepared {
  const id = `${server.url}/activities/${tag}-${i}`;
  const note = `${id}/note`;
  const create = {
    '@context': AS,
    id,
    type: 'Create',
    actor: author.id,
    to: [PUBLIC],
    cc: [group],
    audience: group,
    object: {
      id: note,
      type: 'Note',
      attributedTo: author.id,
      content: `<p>Note ${i}</p>`,
      to: [PUBLIC],
      cc: [group],
      audience: group,
    },
  };
  if (mode !== 'announce') {
    const body = JSON.stringify(create);
    return { headers: sign(body, author), body, id, note };
  }
  // The group's Announce: its id is what the node records (the inner Create and Note become the thread).
  const announceId = `${group}/announces/${tag}-${i}`;
  const body = JSON.stringify({
    '@context': AS,
    id: announceId,
    type: 'Announce',
    actor: group,
    to: [PUBLIC],
    cc: [`${group}/followers`],
    audience: group,
    object: { ...create, '@context': undefined },
  });
  return { headers: sign(body, sender), body, id: announceId, note };
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

const message = (type: string) =>
  new Promise<void>((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve();
    };
    process.on('message', on);
  });

if (mode === 'signed') {
  // The sender joins the group (posts come from members; docs/federation.md), the node fetches its key
  // once while warming up, then everything is signed before the clock starts.
  const body = JSON.stringify({
    '@context': AS,
    id: `${server.url}/activities/${tag}-follow`,
    type: 'Follow',
    actor: author.id,
    object: group,
  });
  await post({ headers: sign(body, author), body });
}
if (mode === 'announce') {
  // The node's person joins the group here: its Follow arrives, the group accepts it.
  process.send!({ type: 'ready', group });
  const deadline = Date.now() + 30_000;
  let follow: Record<string, unknown> | undefined;
  while (!follow && Date.now() < deadline) {
    follow = server.received
      .map((r) => JSON.parse(r.body) as Record<string, unknown>)
      .find((a) => a.type === 'Follow' && a.object === group);
    if (!follow) await new Promise((r) => setTimeout(r, 20));
  }
  if (!follow) throw new Error('the node sent no Follow to the group');
  const body = JSON.stringify({
    '@context': AS,
    id: `${group}/accepts/${tag}`,
    type: 'Accept',
    actor: group,
    object: follow,
    to: [follow.actor],
  });
  const status = await post({ headers: sign(body, sender), body });
  if (status !== 202) throw new Error(`the Accept was answered ${status}`);
  process.send!({ type: 'accepted' });
  await message('go');
}
for (let i = 0; i < 20; i++) await post(request(-1 - i));
const prepared = Array.from({ length: count }, (_, i) => request(i));
const latencies: number[] = [];
let errors = 0;
let next = 0;
process.send!({ type: 'start' });
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
  notes: prepared.map((r) => r.note),
});
await server.close();
agent.destroy();
