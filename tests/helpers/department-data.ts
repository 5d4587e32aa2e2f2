// A department's memberships, people and threads, shaped as Ensemble writes them (server/groups, server/people,
// server/threads), generated deterministically so that every server in a run holds the same documents; and
// the reads Ensemble's repositories send on them. Used by bench:postgresql and
// tests/integration/ferretdb-postgresql.test.ts.
import { ObjectId, type Db, type Document, type Sort } from 'mongodb';
import { collections } from '../../server/db/collections.js';

export interface PostgresqlBenchSize {
  memberships: number;
}

const oid = (kind: number, n: number) =>
  new ObjectId(kind.toString(16).padStart(8, '0') + n.toString(16).padStart(16, '0'));
export const groupId = (n: number) => oid(1, n);
export const personId = (n: number) => oid(2, n);
export const threadId = (n: number) => oid(3, n);
export const handleOf = (n: number) => `p${n}`;

/** A word only every 500th thread holds (`rare1` is thread 500's): a search that finds one thread. */
export const rareWord = (n: number) => `rare${Math.floor(n / 500) % 97}`;
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
const names = ['ana', 'eloise', 'samir', 'lin', 'marc', 'oumar', 'sophie', 'jean', 'priya', 'tom'];

/** 100 members a group, ten groups a person, a thread per ten memberships. */
export function shape(size: PostgresqlBenchSize) {
  const groups = Math.max(1, Math.round(size.memberships / 100));
  const people = Math.max(10, Math.round(size.memberships / 10));
  const threads = Math.round(size.memberships / 10);
  return { groups, people, threads };
}

export async function generate(db: Db, size: PostgresqlBenchSize): Promise<number> {
  const { groups, people, threads } = shape(size);
  const states = [
    'active',
    'active',
    'active',
    'active',
    'active',
    'active',
    'active',
    'requested',
    'invited',
    'banned',
  ];
  const roles = [
    'member',
    'member',
    'member',
    'member',
    'member',
    'member',
    'member',
    'moderator',
    'admin',
    'owner',
  ];
  const base = Date.UTC(2026, 0, 1);
  let written = 0;
  const insert = async (name: string, make: (i: number) => Record<string, unknown>, count: number) => {
    const c = db.collection(name);
    for (let from = 0; from < count; from += 2000) {
      const docs = [];
      for (let i = from; i < Math.min(count, from + 2000); i++) docs.push(make(i));
      await c.insertMany(docs, { ordered: false });
      written += docs.length;
    }
  };
  await insert(
    collections.memberships,
    (i) => {
      // Member k of group g is person (g * 7 + k * 13) mod people: each person in about ten groups, never
      // twice in one group.
      const g = i % groups;
      const k = Math.floor(i / groups);
      const p = (g * 7 + k * 13) % people;
      return {
        _id: `${groupId(g).toHexString()}:${personId(p).toHexString()}`,
        groupId: groupId(g),
        userId: personId(p),
        state: states[k % states.length],
        role: roles[(k * 3) % roles.length],
        createdAt: new Date(base + i * 60_000),
      };
    },
    size.memberships,
  );
  await insert(
    collections.users,
    (i) => ({
      _id: personId(i),
      handle: handleOf(i),
      status: i % 50 === 0 ? 'deactivated' : 'active',
      organizationId: groupId(i % 100),
      profile: { displayName: `${names[i % 10]} ${names[((i / 10) % 10) | 0]} ${i}` },
      searchTokens: [handleOf(i), names[i % 10], names[Math.floor(i / 10) % 10], `org${i % 100}`],
      createdAt: new Date(base + i * 1000),
    }),
    people,
  );
  await insert(
    collections.threads,
    (i) => {
      const tokens = new Set<string>();
      for (let w = 0; w < 20; w++) tokens.add(`${words[(i + w * 3) % words.length]}${w % 4 ? '' : w}`);
      if (i % 500 === 0) tokens.add(rareWord(i));
      return {
        _id: threadId(i),
        groupId: groupId(i % groups),
        authorId: personId(i % people),
        audience: i % 3 === 0 ? 'members' : 'public',
        title: `Thread ${i}`,
        createdAt: new Date(base + i * 60_000),
        deletedAt: null,
        searchTokens: [...tokens],
      };
    },
    threads,
  );
  return written;
}

/** One read Ensemble sends: a find (sorted and limited when the repository pages), or a count. */
export interface HotRead {
  name: string;
  collection: string;
  filter: Document;
  sort?: Sort;
  limit?: number;
  count?: boolean;
  /** Finds array values (served by the field's array index on PostgreSQL). */
  arrays?: boolean;
}

/** The reads that every page view sends (the repositories' shapes, on a group, a person and their posts). */
export function hotReads(size: PostgresqlBenchSize): HotRead[] {
  const { groups, people, threads } = shape(size);
  const gn = Math.floor(groups / 2);
  const g = groupId(gn);
  const p = personId(Math.floor(people / 3));
  const memberIds = Array.from(
    { length: 20 },
    (_, k) => `${g.toHexString()}:${personId((gn * 7 + k * 13) % people).toHexString()}`,
  );
  const m = collections.memberships;
  return [
    {
      name: 'a group’s members, first page',
      collection: m,
      filter: { groupId: g, state: 'active' },
      sort: { _id: 1 },
      limit: 51,
    },
    {
      name: 'a group’s members, next page',
      collection: m,
      filter: { groupId: g, state: 'active', _id: { $gt: memberIds[0] } },
      sort: { _id: 1 },
      limit: 51,
    },
    { name: 'a group’s memberships (unsorted, 50)', collection: m, filter: { groupId: g }, limit: 50 },
    {
      name: 'count a group’s active members',
      collection: m,
      filter: { groupId: g, state: 'active' },
      count: true,
    },
    {
      name: 'a person’s groups',
      collection: m,
      filter: { userId: p, state: { $in: ['active', 'invited'] } },
    },
    { name: '20 memberships by `_id` (`$in`)', collection: m, filter: { _id: { $in: memberIds } } },
    { name: 'a membership by `_id`', collection: m, filter: { _id: memberIds[3] } },
    {
      name: 'a person by handle',
      collection: collections.users,
      filter: { handle: handleOf(Math.floor(people / 4)) },
    },
    {
      name: '20 people by `_id` (`$in`)',
      collection: collections.users,
      filter: { _id: { $in: Array.from({ length: 20 }, (_, k) => personId((k * 97) % people)) } },
    },
    {
      name: 'people search (two words), first page',
      collection: collections.users,
      filter: { status: 'active', searchTokens: { $all: ['marc', 'org42'] } },
      sort: { handle: 1 },
      limit: 21,
      arrays: true,
    },
    {
      name: 'a group’s public threads, newest first',
      collection: collections.threads,
      filter: { groupId: g, audience: 'public' },
      sort: { _id: -1 },
      limit: 20,
    },
    {
      name: 'search threads: a rare word and a common one',
      collection: collections.threads,
      filter: { searchTokens: { $all: [rareWord(500), 'budget'] }, audience: 'public' },
      sort: { _id: -1 },
      limit: 20,
      arrays: true,
    },
    {
      name: 'search threads: two common words',
      collection: collections.threads,
      filter: { searchTokens: { $all: ['budget', 'report'] }, audience: 'public' },
      sort: { _id: -1 },
      limit: 20,
      arrays: true,
    },
    {
      name: '20 threads by `_id` (`$in`)',
      collection: collections.threads,
      filter: { _id: { $in: Array.from({ length: 20 }, (_, k) => threadId((k * 131) % threads)) } },
    },
  ];
}
