// bench:scale — the reads people make every day, on a department-sized node (50,000 people, 5,000 groups,
// 500,000 memberships, 1,000,000 posts, 100,000 files, 1,000,000 notifications) against a small node
// (a hundredth of it) in the same run, on the embedded default database. Groups, people and inboxes are of the
// same typical size on both: what grows is everything around them. Goal: each read at full size within 1.5×
// of the small node's median (docs/performance.md, issue "Fast at department scale").
// Run: npm run bench:scale   (BENCH_SCALE=0.1 for a quick look at a tenth of the department)
import os from 'node:os';
import type { ObjectId } from 'mongodb';
import type { ApiClient } from '../tests/helpers/browser.js';
import { collections } from '../server/db/collections.js';
import { generateDepartment, type DepartmentSize } from './scale-data.js';
import { startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const typical = {
  membersPerGroup: 100,
  threadsPerGroup: 40,
  repliesPerGroup: 160,
  filesPerGroup: 20,
  notificationsPerPerson: 20,
};
const sizes: Record<'small' | 'full', DepartmentSize> = {
  small: { people: 500, organizations: 10, groups: 50, ...typical },
  full: {
    people: Math.round(50_000 * SCALE),
    organizations: Math.max(10, Math.round(100 * SCALE)),
    groups: Math.round(5_000 * SCALE),
    ...typical,
  },
};

interface Node {
  client: ApiClient;
  url: string;
  threadId: string;
  close(): Promise<void>;
}

const { uri, close: closeDatabase } = await startBenchDatabase('scale_setup');
const nodes: Partial<Record<'small' | 'full', Node>> = {};
const generated: Record<string, { documents: number; seconds: number }> = {};
for (const which of ['small', 'full'] as const) {
  const { connectDatabase } = await import('../server/db/client.js');
  const { ensureCollections } = await import('../server/db/collections.js');
  const database = await connectDatabase({ uri, dbName: `scale_${which}` });
  await ensureCollections(database.db);
  const { ensemble, idp, client } = await startSignedInNode(uri, database);
  const bench = await database.db.collection(collections.users).findOne({ handle: 'bench' });
  const started = Date.now();
  const department = await generateDepartment(database.db, sizes[which], bench!._id as ObjectId);
  generated[which] = { documents: department.documents, seconds: Math.round((Date.now() - started) / 1000) };
  process.stdout.write(`${which}: ${department.documents} documents in ${generated[which]!.seconds} s\n`);
  const threads = (await client.call('GET', '/groups/g0/threads')).body as { items: { id: string }[] };
  const first = await client.call('GET', `/threads/${threads.items[0]!.id}/replies`);
  if (first.status !== 200)
    throw new Error(
      `${which}: the first thread of g0 answers ${first.status} (${JSON.stringify(first.body).slice(0, 200)})`,
    );
  nodes[which] = {
    client,
    url: ensemble.url,
    threadId: threads.items[0]!.id,
    close: async () => {
      await ensemble.close();
      await idp.close();
      await database.close();
    },
  };
}

const reads: [string, (n: Node) => string][] = [
  ['a group (its counts and moderators)', () => '/groups/g0'],
  ["a group's members, first page", () => '/groups/g0/members?limit=50'],
  ["a group's threads, first page", () => '/groups/g0/threads'],
  ["a thread's replies, first page", (n) => `/threads/${n.threadId}/replies`],
  ["a group's files", () => '/groups/g0/files'],
  ["a group's report queue", () => '/groups/g0/reports'],
  ['the group directory, first page', () => '/groups?limit=20'],
  ['my home feed', () => '/feed'],
  ['search (a word in 20 posts)', () => '/search?q=zephyrcode'],
  ['search files by name', () => '/search/files?q=budget'],
  ['a person by handle', () => '/people/p2'],
  ["a person's groups", () => '/people/p2/memberships'],
  ['people of an organization', () => '/organizations/org-2/people'],
  ['the people directory, by name', () => '/people?q=sophie'],
  ['my notifications', () => '/notifications'],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(node: Node, path: string, which = ''): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES + 3; i++) {
    const start = performance.now();
    const res = await node.client.call('GET', path);
    const ms = performance.now() - start;
    if (res.status !== 200)
      throw new Error(`${which} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    if (i >= 3) times.push(ms); // the first three warm caches
  }
  return times;
}

const rows: string[] = [];
let worst = 0;
for (const [name, path] of reads) {
  // Alternate small and full so that the machine's state weighs on both alike.
  const small: number[] = [];
  const full: number[] = [];
  for (let round = 0; round < 2; round++) {
    small.push(...(await time(nodes.small!, path(nodes.small!), 'small')));
    full.push(...(await time(nodes.full!, path(nodes.full!), 'full')));
  }
  const ratio = median(full) / median(small);
  worst = Math.max(worst, ratio);
  rows.push(
    `| ${name} | \`${path(nodes.full!)}\` | ${median(small).toFixed(1)} | ${median(full).toFixed(1)} | ${ratio.toFixed(2)}× |`,
  );
  process.stdout.write(`${rows[rows.length - 1]!}\n`);
}
for (const n of Object.values(nodes)) await n!.close();
await closeDatabase();

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
await writeSection(
  'scale',
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}, the FerretDB Ensemble builds (SQLite), one database server for both nodes; each read ${SAMPLES * 2} times per node, signed in, one request at a time, small and full alternating.`,
    '',
    `Full department: ${sizes.full.people.toLocaleString('en')} people in ${sizes.full.organizations} organizations, ${sizes.full.groups.toLocaleString('en')} groups, ${(sizes.full.groups * typical.membersPerGroup).toLocaleString('en')} memberships, ${(sizes.full.groups * (typical.threadsPerGroup + typical.repliesPerGroup)).toLocaleString('en')} posts, ${(sizes.full.groups * typical.filesPerGroup).toLocaleString('en')} files, ${(sizes.full.people * typical.notificationsPerPerson).toLocaleString('en')} notifications: ${generated.full!.documents.toLocaleString('en')} documents generated in ${generated.full!.seconds} s. Small node: ${sizes.small.people} people, ${sizes.small.groups} groups, the same group and inbox sizes (${generated.small!.documents.toLocaleString('en')} documents).`,
    '',
    '| read | request | small node, median (ms) | full department, median (ms) | full / small |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Worst ratio: ${worst.toFixed(2)}× (goal ≤ 1.5×).`,
  ].join('\n'),
);
