// Fan-out of a new thread: a public group with one follower on each of 50 other nodes (a separate process,
// bench/fanout-receivers.ts: loopback hosts whose inboxes answer after 50 ms, with real actor and key
// documents), a person posts a thread through the API; the time until the last node has the group's
// `Announce` of it, against the same number of deliveries of a plain activity handed straight to the same
// delivery queue, in the same run (rounds alternate).
// Run: npm run bench:federation-fanout   (BENCH_HOSTS, BENCH_ROUNDS, BENCH_DELAY_MS scale it)
import { fork } from 'node:child_process';
import path from 'node:path';
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from 'mongodb';
import { projectRoot } from '../server/core/paths.js';
import { startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DELAY = Number(process.env.BENCH_DELAY_MS ?? 50);
const AS = 'https://www.w3.org/ns/activitystreams';
const now = () => performance.timeOrigin + performance.now();
const step = (what: string) => process.stderr.write(`[fanout] ${what}\n`);
// Stops by itself: a run that hangs ends here (its receivers stop with it).
setTimeout(() => {
  step('gave up after 15 minutes');
  process.exit(1);
}, 15 * 60_000).unref();

const TRACE = Boolean(process.env.BENCH_TRACE);
const {
  uri,
  database,
  close: closeDatabase,
} = await startBenchDatabase('fanout', { monitorCommands: TRACE });
const { ensemble, idp, client } = await startSignedInNode(uri, database, {
  FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
  FEDERATION_INBOX_RATE_LIMIT: '1000000',
});
const fed = ensemble.node.federation!;
await client.call('POST', '/groups', {
  handle: 'fanout',
  name: 'Fan-out',
  visibility: 'public',
  joinPolicy: 'open',
});
const group = `${ensemble.url}/ap/a/g.fanout`;

const child = fork(path.join(projectRoot, 'bench', 'fanout-receivers.ts'), {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_HOSTS: String(HOSTS), BENCH_DELAY_MS: String(DELAY) },
});
child.on('exit', (code) => {
  if (code) {
    process.stderr.write(`the receivers exited with ${code}\n`);
    process.exit(1);
  }
});
const messages: { type: string; [k: string]: unknown }[] = [];
let wake: (() => void) | undefined;
child.on('message', (m: { type: string }) => {
  messages.push(m);
  wake?.();
});
const next = async (type: string) => {
  for (;;) {
    const i = messages.findIndex((m) => m.type === type);
    if (i >= 0) return messages.splice(i, 1)[0]!;
    await new Promise<void>((r) => (wake = r));
  }
};
await next('ready');
step('receivers ready; the followers join');
child.send({ type: 'join', group });
const inboxes = (await next('joined')).inboxes as string[];
// Every follower is a member (an open group: joined at once).
for (const deadline = Date.now() + 60_000; ;) {
  const count = (await client.call('GET', '/groups/fanout')).body.memberCount as number;
  if (count === HOSTS + 1) break;
  if (Date.now() > deadline) throw new Error(`only ${count - 1} of ${HOSTS} followers joined`);
  await new Promise((r) => setTimeout(r, 50));
}
// The queue is idle (the Accepts are out) before the clock starts, and what a round left behind (a thread's
// notifications, the kept forms of its activities) is done: each round starts on a quiet node.
const idle = async () => {
  while (await fed.deliveries.deliveries.countDocuments({ state: 'pending' }))
    await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500));
};
await idle();
step('joined; measuring');

// BENCH_TRACE=1: when each activity is handed to the queue, after the request started (where the time goes).
let traceStart = 0;
/** BENCH_TRACE=1: each database command of a thread's round, when it started and how long it took. */
let tracing = false;
if (TRACE) {
  const started = new Map<number, { at: number; what: string }>();
  database.client.on('commandStarted', (e: CommandStartedEvent) => {
    if (tracing)
      started.set(e.requestId, {
        at: now() - traceStart,
        what: `${e.commandName} ${String(e.command[e.commandName])}`,
      });
  });
  const done = (e: CommandSucceededEvent | CommandFailedEvent) => {
    const s = started.get(e.requestId);
    if (!s) return;
    started.delete(e.requestId);
    step(`  db ${Math.round(s.at)}–${Math.round(now() - traceStart)} ms ${s.what}`);
  };
  database.client.on('commandSucceeded', done);
  database.client.on('commandFailed', done);
  // When the deliveries taken at once are all handed to their connections (ADR 0042).
  fed.worker.onSending((handed) => {
    const at = Math.round(now() - traceStart);
    void handed.then(() =>
      step(`  deliveries taken at ${at} ms, handed out at ${Math.round(now() - traceStart)} ms`),
    );
  });
  const enqueue = fed.deliveries.enqueue.bind(fed.deliveries);
  fed.deliveries.enqueue = async (...args: Parameters<typeof enqueue>) => {
    const at = Math.round(now() - traceStart);
    const result = await enqueue(...args);
    step(
      `enqueue at ${at} ms, queued at ${Math.round(now() - traceStart)} ms (${String(JSON.parse(args[1]).type)})`,
    );
    return result;
  };
}

let n = 0;
const thread = async () => {
  const token = `fanout-${++n}-${Date.now().toString(36)}`;
  const start = now();
  traceStart = start;
  tracing = TRACE;
  child.send({ type: 'watch', token, since: start });
  const res = await client.call('POST', '/groups/fanout/threads', {
    title: `Thread ${token}`,
    body: `A new thread (${token}) for every member node.`,
  });
  if (res.status !== 201) throw new Error(`posting a thread: ${res.status}`);
  const answered = now();
  if (process.env.BENCH_TRACE) step(`answered at ${Math.round(now() - start)} ms`);
  const seen = await next('seen');
  tracing = false;
  if (TRACE) step(`last Announce(Create) at ${Math.round((seen.last as number) - start)} ms`);
  return {
    announce: (seen.last as number) - start,
    page: (seen.lastPage as number) - start,
    /** From the API's answer (the thread exists) to the last node's Announce. */
    afterAnswer: (seen.last as number) - answered,
  };
};
const plain = async () => {
  const id = `${ensemble.url}/ap/s/bench-plain-${++n}`;
  const start = now();
  traceStart = start;
  tracing = TRACE;
  child.send({ type: 'watch', id, since: start });
  const activity = {
    '@context': AS,
    id,
    type: 'Create',
    actor: group,
    object: { id: `${id}/note`, type: 'Note', content: 'x' },
  };
  await fed.deliveries.enqueue(group, JSON.stringify(activity), inboxes);
  const last = ((await next('seen')).last as number) - start;
  tracing = false;
  if (TRACE) step(`last plain at ${Math.round(last)} ms`);
  return last;
};

// A warm-up of each, then alternating rounds.
await plain();
await thread();
await idle();
const threads: { announce: number; page: number; afterAnswer: number }[] = [];
const plains: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  plains.push(await plain());
  await idle();
  threads.push(await thread());
  await idle();
  step(
    `round ${r + 1}: thread ${Math.round(threads.at(-1)!.announce)} ms, plain ${Math.round(plains.at(-1)!)} ms`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;
const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
const announce = median(threads.map((t) => t.announce));
const page = median(threads.map((t) => t.page));
const baseline = median(plains);
const ratio = baseline / announce;

const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on this machine: a public group with one follower on each of ${HOSTS} nodes (loopback hosts answering after ${DELAY} ms), ${ROUNDS} rounds alternating, medians.

| case | until the last node has it | rounds |
| --- | --- | --- |
| a new thread through the API: the group's \`Announce(Create)\` (FEP-1b12) | **${ms(announce)}** | ${list(threads.map((t) => t.announce))} |
| the same thread, from the API's answer (the thread is written) | ${ms(median(threads.map((t) => t.afterAnswer)))} | ${list(threads.map((t) => t.afterAnswer))} |
| the same thread: the group's \`Announce\` of the Page too (Mastodon's boost) | ${ms(page)} | ${list(threads.map((t) => t.page))} |
| baseline: a plain activity handed to the same delivery queue for the same ${HOSTS} inboxes | ${ms(baseline)} | ${list(plains)} |

The thread reaches every node at **${ratio.toFixed(2)}×** the baseline's speed (goal ≥ 0.8×): ${ratio >= 0.8 ? 'met' : 'not met'}; counted from the API's answer, ${(baseline / median(threads.map((t) => t.afterAnswer))).toFixed(2)}×.`;
process.stdout.write(`${markdown}\n`);
if (!process.env.BENCH_NO_WRITE) await writeSection('federation-fanout', markdown);

child.send({ type: 'stop' });
await ensemble.close();
await idp.close();
await closeDatabase();
process.exit(0);
