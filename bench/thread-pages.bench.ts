// Thread and reply pages in a group holding 100k threads and 1M replies, against the same pages of a
// small and an empty group, measured in the same run (issue: thread pages stay fast at that size).
// Run: npm run bench:threads   (BENCH_THREADS / BENCH_REPLIES scale it down for a quick look)
import os from 'node:os';
import { ObjectId } from 'mongodb';
import { collections } from '../server/db/collections.js';
import { encodePosition } from '../server/threads/thread.service.js';
import { loadGroup } from './thread-data.js';
import { load, startBenchDatabase, startBenchNode, table, timeSequential, writeSection } from './lib.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 100_000);
const REPLIES = Number(process.env.BENCH_REPLIES ?? 1_000_000);
const HOT_REPLIES = Math.min(100_000, Math.floor(REPLIES / 2)); // one long thread holds this many
const samples = Number(process.env.BENCH_SAMPLES ?? 20);

const { uri, database, close: closeDatabase } = await startBenchDatabase('bench');
const { db } = database;

const author = new ObjectId();
await db.collection(collections.users).insertOne({
  _id: author,
  handle: 'bench',
  status: 'active',
  profile: {},
  claimsName: 'Bench',
  visibility: {},
});
const group = (handle: string) => ({
  _id: new ObjectId(),
  handle,
  name: handle,
  description: {},
  visibility: 'public',
  joinPolicy: 'open',
  welcomeMessage: null,
  memberCount: 1,
  createdBy: author,
  createdAt: new Date(),
  updatedAt: new Date(),
  deletedAt: null,
  deletedBy: null,
  searchTokens: [],
});
const big = group('big');
const empty = group('empty');
await db.collection(collections.groups).insertMany([big, empty]);

const started = Date.now();
const data = await loadGroup(db, big._id, author, {
  threads: THREADS,
  replies: REPLIES,
  hotReplies: HOT_REPLIES,
});
const small = group('small');
await db.collection(collections.groups).insertOne(small);
// A group of 30 threads, one with 60 replies: the same full pages, at a small size.
const smallData = await loadGroup(db, small._id, author, { threads: 30, replies: 120, hotReplies: 60 });
const loadSeconds = Math.round((Date.now() - started) / 1000);

const ensemble = await startBenchNode(uri, database);
const api = `${ensemble.url}/api/v1`;

const middle = THREADS >> 1;
const deepCursor = encodePosition(data.current[middle]!);
const replyCursor = encodePosition(HOT_REPLIES >> 1);
const get = async <T>(url: string) => (await (await fetch(url)).json()) as T;

// The pages must be the right ones, or their speed means nothing.
const firstPage = await get<{ items: { id: string }[] }>(`${api}/groups/big/threads?limit=20`);
const expected = [0, ...Array.from({ length: 19 }, (_, i) => 1 + ((REPLIES - 1 - i) % (THREADS - 2)))];
if (firstPage.items.map((t) => t.id).join() !== expected.map((j) => data.threadIds[j]!.toHexString()).join())
  throw new Error('the first thread page is not the 20 threads with the latest activity');
const middlePage = await get<{ items: { id: string }[] }>(
  `${api}/threads/${data.hot.toHexString()}/replies?limit=50&cursor=${replyCursor}`,
);
if (
  middlePage.items[0]?.id !== data.replyIds[HOT_REPLIES >> 1]!.toHexString() ||
  middlePage.items.length !== 50
)
  throw new Error('the middle replies page does not start after its cursor');

const threads = (group: string, cursor = '') => `${api}/groups/${group}/threads?limit=20${cursor}`;
const replies = (thread: ObjectId, cursor = '') =>
  `${api}/threads/${thread.toHexString()}/replies?limit=50${cursor}`;
const size = THREADS.toLocaleString('en');
const long = HOT_REPLIES.toLocaleString('en');
// Warm up every URL (JIT, FerretDB's caches) so the first case measured is not the slowest by accident.
const urls = [
  threads('small'),
  threads('empty'),
  threads('big'),
  threads('big', `&cursor=${deepCursor}`),
  replies(smallData.hot),
  replies(data.single),
  replies(data.hot),
  replies(data.hot, `&cursor=${replyCursor}`),
];
for (let i = 0; i < 3; i++) for (const url of urls) await fetch(url).then((r) => r.arrayBuffer());
const rows = [
  await timeSequential('small group (30 threads): first page of 20 (baseline)', threads('small'), samples),
  await timeSequential('empty group: first page (baseline)', threads('empty'), samples),
  await timeSequential(`${size} threads: first page of 20`, threads('big'), samples),
  await timeSequential(
    `${size} threads: page of 20 from the middle`,
    threads('big', `&cursor=${deepCursor}`),
    samples,
  ),
  await timeSequential(
    'thread with 60 replies: first page of 50 (baseline)',
    replies(smallData.hot),
    samples,
  ),
  await timeSequential('thread with 1 reply: replies page', replies(data.single), samples),
  await timeSequential(`thread with ${long} replies: first page of 50`, replies(data.hot), samples),
  await timeSequential(
    `thread with ${long} replies: page of 50 from the middle`,
    replies(data.hot, `&cursor=${replyCursor}`),
    samples,
  ),
  await load('small group: first page, 10 connections for 5 s (baseline)', threads('small'), {
    connections: 10,
  }),
  await load(`${size} threads: first page, 10 connections for 5 s`, threads('big'), { connections: 10 }),
];
const ratio = (a: number, b: number) => (a / Math.max(b, 1)).toFixed(2);
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version} (SQLite); one group with ${size} threads and ${REPLIES.toLocaleString('en')} replies, the longest thread ${long} replies (loaded in ${loadSeconds} s), beside a small and an empty group; ${samples} sequential requests per case (p99 column: the slowest) unless the case says otherwise.

${table(rows)}

At full size, the first thread page takes ${ratio(rows[2]!.p50Ms, rows[0]!.p50Ms)}× the small group's median latency and a middle page ${ratio(rows[3]!.p50Ms, rows[0]!.p50Ms)}×; the long thread's first replies page ${ratio(rows[6]!.p50Ms, rows[4]!.p50Ms)}× the 60-reply thread's and its middle page ${ratio(rows[7]!.p50Ms, rows[4]!.p50Ms)}×; under load the big group serves ${ratio(rows[9]!.requestsPerSecond, rows[8]!.requestsPerSecond)}× the small group's rate.`;
await writeSection('thread-pages', markdown);
process.stdout.write(`${markdown}\n`);

await ensemble.close();
await closeDatabase();
