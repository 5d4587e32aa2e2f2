// Outbound federation: one activity to 500 inboxes on 100 local hosts that answer after 50 ms, drained by
// Ensemble's delivery workers against activitypub-express 4.4.2's own serial loop (its queueForDelivery,
// runDelivery and deliver, on an in-memory queue) in the same run; then sustained signed deliveries per
// second to hosts that answer at once, against this machine's RSA-2048 signing rate.
// Run: npm run bench:federation-out   (BENCH_HOSTS, BENCH_INBOXES_PER_HOST, BENCH_SUSTAINED scale it)
import { fork } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import path from 'node:path';
import ActivitypubExpress from 'activitypub-express';
import { projectRoot } from '../server/core/paths.js';
import { apRoutes } from '../server/federation/actor.directory.js';
import { startBenchDatabase, startBenchNode, writeSection } from './lib.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 100);
const PER_HOST = Number(process.env.BENCH_INBOXES_PER_HOST ?? 5);
const SUSTAINED = Number(process.env.BENCH_SUSTAINED ?? 20); // activities to every inbox, phase 2
const AS = 'https://www.w3.org/ns/activitystreams';

const { uri, database, close: closeDatabase } = await startBenchDatabase('fedout');
const { url, node, close } = await startBenchNode(uri, database, {
  env: { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' },
});
const fed = node.federation!;
const actor = fed.directory.instanceIri;
await fed.keys.privateKey(actor);

const child = fork(path.join(projectRoot, 'bench', 'fake-inboxes.ts'), {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_HOSTS: String(HOSTS), BENCH_DELAY_MS: '50' },
});
const replies: { type: string; ports?: number[]; answered?: number }[] = [];
let wake: (() => void) | undefined;
child.on('message', (m: { type: string }) => {
  replies.push(m);
  wake?.();
});
const next = async (type: string) => {
  for (;;) {
    const i = replies.findIndex((m) => m.type === type);
    if (i >= 0) return replies.splice(i, 1)[0]!;
    await new Promise<void>((r) => (wake = r));
  }
};
const answered = async () => {
  child.send({ type: 'count' });
  return (await next('count')).answered!;
};
const until = async (count: number) => {
  while ((await answered()) < count) await new Promise((r) => setTimeout(r, 5));
};
const ports = (await next('ready')).ports!;
const inboxes = ports.flatMap((p) =>
  Array.from({ length: PER_HOST }, (_, i) => `http://127.0.0.1:${p}/users/u${i}/inbox`),
);
let n = 0;
const activity = () => {
  const id = `${url}/ap/s/bench-${++n}`;
  return {
    '@context': AS,
    id,
    type: 'Create',
    actor,
    object: { id: `${id}/note`, type: 'Note', content: 'x' },
  };
};

// 1. Ensemble: one activity to every inbox, three times (median).
const ours: number[] = [];
for (let round = 0; round < 3; round++) {
  const base = await answered();
  const start = performance.now();
  await fed.deliveries.enqueue(actor, JSON.stringify(activity()), inboxes);
  await until(base + inboxes.length);
  ours.push(performance.now() - start);
}
ours.sort((a, b) => a - b);

// 2. activitypub-express's own loop: one request at a time, on an in-memory queue (its MongoDB store does
//    not work with the current driver, FEDERATION.md 6), signing with its own http-signature.
const queue: Record<string, unknown>[] = [];
const memoryStore = {
  deliveryEnqueue: async (actorId: string, body: string, addresses: string[], signingKey: string) => {
    for (const address of addresses)
      queue.push({ actorId, body, address, signingKey, attempt: 0, after: new Date() });
  },
  deliveryDequeue: async () => queue.shift() ?? null,
  deliveryRequeue: async (d: Record<string, unknown>) => queue.push(d),
};
const apex = ActivitypubExpress({
  name: 'bench',
  version: '0',
  baseUrl: url,
  actorParam: 'actor',
  objectParam: 'id',
  routes: apRoutes,
  store: memoryStore,
  logger: { info: () => {}, warn: () => {}, error: () => {} },
});
const keyPem = createPrivateKey(
  (await fed.keys.privateKey(actor)).export({ type: 'pkcs8', format: 'pem' }) as string,
).export({ type: 'pkcs8', format: 'pem' }) as string;
const apexBase = await answered();
const apexStart = performance.now();
await apex.queueForDelivery({ id: actor, _meta: { privateKey: keyPem } } as never, activity(), inboxes);
await until(apexBase + inboxes.length);
const apexMs = performance.now() - apexStart;

// 3. Sustained: hosts answer at once; SUSTAINED activities to every inbox.
child.send({ type: 'delay', delay: 0 });
const sustainedCount = SUSTAINED * inboxes.length;
const sBase = await answered();
const sStart = performance.now();
for (let i = 0; i < SUSTAINED; i++) await fed.deliveries.enqueue(actor, JSON.stringify(activity()), inboxes);
await until(sBase + sustainedCount);
const sustainedMs = performance.now() - sStart;
const perSecond = sustainedCount / (sustainedMs / 1000);

// 4. This machine's RSA-2048 signing rate (one core, the same key and a typical signing string).
const key = await fed.keys.privateKey(actor);
const text = Buffer.from(
  `(request-target): post /users/u0/inbox\nhost: 127.0.0.1:1\ndate: ${new Date().toUTCString()}\ndigest: SHA-256=${'x'.repeat(44)}`,
);
let signs = 0;
const signStart = performance.now();
while (performance.now() - signStart < 3000) {
  sign('sha256', text, key);
  signs++;
}
const signPerSecond = signs / ((performance.now() - signStart) / 1000);

const median = ours[1]!;
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on this machine (${HOSTS} hosts × ${PER_HOST} inboxes).

| case | time / rate | compared |
| --- | --- | --- |
| Ensemble: 1 activity → ${inboxes.length} inboxes, hosts answer after 50 ms | ${Math.round(median)} ms to drain (median of 3; ${ours.map((t) => Math.round(t)).join(', ')}) | **${(apexMs / median).toFixed(1)}× faster** than apex (goal ≥ 20×) |
| activitypub-express 4.4.2 serial loop, same activity and inboxes | ${Math.round(apexMs)} ms to drain | baseline |
| Ensemble sustained: ${sustainedCount.toLocaleString('en')} signed deliveries, hosts answer at once | ${Math.round(perSecond)} deliveries/s | **${(perSecond / signPerSecond).toFixed(2)}× the signing rate** (goal ≥ 0.5×) |
| RSA-2048 signatures on one core of this machine | ${Math.round(signPerSecond)} /s | baseline |

Settings: the defaults (\`FEDERATION_DELIVERY_CONCURRENCY=64\`, \`FEDERATION_DELIVERY_PER_HOST=4\`), FerretDB 1.24 on
SQLite as the queue's database, the fake hosts in a separate process.`;
process.stdout.write(`${markdown}\n`);
await writeSection('federation-out', markdown);

child.send({ type: 'stop' });
await close();
await closeDatabase();
process.exit(0);
