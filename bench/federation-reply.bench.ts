// A reply across nodes: three real Ensemble nodes (A, B and C: separate processes, databases and identity
// providers on their own loopback addresses, started by the node launcher as tests/federation does); a
// person on B replies in a thread of A's group, and a Socket.IO client on C (a member there, subscribed to
// the thread) is timed until its `reply.created`. The baseline, in the same run (rounds alternate): a
// reply posted on A, until a socket on A has it. The remote path is B → A (the group applies it) → C (the
// group's Announce): two deliveries more.
// Run: npm run bench:federation-reply   (BENCH_ROUNDS scales it)
import type { ApiClient } from '../tests/helpers/browser.js';
import { createPublicGroup, waitUntil } from '../tests/helpers/fediverse.js';
import { startDepartments } from '../tests/helpers/nodes.js';
import { connectSocket } from '../tests/helpers/sockets.js';
import { writeSection } from './lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const step = (what: string) => process.stderr.write(`[reply] ${what}\n`);
// Stops by itself: a run that hangs ends here (the nodes are child processes and stop with it).
setTimeout(() => {
  step('gave up after 15 minutes');
  process.exit(1);
}, 15 * 60_000).unref();

const d = await startDepartments([
  { name: 'a', department: 'digital-services' },
  { name: 'b', department: 'natural-resources' },
  { name: 'c', department: 'environment' },
]);
try {
  const [alice, bruno, emma] = await Promise.all([d.as('a', 'alice'), d.as('b', 'bruno'), d.as('c', 'emma')]);
  const hostA = new URL(d.node('a').url).host;
  await createPublicGroup(alice, 'bench-lab', { name: 'Bench lab' });
  const handle = `bench-lab@${hostA}`;
  const path = `/groups/${encodeURIComponent(handle)}`;
  for (const client of [bruno, emma]) {
    const found = await client.call('GET', `/lookup?q=${encodeURIComponent(`@${handle}`)}`);
    if (found.status !== 200) throw new Error(`lookup on ${client.nodeUrl}: ${found.status}`);
    await client.call('POST', `${path}/join`);
    await waitUntil(
      async () =>
        ((await client.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).some(
          (g) => g.handle === handle,
        ),
      30_000,
      `the join on ${client.nodeUrl}`,
    );
  }
  const created = await alice.call('POST', '/groups/bench-lab/threads', {
    title: 'Replies across nodes',
    body: 'Where the time of a reply goes.',
  });
  if (created.status !== 201) throw new Error(`thread: ${created.status}`);
  const threadOn = async (client: ApiClient) => {
    let id = '';
    await waitUntil(
      async () => {
        const page = (await client.call('GET', `${path}/threads`)).body as {
          items?: { id: string; title: string }[];
        };
        id = page.items?.find((t) => t.title === 'Replies across nodes')?.id ?? '';
        return Boolean(id);
      },
      30_000,
      `the thread on ${client.nodeUrl}`,
    );
    return id;
  };
  const ids = { a: created.body.id as string, b: await threadOn(bruno), c: await threadOn(emma) };
  const onA = await connectSocket(d.node('a').url, alice);
  const onC = await connectSocket(d.node('c').url, emma);
  for (const [socket, id] of [
    [onA, ids.a],
    [onC, ids.c],
  ] as const)
    if (!(await socket.subscribe({ kind: 'thread', id })).ok) throw new Error('subscribe refused');
  step('three nodes, one group, sockets on A and C; measuring');

  /** When the next `reply.created` (after the `seen` ones) reaches the socket. */
  const arrival = async (socket: typeof onA, seen: number) => {
    const deadline = performance.now() + 30_000;
    while (socket.of('reply.created').length <= seen) {
      if (performance.now() > deadline) throw new Error('no reply.created within 30 s');
      await new Promise((r) => setImmediate(r));
    }
    return performance.now();
  };
  const remote: { c: number; a: number }[] = [];
  const local: number[] = [];
  let n = 0;
  for (let r = -2; r < ROUNDS; r++) {
    // B replies; timed until A's socket (the group applied it) and C's (the group's Announce) have it.
    const [seenA, seenC] = [onA.of('reply.created').length, onC.of('reply.created').length];
    let start = performance.now();
    const posted = await bruno.call('POST', `/threads/${ids.b}/replies`, { body: `From B, ${++n}.` });
    if (posted.status !== 201) throw new Error(`reply on B: ${posted.status}`);
    const [atA, atC] = await Promise.all([arrival(onA, seenA), arrival(onC, seenC)]);
    if (r >= 0) remote.push({ a: atA - start, c: atC - start });
    // A replies; timed until A's socket has it.
    const seen = onA.of('reply.created').length;
    start = performance.now();
    const mine = await alice.call('POST', `/threads/${ids.a}/replies`, { body: `From A, ${n}.` });
    if (mine.status !== 201) throw new Error(`reply on A: ${mine.status}`);
    const at = await arrival(onA, seen);
    if (r >= 0) local.push(at - start);
    // C hears of A's reply too before the next round.
    await arrival(onC, seenC + 1);
  }
  onA.close();
  onC.close();

  const pct = (xs: number[], p: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  };
  const ms = (x: number) => `${Math.round(x)} ms`;
  const cToC = remote.map((x) => x.c);
  const toA = remote.map((x) => x.a);
  const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on this machine: three nodes started by the launcher (each its own process, FerretDB and identity provider, on 127.0.0.2–4), ${ROUNDS} rounds alternating, one reply at a time, from the request until the socket's \`reply.created\`.

| case | p50 | p99 |
| --- | --- | --- |
| a reply posted on B into A's group, until a socket on C has it (B → A → C) | **${ms(pct(cToC, 50))}** | **${ms(pct(cToC, 99))}** |
| the same reply, until a socket on A has it (B → A) | ${ms(pct(toA, 50))} | ${ms(pct(toA, 99))} |
| baseline: a reply posted on A, until a socket on A has it | ${ms(pct(local, 50))} | ${ms(pct(local, 99))} |

Across nodes / local: **${(pct(cToC, 50) / pct(local, 50)).toFixed(1)}×** at p50, ${(pct(cToC, 99) / pct(local, 99)).toFixed(1)}× at p99; each delivery adds about ${ms((pct(cToC, 50) - pct(local, 50)) / 2)} at p50.`;
  process.stdout.write(`${markdown}\n`);
  if (!process.env.BENCH_NO_WRITE) await writeSection('federation-reply', markdown);
} finally {
  await d.close();
}
process.exit(0);
