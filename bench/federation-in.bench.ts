// Inbound federation: signed Create activities posted to a group's inbox by a remote server (a separate
// process) by a member, each verified, checked, made a thread (and announced) and persisted; against a raw baseline
// in the same run: an Express route on the same database that parses the same body and inserts it.
// Run: npm run bench:federation-in   (BENCH_COUNT, BENCH_CONCURRENCY scale it)
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { projectRoot } from '../server/core/paths.js';
import { collections } from '../server/db/collections.js';
import { startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LEVELS = (process.env.BENCH_CONCURRENCY ?? '8,16,32').split(',').map(Number);

const { uri, database, close: closeDatabase } = await startBenchDatabase('fedin');
const { db } = database;
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
}
const load = (target: string, mode: 'signed' | 'raw', concurrency: number) =>
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
    child.on('message', (m: Result & { type: string }) => resolve(m));
    child.on('exit', (code) => code && reject(new Error(`load generator exited with ${code}`)));
  });

const rows: string[] = [];
let persisted = 0;
let total = 0;
let meets = '';
for (const concurrency of LEVELS) {
  const baseline = await load(rawUrl, 'raw', concurrency);
  // Several runs per level (the two cores are shared with the load generator and FerretDB): the median.
  const runs: Result[] = [];
  for (let r = 0; r < RUNS; r++) {
    const run = await load(`${group}/inbox`, 'signed', concurrency);
    persisted += await db
      .collection(collections.apStreams)
      .countDocuments({ _id: { $in: run.ids as never[] } });
    total += COUNT;
    runs.push(run);
  }
  const median = (pick: (r: Result) => number) =>
    runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  const ours = {
    perSecond: median((r) => r.perSecond),
    p50: median((r) => r.p50),
    p99: median((r) => r.p99),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
  const range = (pick: (r: Result) => number) =>
    `${Math.round(Math.min(...runs.map(pick)))}–${Math.round(Math.max(...runs.map(pick)))}`;
  const ok = ours.perSecond >= 500 && ours.p99 <= 100;
  if (ok) meets += `${meets ? ', ' : ''}${concurrency}`;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  rows.push(
    `| ${concurrency} | Ensemble: signed \`Create\` verified, checked, made a thread (announced to member nodes), persisted (median of ${RUNS} runs; ${range((r) => r.perSecond)}/s, p99 ${range((r) => r.p99)} ms) | **${Math.round(ours.perSecond)}** | ${ms(ours.p50)} | **${ms(ours.p99)}** | ${ours.errors} | ${ok ? 'yes' : 'no'} |`,
    `| ${concurrency} | raw baseline: parse and insert (same database) | ${Math.round(baseline.perSecond)} | ${ms(baseline.p50)} | ${ms(baseline.p99)} | ${baseline.errors} | |`,
  );
}

const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on this machine: ${COUNT.toLocaleString('en')} activities per run, ${RUNS} runs per level, at ${LEVELS.join(', ')} requests at a time (goal: ≥ 500/s with p99 ≤ 100 ms).

| in flight | case | accepted / s | p50 | p99 | errors | goal met |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

${persisted.toLocaleString('en')} of ${total.toLocaleString('en')} signed activities were found in the group's inbox stream afterwards. Goal met at ${meets || 'no level'} in flight.`;
process.stdout.write(`${markdown}\n`);
await writeSection('federation-in', markdown);

rawServer.close();
await ensemble.close();
await idp.close();
await closeDatabase();
process.exit(0);
