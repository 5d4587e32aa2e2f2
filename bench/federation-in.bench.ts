// Inbound federation: signed activities posted by a remote server (a separate process, bench/inbox-load.ts),
// each verified, checked, applied as domain records and persisted, against a raw baseline in the same run
// (an Express route on the same database that parses the same body and inserts it). Two cases:
// - a group hosted elsewhere announces its members' new threads to this node (`Announce(Create(Note))`,
//   FEP-1b12), as a member node receives them: each becomes a thread here, with its remote author;
// - a member of a group hosted here posts a `Create` of a thread to the group's inbox: the thread is made
//   and the group announces it to its member nodes.
// Each run counts the database commands the node sent while it ran, and waits until every post is a thread.
// Run: npm run bench:federation-in   (BENCH_COUNT, BENCH_RUNS, BENCH_CONCURRENCY, BENCH_CASES scale it)
// Each case also reports the CPU each process spent per post while it ran (the node, FerretDB, the load
// generator). BENCH_PROFILE=<dir> writes a CPU profile of the node (`.cpuprofile`, Chrome DevTools) and of
// FerretDB (Go pprof, `go tool pprof -top`, its first BENCH_PROFILE_SECONDS) over each case's first run.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import type { CommandStartedEvent } from 'mongodb';
import { projectRoot } from '../server/core/paths.js';
import { collections } from '../server/db/collections.js';
import { cpuSeconds, startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LEVELS = (process.env.BENCH_CONCURRENCY ?? '16').split(',').map(Number);
const CASES = (process.env.BENCH_CASES ?? 'announce,signed').split(',') as Mode[];
type Mode = 'announce' | 'signed' | 'raw';

const PROFILE = process.env.BENCH_PROFILE;
const PROFILE_SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 5);
const {
  uri,
  pid: databasePid,
  debugUrl,
  database,
  close: closeDatabase,
} = await startBenchDatabase('fedin', { monitorCommands: true });
const { db, client: mongo } = database;
const commands = new Map<string, number>();
let counting = false;
mongo.on('commandStarted', (e: CommandStartedEvent) => {
  if (!counting) return;
  const key = process.env.BENCH_TRACE
    ? `${e.commandName} ${String(e.command[e.commandName])} ${JSON.stringify(
        e.command.filter ?? e.command.updates?.[0]?.q ?? e.command.deletes?.[0]?.q ?? '',
      )
        .replace(/[0-9a-f]{24}/g, 'ID')
        .replace(/"http[^"]*"/g, 'IRI')
        .replace(/\d+/g, 'N')
        .slice(0, 70)}`
    : e.commandName;
  commands.set(key, (commands.get(key) ?? 0) + 1);
});
const { ensemble, idp, client } = await startSignedInNode(uri, database, {
  FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
  FEDERATION_INBOX_RATE_LIMIT: '1000000',
});
await client.call('POST', '/groups', {
  handle: 'intake',
  name: 'Intake',
  visibility: 'public',
  joinPolicy: 'open',
});
const group = `${ensemble.url}/ap/a/g.intake`;

// The raw baseline: parse the body and insert it, nothing else.
const raw = express();
raw.post('/inbox', express.raw({ type: () => true, limit: '1mb' }), (req, res, next) => {
  const activity = JSON.parse((req.body as Buffer).toString('utf8')) as { id: string };
  db.collection('bench_raw_inbox')
    .insertOne({ _id: activity.id as never, activity })
    .then(() => res.status(202).end(), next);
});
const rawServer = http.createServer(raw);
await new Promise<void>((r) => rawServer.listen(0, '127.0.0.1', r));
const rawUrl = `http://127.0.0.1:${(rawServer.address() as AddressInfo).port}/inbox`;

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  ids: string[];
  notes: string[];
  /** Until the last post was a thread here (ms after the load started), and commands per activity. */
  recordedPerSecond: number;
  commandsPer: number;
  /** CPU milliseconds per post from the start of the load until the last post was recorded and its jobs done. */
  cpu: { node: number; database: number; generator: number };
}

/** The node's CPU profile and FerretDB's over one run (BENCH_PROFILE). */
async function profiler(name: string) {
  fs.mkdirSync(PROFILE!, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  // Go's profile endpoint answers once its time is up: a run should outlast it (BENCH_COUNT).
  const pprof = fetch(`${debugUrl}/debug/pprof/profile?seconds=${PROFILE_SECONDS}`)
    .then(async (r) => Buffer.from(await r.arrayBuffer()))
    .catch(() => null);
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    fs.writeFileSync(path.join(PROFILE!, `${name}.cpuprofile`), JSON.stringify(profile));
    const go = await pprof;
    if (go?.length) fs.writeFileSync(path.join(PROFILE!, `${name}.ferretdb.pprof`), go);
  };
}

/** The remote group a person here joins (announce case): looked up by IRI, joined, accepted. */
const joinRemoteGroup = async (iri: string) => {
  const found = await client.call('GET', `/lookup?q=${encodeURIComponent(iri)}`);
  if (found.status !== 200) throw new Error(`lookup of ${iri}: ${found.status}`);
  const handle = (found.body.group as { handle: string }).handle;
  const join = await client.call('POST', `/groups/${encodeURIComponent(handle)}/join`);
  if (join.status !== 200) throw new Error(`join ${handle}: ${join.status}`);
  return handle;
};
const memberOf = async (handle: string) =>
  ((await client.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).some(
    (g) => g.handle === handle,
  );

const threadsRecorded = (notes: string[]) =>
  db.collection(collections.fedIris).countDocuments({ _id: { $in: notes as never[] }, kind: 'thread' });

const load = (target: string, mode: Mode, concurrency: number, profile?: string) =>
  new Promise<Result>((resolve, reject) => {
    const child = fork(path.join(projectRoot, 'bench', 'inbox-load.ts'), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        BENCH_TARGET: target,
        BENCH_GROUP: group,
        BENCH_COUNT: String(COUNT),
        BENCH_CONCURRENCY: String(concurrency),
        BENCH_MODE: mode,
      },
    });
    let handle = '';
    let started = 0;
    let cpuAtStart = { node: 0, database: 0, generator: 0 };
    const cpuNow = () => ({
      node: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
      database: cpuSeconds(databasePid) ?? 0,
      generator: cpuSeconds(child.pid) ?? 0,
    });
    let stopProfile: (() => Promise<void>) | undefined;
    child.on('message', (m: Result & { type: string; group?: string }) => {
      void (async () => {
        if (m.type === 'ready') handle = await joinRemoteGroup(m.group!);
        if (m.type === 'accepted') {
          const deadline = Date.now() + 30_000;
          while (!(await memberOf(handle)))
            if (Date.now() > deadline) throw new Error('the join was not accepted');
          child.send({ type: 'go' });
        }
        // The clock starts after the warm-up: commands are counted from there.
        if (m.type === 'start') {
          commands.clear();
          cpuAtStart = cpuNow();
          if (profile && PROFILE) stopProfile = await profiler(profile);
        }
        if (m.type === 'done') {
          const elapsed = (COUNT / m.perSecond) * 1000;
          // The generator's CPU is read before it exits; its share stops with the load.
          const generator = (cpuSeconds(child.pid) ?? 0) - cpuAtStart.generator;
          const cpu = () => {
            const now = cpuNow();
            const per = (x: number) => (x * 1000) / COUNT;
            return {
              node: per(now.node - cpuAtStart.node),
              database: per(now.database - cpuAtStart.database),
              generator: per(generator),
            };
          };
          if (mode === 'raw')
            return resolve({ ...m, recordedPerSecond: m.perSecond, commandsPer: 0, cpu: cpu() });
          started = performance.now() - elapsed;
          const deadline = Date.now() + 600_000;
          while ((await threadsRecorded(m.notes)) < m.notes.length && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 20));
          const recordedMs = performance.now() - started;
          const total = [...commands.values()].reduce((a, b) => a + b, 0);
          // The work the posts leave for later (their notification jobs) is theirs too: their CPU is counted
          // until it is done (the bench's own look, not counted among the node's commands, stops at the first
          // pending job).
          counting = false;
          while (
            (await db.collection(collections.jobs).find({ state: 'pending' }).limit(1).toArray()).length &&
            Date.now() < deadline
          )
            await new Promise((r) => setTimeout(r, 200));
          const used = cpu();
          await stopProfile?.();
          resolve({
            ...m,
            recordedPerSecond: COUNT / (recordedMs / 1000),
            commandsPer: total / COUNT,
            cpu: used,
          });
        }
      })().catch(reject);
    });
    child.on('exit', (code) => code && reject(new Error(`load generator exited with ${code}`)));
    counting = mode !== 'raw';
  });

const LABELS: Record<Mode, string> = {
  announce:
    'Ensemble: signed `Announce(Create(Note))` from a group hosted elsewhere, verified, checked, made a thread here',
  signed:
    'Ensemble: signed `Create` from a member into a group hosted here, verified, checked, made a thread, announced to member nodes',
  raw: 'raw baseline: parse and insert (same database)',
};

const rows: string[] = [];
const meets: string[] = [];
let persisted = 0;
let total = 0;
const topCommands = new Map<string, number>();
for (const concurrency of LEVELS) {
  const baseline = await load(rawUrl, 'raw', concurrency);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  for (const mode of CASES) {
    // Several runs (the two cores are shared with the load generator and FerretDB): the median.
    const runs: Result[] = [];
    for (let r = 0; r < RUNS; r++) {
      const run = await load(
        mode === 'signed' ? `${group}/inbox` : `${ensemble.url}/ap/inbox`,
        mode,
        concurrency,
        r === 0 ? `${mode}-${concurrency}` : undefined,
      );
      if (mode === 'announce')
        for (const [k, v] of commands) topCommands.set(k, (topCommands.get(k) ?? 0) + v);
      persisted += await threadsRecorded(run.notes);
      total += COUNT;
      runs.push(run);
    }
    const median = (pick: (r: Result) => number) =>
      runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
    const range = (pick: (r: Result) => number) =>
      `${Math.round(Math.min(...runs.map(pick)))}–${Math.round(Math.max(...runs.map(pick)))}`;
    const perSecond = median((r) => r.perSecond);
    const recorded = median((r) => r.recordedPerSecond);
    const p99 = median((r) => r.p99);
    const ok = Math.min(perSecond, recorded) >= 500 && p99 <= 100;
    const cpu = `${median((r) => r.cpu.node).toFixed(1)}, ${median((r) => r.cpu.database).toFixed(1)}, ${median((r) => r.cpu.generator).toFixed(1)}`;
    if (ok) meets.push(`${mode} at ${concurrency}`);
    rows.push(
      `| ${concurrency} | ${LABELS[mode]} (median of ${RUNS} runs; ${range((r) => r.perSecond)}/s, p99 ${range((r) => r.p99)} ms) | **${Math.round(perSecond)}** | **${Math.round(recorded)}** | ${ms(median((r) => r.p50))} | **${ms(p99)}** | ${median((r) => r.commandsPer).toFixed(1)} | ${cpu} | ${runs.reduce((n, r) => n + r.errors, 0)} | ${ok ? 'yes' : 'no'} |`,
    );
  }
  rows.push(
    `| ${concurrency} | ${LABELS.raw} | ${Math.round(baseline.perSecond)} | | ${ms(baseline.p50)} | ${ms(baseline.p99)} | 1 | ${baseline.cpu.node.toFixed(1)}, ${baseline.cpu.database.toFixed(1)}, ${baseline.cpu.generator.toFixed(1)} | ${baseline.errors} | |`,
  );
}
const announced = [...topCommands.entries()]
  .sort((a, b) => b[1] - a[1])
  .map(
    ([name, n]) => `${name} ${(n / (RUNS * COUNT * LEVELS.length)).toFixed(process.env.BENCH_TRACE ? 3 : 1)}`,
  )
  .join(', ');

const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on this machine: ${COUNT.toLocaleString('en')} activities per run, ${RUNS} runs per case, at ${LEVELS.join(', ')} requests at a time (goal: ≥ 500/s with p99 ≤ 100 ms). *Accepted / s*: answers 202 per second; *recorded / s*: until the last post is a thread in the database; *CPU ms / post*: what the node, FerretDB and the load generator used from the start of the load until the last post was recorded and the jobs it left were done, per post (median).

| in flight | case | accepted / s | recorded / s | p50 | p99 | database commands / activity | CPU ms / post (node, FerretDB, load) | errors | goal met |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

${persisted.toLocaleString('en')} of ${total.toLocaleString('en')} posts were threads afterwards. Database commands per announced post, by command: ${announced || 'none'}. Goal met: ${meets.join(', ') || 'nowhere'}.`;
process.stdout.write(`${markdown}\n`);
if (!process.env.BENCH_NO_WRITE) await writeSection('federation-in', markdown);

rawServer.close();
await ensemble.close();
await idp.close();
await closeDatabase();
process.exit(0);
