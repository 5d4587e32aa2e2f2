// bench:postgresql — FerretDB on PostgreSQL (the `ferretdb` profile of docker-compose.yml): the reads every
// page sends, at 200,000 and 500,000 memberships (with a tenth as many people and threads), on the upstream
// FerretDB 1.24.2 and on the FerretDB Ensemble builds, on the same data in the same run
// (docs/adr/0026-postgresql-index-served-filters.md, docs/performance.md).
//
// One throw-away PostgreSQL cluster (Debian's package, tests/helpers/postgresql.ts). The data is written once
// through the upstream FerretDB, then the database is copied (CREATE DATABASE … TEMPLATE) for the other build,
// which finds the indexes upstream made (as after switching images) and adds its array indexes when it opens
// the database; that one-time cost is reported. Both databases are then ANALYZEd. Each read is timed on both
// servers alternately, one request at a time; the plan is PostgreSQL's, as FerretDB's explain reports it.
// Last, both servers insert the same new memberships and threads, to show what the array indexes cost writes.
// Run: npm run bench:postgresql   (BENCH_SIZES=20000 for a quick look; BENCH_WRITE=0 to leave the docs alone)
import os from 'node:os';
import type { Db, Document } from 'mongodb';
import { collections, ensureCollections } from '../server/db/collections.js';
import {
  generate,
  groupId,
  hotReads,
  personId,
  shape,
  type HotRead,
} from '../tests/helpers/department-data.js';
import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../tests/helpers/ferretdb.js';
import { startPrivatePostgreSQL } from '../tests/helpers/postgresql.js';
import { writeSection } from './lib.js';

const SIZES = (process.env.BENCH_SIZES ?? '200000,500000').split(',').map(Number);
const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 8000);
const BUILDS = ['upstream', 'patched'] as const;
type Build = (typeof BUILDS)[number];

function find(db: Db, r: HotRead) {
  let cursor = db.collection(r.collection).find(r.filter);
  if (r.sort) cursor = cursor.sort(r.sort);
  if (r.limit) cursor = cursor.limit(r.limit);
  return cursor;
}

async function run(db: Db, r: HotRead): Promise<number> {
  if (r.count) return db.collection(r.collection).countDocuments(r.filter);
  return (await find(db, r).toArray()).length;
}

/** PostgreSQL's plan, short: its node types and the indexes they use (FerretDB's names shortened). */
async function plan(db: Db, r: HotRead): Promise<string> {
  const explained = (await find(db, r).explain()) as { queryPlanner?: { Plan?: unknown } };
  const nodes: string[] = [];
  const walk = (node: unknown) => {
    const n = node as { 'Node Type'?: string; 'Index Name'?: string; Plans?: unknown[] } | undefined;
    if (!n?.['Node Type']) return;
    // Scans of jsonb_array_elements (the rare exact check of array elements' types) are left out.
    if (n['Node Type'] !== 'Function Scan') {
      const index = n['Index Name']
        ?.replace(/_ensemble_mk$/, ' array index')
        .replace(/^.*?_[0-9a-f]{8}_(.+?)_[0-9a-f]{8}_idx$/, '$1')
        .replace(/^.*?_[0-9a-f]{8}_[0-9a-f]{8} /, '');
      nodes.push(index ? `${n['Node Type']} (${index})` : n['Node Type']);
    }
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(explained.queryPlanner?.Plan);
  return nodes.join(' → ');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const n = (x: number) => x.toLocaleString('en');

/** New documents for the write measurement: memberships of new people, threads with 20 search tokens. */
function fresh(size: number, build: Build): Record<string, Document[]> {
  const { groups, people } = shape({ memberships: size });
  const offset = build === 'upstream' ? 0 : 1;
  const memberships = Array.from({ length: 2000 }, (_, i) => {
    const g = groupId(i % groups);
    const p = personId(people + 10_000 * offset + i);
    return {
      _id: `${g.toHexString()}:${p.toHexString()}`,
      groupId: g,
      userId: p,
      state: 'active',
      role: 'member',
    };
  });
  const words = [
    'budget',
    'report',
    'policy',
    'meeting',
    'draft',
    'review',
    'plan',
    'minutes',
    'notes',
    'agenda',
  ];
  const threads = Array.from({ length: 2000 }, (_, i) => ({
    groupId: groupId(i % groups),
    audience: 'public',
    searchTokens: Array.from({ length: 20 }, (_, w) => `${words[(i + w) % 10]}${w}`),
  }));
  return { [collections.memberships]: memberships, [collections.threads]: threads };
}

const pg = await startPrivatePostgreSQL();
const bins = { upstream: ferretdbBinary('upstream'), patched: ferretdbBinary('patched') };
const version = pg.sql('postgres', 'SHOW server_version').trim();
const sections: string[] = [];
try {
  for (const size of SIZES) {
    const names: Record<Build, string> = { upstream: `upstream${size}`, patched: `patched${size}` };
    pg.createDatabase(names.upstream);
    const loader = await startPrivateFerretDB(bins.upstream!, { postgresqlUrl: pg.url(names.upstream) });
    let started = Date.now();
    await ensureCollections(loader.client.db('ensemble'));
    const written = await generate(loader.client.db('ensemble'), { memberships: size });
    const loadSeconds = Math.round((Date.now() - started) / 1000);
    await loader.stop();
    pg.createDatabase(names.patched, names.upstream);
    process.stdout.write(`${n(size)} memberships: ${n(written)} documents in ${loadSeconds} s\n`);

    const servers = {} as Record<Build, PrivateFerretDB>;
    const openSeconds = {} as Record<Build, number>;
    for (const build of BUILDS) {
      // From start to the first answer: FerretDB reads the database's metadata, and the patched build also
      // makes the array indexes the upstream build never made.
      started = Date.now();
      servers[build] = await startPrivateFerretDB(bins[build]!, { postgresqlUrl: pg.url(names[build]) });
      await servers[build].client
        .db('ensemble')
        .collection<{ _id: string }>(collections.memberships)
        .findOne({ _id: 'none' });
      openSeconds[build] = (Date.now() - started) / 1000;
      pg.sql(names[build], 'ANALYZE');
    }

    const rows: string[][] = [];
    for (const r of hotReads({ memberships: size })) {
      const times = { upstream: [] as number[], patched: [] as number[] };
      const results = {} as Record<Build, number>;
      const start = Date.now();
      // Alternate the builds, at least three times each, until the time budget is spent (nine at most).
      for (let i = 0; i < 9 && (i < 3 || Date.now() - start < BUDGET_MS); i++)
        for (const build of BUILDS) {
          const t = performance.now();
          results[build] = await run(servers[build].client.db('ensemble'), r);
          times[build].push(performance.now() - t);
        }
      if (results.upstream !== results.patched)
        throw new Error(`${r.name}: the builds disagree: ${JSON.stringify(results)}`);
      const up = median(times.upstream);
      const pa = median(times.patched);
      const row = [
        r.name,
        n(results.patched),
        ms(up),
        ms(pa),
        `${Math.round(up / pa)}×`,
        await plan(servers.upstream.client.db('ensemble'), r),
        await plan(servers.patched.client.db('ensemble'), r),
      ];
      rows.push(row);
      process.stdout.write(`${row.join(' | ')}\n`);
    }

    const writes: string[] = [];
    for (const build of BUILDS) {
      const db = servers[build].client.db('ensemble');
      for (const [name, docs] of Object.entries(fresh(size, build))) {
        const t = performance.now();
        for (let i = 0; i < docs.length; i += 100)
          await db.collection(name).insertMany(docs.slice(i, i + 100));
        writes.push(`${build}: ${n(docs.length)} ${name} in ${ms(performance.now() - t)} ms`);
      }
    }
    process.stdout.write(`${writes.join('; ')}\n`);
    for (const build of BUILDS) await servers[build].stop();

    const { groups, people, threads } = shape({ memberships: size });
    sections.push(
      [
        `**${n(size)} memberships** (${n(groups)} groups, ${n(people)} people, ${n(threads)} threads; ${n(written)} documents written in ${loadSeconds} s). From start to the first answer (the patched build also makes its array indexes): upstream ${openSeconds.upstream.toFixed(1)} s, patched ${openSeconds.patched.toFixed(1)} s.`,
        '',
        '| read | documents | upstream (ms) | patched (ms) | faster | upstream plan | patched plan |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows.map((row) => `| ${row.join(' | ')} |`),
        '',
        `Inserts in batches of 100 (array indexes kept by the patched build): ${writes.join('; ')}.`,
      ].join('\n'),
    );
  }
} finally {
  await pg.stop();
}

if (process.env.BENCH_WRITE !== '0')
  await writeSection(
    'postgresql',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, Node ${process.version}, PostgreSQL ${version} (Debian's package; a throw-away cluster, fsync off), FerretDB 1.24.2 upstream and as Ensemble builds it; medians of 3 to 9 runs of each read, one at a time, the builds alternating.`,
      ...sections,
    ].join('\n\n'),
  );
