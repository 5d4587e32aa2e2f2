// P1 — a group's first thread page through the whole stack, 10 connections, against the baselines the issue
// names, measured in the same run: a bare node:http server and a bare Express app answering the same bytes
// (Express is the stack's own ceiling), and the raw driver queries that build the same page (replayed as the
// page sends them: in the same waves of concurrent commands). Realistic content: 20 threads of two or three
// paragraphs by several authors, one to three replies each.
// Run: npm run bench:read-path
import http from 'node:http';
import os from 'node:os';
import express from 'express';
import type { ObjectId } from 'mongodb';
import { MongoClient, type Document } from 'mongodb';
import { freePort } from '../server/core/net.js';
import { connectDatabase, describeServer } from '../server/db/client.js';
import { collections, ensureCollections } from '../server/db/collections.js';
import { generateDepartment } from './scale-data.js';
import {
  load,
  startBenchDatabase,
  startBenchNode,
  startSignedInNode,
  table,
  writeSection,
  type LoadResult,
} from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 10;
const listen = (server: http.Server, port: number) =>
  new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

const { uri, close: closeDatabase } = await startBenchDatabase('read_setup');
const client = new MongoClient(uri, { monitorCommands: true });
await client.connect();
const db = client.db('read_path');
await ensureCollections(db);
const database = { client, db, identity: await describeServer(db), close: () => client.close() };
const signed = await startSignedInNode(uri, database);
const bench = await db.collection(collections.users).findOne({ handle: 'bench' });
await generateDepartment(
  db,
  {
    people: 12,
    organizations: 2,
    groups: 1,
    membersPerGroup: 10,
    threadsPerGroup: 20,
    repliesPerGroup: 40,
    filesPerGroup: 2,
    notificationsPerPerson: 2,
  },
  bench!._id as ObjectId,
);
const path = '/api/v1/groups/g0/threads';
const anonUrl = `${signed.ensemble.url}${path}`;
const cookie = (
  signed.browser.cookies(signed.ensemble.url).size
    ? [...signed.browser.cookies(signed.ensemble.url)].map(([k, v]) => `${k}=${v}`).join('; ')
    : ''
) as string;

// The page must be the realistic one.
const page = (await (await fetch(anonUrl)).json()) as { items: { replyCount: number }[] };
if (page.items.length !== 20 || !page.items.some((t) => t.replyCount > 0)) throw new Error('unexpected page');
const bytes = Buffer.from(await (await fetch(anonUrl)).arrayBuffer());

// Baselines.
const barePort = await freePort();
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes.length) };
const bare = http.createServer((_req, res) => res.writeHead(200, headers).end(bytes));
await listen(bare, barePort);
const expressPort = await freePort();
const app = express();
app.get(path, (_req, res) => {
  res.set(headers).send(bytes);
});
const bareExpress = http.createServer(app);
await listen(bareExpress, expressPort);

// A second node on the same data with the page cache off: every read built, as after a write, from the records
// it keeps (docs/adr/0034-record-cache.md); a third with those off too: every read built from the database.
const uncachedNode = await startBenchNode(uri, await connectDatabase({ uri, dbName: 'read_path' }), {
  env: { PAGE_CACHE: 'off' },
});
// Its driver is watched: the commands that build the signed-in page from the database are the raw baseline.
const watched = new MongoClient(uri, { monitorCommands: true });
await watched.connect();
const watchedDb = watched.db('read_path');
const databaseNode = await startBenchNode(
  uri,
  { client: watched, db: watchedDb, identity: database.identity, close: () => watched.close() },
  { env: { PAGE_CACHE: 'off', RECORD_CACHE: 'off' } },
);

// The raw baseline the issue names: the driver queries that build the same signed-in page from the database
// (what any server must ask the database for this page, with nothing kept), recorded from the node that keeps
// nothing, with the waves of concurrent commands they run in, and replayed raw. The signed-in page itself is
// answered from what its process keeps (ADR 0034): how much less it asks the database is its gain.
const recorded: { command: Document; wave: number }[] = [];
let wave = 0;
let succeededInWave = false;
let recording = false;
watched.on('commandStarted', (e) => {
  if (!recording) return;
  if (succeededInWave) {
    wave++;
    succeededInWave = false;
  }
  const command = { ...e.command };
  for (const k of ['lsid', '$clusterTime', '$db', 'txnNumber', 'apiVersion']) delete command[k];
  recorded.push({ command, wave });
});
watched.on('commandSucceeded', () => {
  if (recording) succeededInWave = true;
});
const databaseUrl = `${databaseNode.url}${path}`;
await fetch(databaseUrl, { headers: { cookie } }).then((r) => r.arrayBuffer());
recording = true;
const built = Buffer.from(await (await fetch(databaseUrl, { headers: { cookie } })).arrayBuffer());
recording = false;
// The same page as the node that keeps records builds for the same reader.
const signedBytes = Buffer.from(await (await fetch(anonUrl, { headers: { cookie } })).arrayBuffer());
if (!built.equals(signedBytes))
  throw new Error(`the page built from the database differs (${built.length} / ${signedBytes.length} bytes)`);
const waves = [...new Set(recorded.map((r) => r.wave))].map((w) =>
  recorded.filter((r) => r.wave === w).map((r) => r.command),
);
// BENCH_PRINT=1 prints the page's commands, wave by wave, and stops (to see what a page costs).
if (process.env.BENCH_PRINT) {
  for (const [i, commands] of waves.entries())
    for (const c of commands) process.stdout.write(`wave ${i}: ${JSON.stringify(c).slice(0, 300)}\n`);
  process.exit(0);
}
const rawPort = await freePort();
const raw = http.createServer((_req, res) => {
  void (async () => {
    for (const commands of waves) await Promise.all(commands.map((c) => db.command(c)));
    res.writeHead(200, { ...headers, 'content-length': String(signedBytes.length) }).end(signedBytes);
  })().catch(() => res.writeHead(500).end());
});
await listen(raw, rawPort);
/** Replies written through a node meanwhile (a write drops what it changes: the reads after it build again). */
const writing = (through: typeof uncachedNode, everyMs: number) => {
  const caller = {
    kind: 'person' as const,
    personId: bench!._id.toHexString(),
    handle: 'bench',
    isAdmin: false,
  };
  const threads = (page as unknown as { items: { id: string }[] }).items.map((t) => t.id);
  let n = 0;
  let failed = 0;
  const timer = setInterval(() => {
    const thread = threads[n++ % threads.length]!;
    through.node.services.threads
      .reply(caller, thread, { body: 'A reply written while the page is read.' })
      .catch(() => failed++);
  }, everyMs);
  return () => {
    clearInterval(timer);
    if (failed) throw new Error(`${failed} of ${n} replies failed`);
    return n;
  };
};

const etag = (await fetch(anonUrl)).headers.get('etag') ?? '';
const signedEtag = (await fetch(anonUrl, { headers: { cookie } })).headers.get('etag') ?? '';
const opts = (h: Record<string, string> = {}) => ({ seconds: SECONDS, connections: CONNECTIONS, headers: h });
for (let i = 0; i < 200; i++) await fetch(anonUrl).then((r) => r.arrayBuffer()); // warm up
const rows: LoadResult[] = [];
/** Each case's rate by its key. */
const rates = new Map<string, number>();
const measure = async (key: string, name: string, url: string, o: ReturnType<typeof opts>) => {
  const row = await load(name, url, o);
  rows.push(row);
  rates.set(key, row.requestsPerSecond);
};
await measure(
  'bare',
  'bare node:http, the same bytes (baseline)',
  `http://127.0.0.1:${barePort}${path}`,
  opts(),
);
await measure(
  'express',
  'bare Express, the same bytes (baseline)',
  `http://127.0.0.1:${expressPort}${path}`,
  opts(),
);
await measure(
  'raw',
  `raw driver queries that build the signed-in page from the database (${recorded.length} commands in ${waves.length} waves), same bytes (baseline)`,
  `http://127.0.0.1:${rawPort}${path}`,
  opts(),
);
await measure('anonymous', 'Ensemble, anonymous', anonUrl, opts());
await measure(
  'anonymous304',
  'Ensemble, anonymous, If-None-Match (304)',
  anonUrl,
  opts(etag ? { 'if-none-match': etag } : {}),
);
await measure('signed', 'Ensemble, signed in', anonUrl, opts({ cookie }));
await measure(
  'signed304',
  'Ensemble, signed in, If-None-Match (304)',
  anonUrl,
  opts(signedEtag ? { cookie, 'if-none-match': signedEtag } : { cookie }),
);
await measure(
  'signedBuilt',
  "Ensemble, signed in, page cache and record cache off (the baseline's queries through the whole stack)",
  databaseUrl,
  opts({ cookie }),
);
await measure(
  'database',
  'Ensemble, page cache and record cache off (every read built from the database)',
  databaseUrl,
  opts(),
);
await measure(
  'records',
  'Ensemble, page cache off (every read built, from kept records)',
  `${uncachedNode.url}${path}`,
  opts(),
);
// The first reads after a write, in the mix a busy group sees: a reply every second, each dropping its thread and
// the group's first page (the writes' own database work is in both cases).
for (const [name, node] of [
  ['page cache and record cache off', databaseNode],
  ['page cache off, kept records', uncachedNode],
] as const) {
  const stop = writing(node, 1000);
  const row = await load(
    `Ensemble, ${name}, a reply written every second meanwhile`,
    `${node.url}${path}`,
    opts(),
  );
  row.name += ` (${stop()} replies)`;
  rows.push(row);
  rates.set(node === databaseNode ? 'databaseWriting' : 'recordsWriting', row.requestsPerSecond);
}
const rate = (key: string) => rates.get(key)!;
const ratio = (a: string, b: string) => rate(a) / rate(b);
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version}; ${CONNECTIONS} connections, ${SECONDS} s per case, autocannon in its own process. The page: a group's first thread page, 20 threads of two or three paragraphs by several authors with one to three replies each (${bytes.length.toLocaleString('en')} bytes of JSON).

${table(rows)}

| goal | measured | |
| --- | --- | --- |
| anonymous ≥ 0.8× bare Express | ${ratio('anonymous', 'express').toFixed(2)}× | ${ratio('anonymous', 'express') >= 0.8 ? 'met' : 'not met'} |
| a 304 ≥ 0.8× bare Express | ${ratio('anonymous304', 'express').toFixed(2)}× | ${ratio('anonymous304', 'express') >= 0.8 ? 'met' : 'not met'} |
| signed in ≥ 0.8× the raw driver queries that build the same page | ${ratio('signed', 'raw').toFixed(2)}× (${ratio('signed', 'express').toFixed(2)}× bare Express; built from the database through the whole stack, ${ratio('signedBuilt', 'raw').toFixed(2)}× the same queries raw) | ${ratio('signed', 'raw') >= 0.8 ? 'met' : 'not met'} |
| uncached ≥ 10× the rate measured before this work (about 20 requests/s) | ${(rate('records') / 20).toFixed(1)}× (${ratio('records', 'database').toFixed(1)}× records off in this run; with a reply every second ${(rate('recordsWriting') / 20).toFixed(1)}×, ${ratio('recordsWriting', 'databaseWriting').toFixed(1)}× records off) | ${rate('records') / 20 >= 10 ? 'met' : 'not met'} |`;
await writeSection('read-path', markdown);
process.stdout.write(`${markdown}\n`);

for (const s of [bare, bareExpress, raw]) s.close();
await uncachedNode.close();
await databaseNode.close();
await watched.close().catch(() => undefined);
await signed.ensemble.close();
await signed.idp.close();
await client.close();
await closeDatabase();
// Something the bench's nodes leave open after they close keeps the event loop alive (not tracked down yet).
process.exit(0);
