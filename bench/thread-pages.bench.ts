// Thread and reply pages in a group holding 100k threads and 1M replies, against the same pages of an
// empty group, measured in the same run (issue: indexes keep thread pages fast at that size).
// Run: npm run bench:threads   (BENCH_THREADS / BENCH_REPLIES scale it down for a quick look)
import os from 'node:os';
import { ObjectId } from 'mongodb';
import { collections } from '../server/db/collections.js';
import { encodeCursor } from '../server/threads/thread.service.js';
import { startBenchDatabase, startBenchNode, table, timeSequential, writeSection } from './lib.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 100_000);
const REPLIES = Number(process.env.BENCH_REPLIES ?? 1_000_000);
const HOT_REPLIES = Math.min(100_000, Math.floor(REPLIES / 2)); // one long thread holds this many
const samples = Number(process.env.BENCH_SAMPLES ?? 3);

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

const body = { markdown: 'Some discussion text.', html: '<p>Some discussion text.</p>\n' };
const base = Date.now() - THREADS * 1000;
const started = Date.now();
const threadIds: ObjectId[] = [];
for (let i = 0; i < THREADS; i += 5000) {
  const batch = [];
  for (let j = i; j < Math.min(i + 5000, THREADS); j++) {
    const at = new Date(base + j * 1000);
    const _id = new ObjectId();
    threadIds.push(_id);
    batch.push({
      _id,
      groupId: big._id,
      authorId: author,
      title: `Thread ${j}`,
      body,
      mentions: [],
      likeCount: 0,
      audience: 'public',
      createdAt: at,
      editedAt: null,
      deleted: null,
      searchTokens: [],
      pinned: false,
      locked: false,
      replyCount: 0,
      lastActivityAt: at,
    });
  }
  await db.collection(collections.threads).insertMany(batch, { ordered: false });
}
const hot = threadIds[threadIds.length - 1]!;
const single = threadIds[0]!;
for (let i = 0; i < REPLIES; i += 10_000) {
  const batch = [];
  for (let j = i; j < Math.min(i + 10_000, REPLIES); j++) {
    const threadId = j < HOT_REPLIES ? hot : threadIds[1 + (j % (threadIds.length - 2))]!;
    batch.push({
      _id: new ObjectId(),
      groupId: big._id,
      threadId,
      parentId: null,
      depth: 1,
      authorId: author,
      body,
      mentions: [],
      likeCount: 0,
      audience: 'public',
      createdAt: new Date(base + j * 10),
      editedAt: null,
      deleted: null,
      searchTokens: [],
    });
  }
  await db.collection(collections.replies).insertMany(batch, { ordered: false });
}
await db.collection(collections.replies).insertOne({
  _id: new ObjectId(),
  groupId: big._id,
  threadId: single,
  parentId: null,
  depth: 1,
  authorId: author,
  body,
  mentions: [],
  likeCount: 0,
  audience: 'public',
  createdAt: new Date(),
  editedAt: null,
  deleted: null,
  searchTokens: [],
});
const loadSeconds = Math.round((Date.now() - started) / 1000);

const ensemble = await startBenchNode(uri, database);
const api = `${ensemble.url}/api/v1`;

const middle = THREADS >> 1;
const deepCursor = encodeURIComponent(encodeCursor(new Date(base + middle * 1000), threadIds[middle]!));
const replyCursor = encodeURIComponent(
  encodeCursor(new Date(base + (HOT_REPLIES >> 1) * 10), new ObjectId('000000000000000000000000')),
);
const rows = [
  await timeSequential(
    'empty group: first thread page (baseline)',
    `${api}/groups/empty/threads?limit=20`,
    samples,
  ),
  await timeSequential(
    `${THREADS.toLocaleString('en')} threads: first thread page`,
    `${api}/groups/big/threads?limit=20`,
    samples,
  ),
  await timeSequential(
    `${THREADS.toLocaleString('en')} threads: page from the middle (cursor)`,
    `${api}/groups/big/threads?limit=20&cursor=${deepCursor}`,
    samples,
  ),
  await timeSequential(
    'thread with 1 reply: replies page (baseline)',
    `${api}/threads/${single.toHexString()}/replies?limit=50`,
    samples,
  ),
  await timeSequential(
    `thread with ${HOT_REPLIES.toLocaleString('en')} replies: first page`,
    `${api}/threads/${hot.toHexString()}/replies?limit=50`,
    samples,
  ),
  await timeSequential(
    `thread with ${HOT_REPLIES.toLocaleString('en')} replies: page from the middle`,
    `${api}/threads/${hot.toHexString()}/replies?limit=50&cursor=${replyCursor}`,
    samples,
  ),
];
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version} (SQLite); one group with ${THREADS.toLocaleString('en')} threads and ${REPLIES.toLocaleString('en')} replies (loaded in ${loadSeconds} s), ${samples} sequential requests per case (p99 column: the slowest).

${table(rows)}

First thread page at full size: ${(rows[1]!.p50Ms / Math.max(rows[0]!.p50Ms, 1)).toFixed(1)}× the empty group's median latency; first replies page of the long thread: ${(rows[4]!.p50Ms / Math.max(rows[3]!.p50Ms, 1)).toFixed(1)}× the one-reply thread's.`;
await writeSection('thread-pages', markdown);
process.stdout.write(`${markdown}\n`);

await ensemble.close();
await closeDatabase();
