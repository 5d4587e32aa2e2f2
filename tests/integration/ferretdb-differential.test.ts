import { EJSON } from 'bson';
import { Binary, ObjectId, type Db, type Document, type Filter, type Sort } from 'mongodb';
import { collections, ensureCollections } from '../../server/db/collections.js';
import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';
import {
  postgresqlUnavailable,
  startPrivatePostgreSQL,
  type PrivatePostgreSQL,
} from '../helpers/postgresql.js';

/**
 * The project's FerretDB build pushes equality and `$in` down to the indexes of SQLite (ADR 0013) and of
 * PostgreSQL (ADR 0026). That is only safe if every command returns exactly what an unpatched FerretDB
 * returns: this runs the same data and the same filters (the shapes Ensemble's repositories send, and the
 * cases where a wrong WHERE would lose or add documents) against both builds, on each backend, through find,
 * count, distinct, aggregate, update, findAndModify and delete, and fails on any difference.
 *
 * PostgreSQL is a throw-away cluster of Debian's `postgresql` package (tests/helpers/postgresql.ts); CI
 * installs it (scripts/install-system-deps.sh). Without it, the PostgreSQL half is skipped with the reason.
 */
const patchedBin = ferretdbBinary('patched');
const upstreamBin = patchedBin ? ferretdbBinary('upstream') : undefined;
const noPostgreSQL = postgresqlUnavailable();
// CI installs PostgreSQL (scripts/install-system-deps.sh): there, not having it is a failure, not a skip.
if (noPostgreSQL && patchedBin && process.env.CI)
  throw new Error(`FerretDB on PostgreSQL cannot be compared: ${noPostgreSQL}`);

interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  /**
   * Start the patched and the upstream server (in that order) on empty databases of this backend; the
   * patched server's errors go to onError.
   */
  start(onError: (line: string) => void): Promise<{ servers: PrivateFerretDB[]; stop(): Promise<void> }>;
  /** What the plan of an array lookup shows when the field's array index serves it. */
  arrayIndexPlan: RegExp;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    start: async () => {
      const servers = await Promise.all([
        startPrivateFerretDB(patchedBin!),
        startPrivateFerretDB(upstreamBin!),
      ]);
      return { servers, stop: async () => void (await Promise.all(servers.map((s) => s.stop()))) };
    },
    arrayIndexPlan: /VIRTUAL TABLE/,
  },
  {
    name: 'PostgreSQL',
    start: async (onError) => {
      const pg: PrivatePostgreSQL = await startPrivatePostgreSQL();
      try {
        pg.createDatabase('patched');
        pg.createDatabase('upstream');
        const servers = await Promise.all([
          startPrivateFerretDB(patchedBin!, { postgresqlUrl: pg.url('patched'), onError }),
          startPrivateFerretDB(upstreamBin!, { postgresqlUrl: pg.url('upstream') }),
        ]);
        return {
          servers,
          stop: async () => {
            await Promise.all(servers.map((s) => s.stop()));
            await pg.stop();
          },
        };
      } catch (err) {
        await pg.stop();
        throw err;
      }
    },
    arrayIndexPlan: /Bitmap Index Scan.*_ensemble_mk/,
  },
];

/** A small deterministic generator, so both servers hold the same documents. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

const oid = (n: number) => new ObjectId(n.toString(16).padStart(24, '0'));
const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 60_000);
const groupIds = Array.from({ length: 6 }, (_, i) => oid(0x100 + i));
const personIds = Array.from({ length: 30 }, (_, i) => oid(0x200 + i));
const hexTwin = oid(0x999);
const odd = ['<a>', 'x&y', 'q"uote', 'back\\slash', '\u2028ls', 'é', '😀', '[notarray', 'ab\tc', '\u0001'];

function edgeDocuments(): Document[] {
  const docs: Document[] = [];
  let i = 0;
  const add = (doc: Document) => docs.push({ _id: `e${i++}`, ...doc });
  for (const s of ['plain', ...odd]) {
    add({ f: s, g: 'x', h: 'y', u: `u${i}`, n: i });
    add({ f: [s, 'other'], g: 'x', h: 'z', u: `u${i}` });
  }
  add({ f: hexTwin, g: 'y', h: 'y', u: 'u-oid' });
  add({ f: hexTwin.toHexString(), g: 'y', u: 'u-hex' });
  add({ f: [hexTwin, 'plain'], u: 'u-oids' });
  add({ f: [], u: 'u-empty' });
  add({ f: null, u: 'u-null' });
  add({ u: 'u-missing' });
  add({ f: 5, u: 'u-five' });
  add({ f: 5.5, u: 'u-float' });
  add({ f: '5', u: 'u-five-string' });
  add({ f: true, u: 'u-true' });
  add({ f: at(3), u: 'u-date' });
  add({ f: { x: 'plain' }, d: { x: 'plain' }, u: 'u-doc' });
  add({ f: [{ x: 'plain' }], d: [{ x: 'plain' }], u: 'u-doc-array' });
  add({ f: [5, 'plain', null], arr: ['a', 'b'], u: 'u-mixed' });
  add({ f: 'plain', arr: 'a', u: 'u-scalar-arr' });
  add({ g: ['x', 'y'], h: 'y', u: 'u-g-array' });
  // Arrays found through the side table (FTS5): case, punctuation, several words, no words at all, IRIs.
  add({ f: ['Alpha', 'beta gamma'], arr: ['budget', 'report'], u: 'u-words' });
  add({ f: ['alpha'], arr: ['BUDGET'], u: 'u-lower' });
  add({ f: ['!!!', 'x&y'], arr: ['rapport', 'budget', 'report'], u: 'u-punct' });
  add({ f: ['http://a.example/x/y', 'gamma beta'], arr: ['budget-report'], u: 'u-iri' });
  add({ f: 'beta gamma', arr: 'budget', u: 'u-scalar-words' });
  // Values whose JSON text is a string's (an ObjectId's hex, a regex's pattern, a binary's base64), in arrays
  // and alone, sorting before the strings they look like; and an array in a field that leads no index.
  add({ f: [hexTwin], u: 'u-a-oid' });
  add({ f: [/plain/], u: 'u-a-regex' });
  add({ f: /plain/, u: 'u-a-regex-scalar' });
  add({ f: [Binary.createFromBase64('YWJj')], u: 'u-a-binary' });
  add({ f: 'YWJj', u: 'u-base64' });
  add({ g: 'x', h: ['q', 'y'], u: 'u-h-array' });
  return docs;
}

function appDocuments(): Record<string, Document[]> {
  const rnd = random(7);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const states = ['active', 'requested', 'invited', 'banned'];
  const roles = ['owner', 'admin', 'moderator', 'member'];
  const memberships: Document[] = [];
  const seen = new Set<string>();
  for (let n = 0; n < 120; n++) {
    const groupId = pick(groupIds);
    const userId = pick(personIds);
    const key = `${groupId.toHexString()}:${userId.toHexString()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    memberships.push({ _id: key, groupId, userId, state: pick(states), role: pick(roles), createdAt: at(n) });
  }
  const users = personIds.map((id, n) => ({
    _id: id,
    handle: `person${n}`,
    status: n % 7 === 0 ? 'deactivated' : 'active',
    organizationId: pick(groupIds.slice(0, 3)),
    email: `person${n}@dept${n % 3}.example`,
    searchTokens: [`person${n}`, `dept${n % 3}`, n % 2 ? 'ana' : 'eloise'],
  }));
  const threads = Array.from({ length: 60 }, (_, n) => ({
    _id: oid(0x300 + n),
    groupId: pick(groupIds),
    authorId: pick(personIds),
    createdAt: at(n),
    audience: pick(['public', 'node', 'members']),
    deletedAt: n % 9 === 0 ? at(n + 1) : null,
    searchTokens: ['budget', n % 2 ? 'rapport' : 'report'],
  }));
  const reports = Array.from({ length: 20 }, (_, n) => ({
    _id: oid(0x400 + n),
    groupId: pick(groupIds),
    state: pick(['open', 'resolved']),
    createdAt: at(n),
  }));
  const files = Array.from({ length: 30 }, (_, n) => ({
    _id: oid(0x500 + n),
    groupId: pick(groupIds),
    folderId: n % 3 ? null : oid(0x600 + (n % 2)),
    deletedAt: n % 5 ? null : at(n),
    name: `file${n}.txt`,
    createdAt: at(n),
  }));
  const groupInvitations = Array.from({ length: 10 }, (_, n) => ({
    _id: oid(0x700 + n),
    groupId: pick(groupIds),
    email: `Person${n}@Dept.example`.toLowerCase(),
  }));
  return {
    [collections.memberships]: memberships,
    [collections.users]: users,
    [collections.threads]: threads,
    [collections.reports]: reports,
    [collections.files]: files,
    [collections.groupInvitations]: groupInvitations,
  };
}

/** Documents of any shape, `_id` included (strings here, ObjectIds there). */
type AnyDoc = { _id: string | ObjectId; [field: string]: unknown };
type Shape = { collection: string; filter: Filter<AnyDoc>; field?: string };

function shapes(): Shape[] {
  const g = groupIds[1]!;
  const p = personIds[3]!;
  const edge = (filter: Shape['filter']): Shape => ({ collection: 'edge', filter, field: 'u' });
  const app: Shape[] = [
    { collection: collections.memberships, filter: { groupId: g }, field: 'userId' },
    { collection: collections.memberships, filter: { groupId: g, state: 'active' }, field: 'role' },
    {
      collection: collections.memberships,
      filter: { groupId: g, state: 'active', role: { $in: ['owner', 'admin', 'moderator'] } },
      field: 'userId',
    },
    { collection: collections.memberships, filter: { groupId: g, state: 'active', userId: { $ne: p } } },
    { collection: collections.memberships, filter: { userId: p }, field: 'groupId' },
    { collection: collections.memberships, filter: { userId: p, state: { $in: ['active', 'invited'] } } },
    { collection: collections.memberships, filter: { userId: p, role: 'owner', state: 'active' } },
    { collection: collections.memberships, filter: { _id: `${g.toHexString()}:${p.toHexString()}` } },
    {
      collection: collections.memberships,
      filter: { _id: `${g.toHexString()}:${p.toHexString()}`, role: { $ne: 'owner' } },
    },
    { collection: collections.memberships, filter: { groupId: { $in: groupIds.slice(0, 3) } } },
    { collection: collections.users, filter: { handle: 'person4' }, field: 'status' },
    {
      collection: collections.users,
      filter: { handle: { $in: ['person1', 'person7', 'nobody'] }, status: 'active' },
    },
    { collection: collections.users, filter: { _id: { $in: personIds.slice(0, 9) }, status: 'active' } },
    {
      collection: collections.users,
      filter: { organizationId: groupIds[0], status: 'active' },
      field: 'handle',
    },
    { collection: collections.users, filter: { status: 'active' }, field: 'organizationId' },
    { collection: collections.users, filter: { searchTokens: 'ana', status: 'active' } },
    { collection: collections.users, filter: { searchTokens: { $all: ['ana', 'dept1'] } } },
    { collection: collections.users, filter: { email: 'person2@dept2.example' } },
    { collection: collections.threads, filter: { groupId: g, deletedAt: null }, field: 'audience' },
    { collection: collections.threads, filter: { groupId: { $in: groupIds.slice(2) }, audience: 'public' } },
    { collection: collections.threads, filter: { _id: { $in: [oid(0x301), oid(0x305), oid(0x999)] } } },
    { collection: collections.threads, filter: { deletedAt: null, audience: 'public' } },
    {
      collection: collections.threads,
      filter: { searchTokens: { $all: ['budget', 'rapport'] }, audience: 'public' },
    },
    { collection: collections.reports, filter: { groupId: g, state: 'open' }, field: 'state' },
    { collection: collections.files, filter: { groupId: g, folderId: null, deletedAt: null } },
    { collection: collections.files, filter: { groupId: g, folderId: oid(0x600) } },
    // A feed: the newest posts of several groups, walked within each group (ADR 0013, "Ordered walks").
    { collection: collections.threads, filter: { groupId: { $in: groupIds.slice(0, 3) }, deletedAt: null } },
    {
      collection: collections.threads,
      filter: { groupId: { $in: groupIds.slice(1, 4) }, deletedAt: null, _id: { $lt: oid(0x320) } },
    },
    // Many matches of a sorted page: walked in an ordered index (ADR 0013, "Ordered walks").
    { collection: collections.files, filter: { deletedAt: null } },
    { collection: collections.users, filter: { status: 'active', searchTokens: { $all: ['ana'] } } },
    { collection: collections.groupInvitations, filter: { email: 'person3@dept.example' } },
    // Keyset pages: a range on the sort key beside equalities.
    {
      collection: collections.memberships,
      filter: { groupId: g, state: 'active', _id: { $gt: `${g.toHexString()}:` } },
    },
    { collection: collections.memberships, filter: { groupId: g, createdAt: { $lt: at(60), $gte: at(5) } } },
    { collection: collections.threads, filter: { groupId: g, deletedAt: null, createdAt: { $lt: at(40) } } },
    { collection: collections.users, filter: { status: 'active', handle: { $gt: 'person2' } } },
    { collection: collections.users, filter: { organizationId: groupIds[0], _id: { $lte: personIds[20] } } },
  ];
  return [
    ...app,
    edge({ f: 'plain' }),
    edge({ f: 'YWJj' }),
    edge({ f: { $in: ['YWJj', 'plain'] } }),
    edge({ f: { $all: ['plain'] }, g: { $exists: false } }),
    edge({ h: 'q' }),
    edge({ g: 'x', h: { $in: ['q', 'z'] } }),
    edge({ f: hexTwin }),
    edge({ f: hexTwin.toHexString() }),
    edge({ f: { $eq: 'plain' } }),
    edge({ f: { $in: ['plain', '<a>'] } }),
    edge({ f: { $in: [hexTwin, 'plain'] } }),
    edge({ f: { $in: [hexTwin, 5] } }),
    edge({ f: { $in: [null, 'plain'] } }),
    edge({ f: { $in: [/^pl/, 'x&y'] } }),
    edge({ f: { $in: [] } }),
    edge({ f: { $nin: ['plain'] } }),
    edge({ f: { $ne: 'plain' } }),
    edge({ f: null }),
    edge({ f: { $eq: null } }),
    edge({ f: { $exists: true } }),
    edge({ f: { $exists: false } }),
    edge({ f: 5 }),
    edge({ f: '5' }),
    edge({ f: true }),
    edge({ f: at(3) }),
    edge({ f: { $regex: '^pl' } }),
    edge({ f: { $gt: 'a' } }),
    edge({ f: { $all: ['plain', 'other'] } }),
    edge({ f: ['plain', 'other'] }),
    edge({ f: [] }),
    edge({ f: { x: 'plain' } }),
    edge({ 'f.x': 'plain' }),
    edge({ 'd.x': 'plain' }),
    edge({ f: 'plain', n: 0 }),
    edge({ f: 'plain', g: 'x' }),
    edge({ g: 'x', h: 'y' }),
    edge({ g: 'x' }),
    edge({ h: 'y' }),
    edge({ u: 'u-oid' }),
    edge({ u: { $in: ['u-null', 'u-missing', 'u-nope'] } }),
    edge({ _id: 'e3' }),
    edge({ _id: { $in: ['e1', 'e4', 'nope'] } }),
    edge({ _id: 'e3', f: 'nomatch' }),
    edge({ _id: { $in: ['e1', 'e2'] }, f: { $exists: true } }),
    edge({ arr: 'a' }),
    edge({ f: 'alpha' }),
    edge({ f: 'Alpha' }),
    edge({ f: 'beta' }),
    edge({ f: 'beta gamma' }),
    edge({ f: 'gamma beta' }),
    edge({ f: '!!!' }),
    edge({ f: { $in: ['alpha', '!!!'] } }),
    edge({ f: 'http://a.example/x/y' }),
    edge({ arr: 'budget' }),
    edge({ arr: 'BUDGET' }),
    edge({ arr: 'budget-report' }),
    edge({ arr: { $all: ['budget', 'report'] } }),
    edge({ arr: { $all: ['budget'] } }),
    edge({ arr: { $all: ['report', 'budget', 'rapport'] } }),
    edge({ arr: { $all: ['budget', 'budget'] } }),
    edge({ arr: { $all: ['budget', 'nowhere'] } }),
    edge({ arr: { $all: [] } }),
    edge({ arr: { $all: ['budget'] }, u: { $in: ['u-words', 'u-punct', 'u-iri'] } }),
    edge({ f: { $all: ['plain'] } }),
    edge({ u: { $gt: 'u5' } }),
    edge({ f: { $gt: 'a', $lt: 'q' } }),
    edge({ f: { $gte: hexTwin } }),
    edge({ f: { $lt: at(4) } }),
    edge({ arr: { $gt: 'c' } }),
    edge({ arr: { $gt: 'c', $lt: 'd' } }),
    // Upper case sorts before lower case byte by byte (BSON), not in a language's collation.
    edge({ arr: { $lt: 'a' } }),
    edge({ f: { $lt: 'a' } }),
    edge({ g: 'x', h: { $lte: 'y' } }),
    // Bounds on the key of an ordered index: a walk starts at them.
    edge({ u: { $gt: 'u1' } }),
    edge({ u: { $lt: 'u5' }, g: 'x' }),
    edge({ u: { $gte: 'u-', $lt: 'u-s' } }),
    // An equality on the keys before an ordered index's last: a walk within it.
    edge({ g: 'x' }),
    edge({ g: 'y', u: { $gt: 'u-h' } }),
    edge({ arr: { $in: ['a', 'z'] } }),
    edge({ $or: [{ f: 'plain' }, { f: hexTwin }] }),
    edge({ $and: [{ f: 'plain' }, { g: 'x' }] }),
    ...odd.map((s) => edge({ f: s })),
    edge({ f: { $in: odd } }),
  ];
}

/** Sorts to page each collection by, as Ensemble's listings do, plus types that cannot be served exactly. */
function sortsFor(collection: string): Sort[] {
  const byId: Sort = { _id: 1 };
  switch (collection) {
    case 'edge':
      return [
        byId,
        { f: 1, _id: 1 },
        { f: -1, _id: 1 },
        { n: -1, _id: 1 },
        { u: 1, _id: -1 },
        { g: 1, h: -1, _id: 1 },
        { missing: 1, _id: 1 },
        // One key with an ordered index (unique values): pages of many matches are walked in it.
        { u: 1 },
        { u: -1 },
      ];
    case collections.memberships:
      return [byId, { createdAt: -1, _id: 1 }, { role: 1, createdAt: 1, _id: 1 }];
    case collections.users:
      return [byId, { handle: 1, _id: 1 }, { status: -1, handle: 1, _id: 1 }, { handle: 1 }, { handle: -1 }];
    case collections.files:
      return [byId, { createdAt: -1 }, { createdAt: 1 }];
    case collections.threads:
      return [byId, { createdAt: -1, _id: -1 }, { deletedAt: 1, _id: 1 }, { _id: -1 }];
    default:
      return [byId, { createdAt: -1, _id: 1 }];
  }
}

const canonical = (value: unknown) => EJSON.stringify(value, { relaxed: false });

const compared = backends.filter(
  (b) => patchedBin && upstreamBin && (b.name !== 'PostgreSQL' || !noPostgreSQL),
);
const skipped = backends.filter((b) => !compared.includes(b));

for (const b of skipped)
  describe(`FerretDB with Ensemble pushdown on ${b.name}`, () => {
    it.skip(`is not compared here: ${!patchedBin ? 'no Go toolchain' : noPostgreSQL}`, () => undefined);
  });

describe.each(compared.map((b) => [b.name, b] as const))(
  'FerretDB with Ensemble pushdown against an unpatched FerretDB, on %s',
  (_name, backend) => {
    let running: Awaited<ReturnType<Backend['start']>> | undefined;
    let dbs: Db[];
    /**
     * Errors the patched server logs: a query the database refused is answered by falling back to what
     * FerretDB does without the patch, so results alone would not show it.
     */
    const errors: string[] = [];
    beforeAll(async () => {
      running = await backend.start((line) => errors.push(line));
      dbs = running.servers.map((s) => s.client.db('differential'));
      for (const db of dbs) {
        await ensureCollections(db);
        const edge = db.collection('edge');
        await edge.insertMany(edgeDocuments());
        await edge.createIndex({ f: 1 }, { name: 'f' });
        await edge.createIndex({ g: 1, h: 1 }, { name: 'g_h' });
        await edge.createIndex({ u: 1 }, { name: 'u', unique: true });
        await edge.createIndex({ arr: 1 }, { name: 'arr' });
        await edge.createIndex({ n: 1 }, { name: 'n' });
        await edge.createIndex({ 'd.x': 1 }, { name: 'd_x' });
        await edge.createIndex({ u: -1 }, { name: 'ordered_u' });
        await edge.createIndex({ g: 1, u: -1 }, { name: 'ordered_g_u' });
        for (const [name, docs] of Object.entries(appDocuments())) await db.collection(name).insertMany(docs);
      }
    }, 120_000);
    afterAll(() => running?.stop());
    afterEach(() => {
      expect(errors.splice(0).map((line) => line.slice(0, 600))).toEqual([]);
    });

    /** Run `read` on both servers and record any difference. */
    async function compare(label: string, read: (db: Db) => Promise<unknown>, diffs: string[]) {
      const [patched = '', upstream = ''] = await Promise.all(
        dbs.map((db) => read(db).then(canonical, (err: Error) => `error: ${err.message}`)),
      );
      if (patched !== upstream)
        diffs.push(`${label}\n  patched:  ${patched.slice(0, 400)}\n  upstream: ${upstream.slice(0, 400)}`);
    }

    // Reads of different shapes are independent: a few run at once (the whole test is a fixed amount of
    // work, given time for a busy machine).
    it('reads the same documents for every filter shape (find, count, distinct, aggregate)', async () => {
      const diffs: string[] = [];
      const all = shapes();
      let next = 0;
      const reader = async () => {
        for (let shape = all[next++]; shape; shape = all[next++]) await readShape(shape);
      };
      const readShape = async ({ collection, filter, field }: (typeof all)[number]) => {
        const label = `${collection} ${canonical(filter)}`;
        const c = (db: Db) => db.collection<AnyDoc>(collection);
        await compare(`find ${label}`, (db) => c(db).find(filter).sort({ _id: 1 }).toArray(), diffs);
        // Sorted and limited finds (the build may serve these from SQLite when it can answer exactly); an
        // `_id` tie-break keeps the expected page unique.
        for (const sort of sortsFor(collection))
          for (const [skip, limit] of [
            [0, 1],
            [0, 3],
            [2, 4],
          ] as const)
            await compare(
              `find ${label} sort ${JSON.stringify(sort)} skip ${skip} limit ${limit}`,
              (db) => c(db).find(filter).sort(sort).skip(skip).limit(limit).toArray(),
              diffs,
            );
        await compare(`countDocuments ${label}`, (db) => c(db).countDocuments(filter), diffs);
        await compare(`count ${label}`, (db) => db.command({ count: collection, query: filter }), diffs);
        await compare(
          `aggregate ${label}`,
          (db) =>
            c(db)
              .aggregate([{ $match: filter }, { $sort: { _id: 1 } }, { $project: { _id: 1 } }])
              .toArray(),
          diffs,
        );
        if (field)
          await compare(
            `distinct ${field} ${label}`,
            async (db) => (await c(db).distinct(field, filter)).map(canonical).sort(),
            diffs,
          );
      };
      await Promise.all([reader(), reader(), reader()]);
      expect(diffs).toEqual([]);
    }, 180_000);

    it('writes the same documents for every filter shape (update, findAndModify, delete)', async () => {
      const diffs: string[] = [];
      const all = shapes();
      for (const [n, { collection, filter }] of all.entries()) {
        const label = `${collection} ${canonical(filter)}`;
        const c = (db: Db) => db.collection<AnyDoc>(collection);
        await compare(
          `updateMany ${label}`,
          (db) =>
            c(db)
              .updateMany(filter, { $set: { [`touched${n}`]: n } })
              .then((r) => [r.matchedCount, r.modifiedCount]),
          diffs,
        );
        // Which document an unsorted updateOne picks among several is unspecified (on MongoDB too): only
        // filters that match at most one document are updated one at a time.
        if ((await c(dbs[1]!).countDocuments(filter)) <= 1)
          await compare(
            `updateOne ${label}`,
            (db) =>
              c(db)
                .updateOne(filter, { $set: { [`once${n}`]: n } })
                .then((r) => [r.matchedCount, r.modifiedCount]),
            diffs,
          );
        await compare(
          `findOneAndUpdate ${label}`,
          (db) =>
            c(db).findOneAndUpdate(
              filter,
              { $set: { picked: n } },
              { sort: { _id: -1 }, returnDocument: 'after' },
            ),
          diffs,
        );
      }
      // Every collection's contents after all those writes.
      for (const name of [...new Set(all.map((s) => s.collection))])
        await compare(
          `contents of ${name} after updates`,
          (db) => db.collection(name).find().sort({ _id: 1 }).toArray(),
          diffs,
        );
      for (const { collection, filter } of all.filter((_, n) => n % 4 === 0)) {
        const label = `${collection} ${canonical(filter)}`;
        await compare(
          `findOneAndDelete ${label}`,
          (db) => db.collection<AnyDoc>(collection).findOneAndDelete(filter, { sort: { _id: 1 } }),
          diffs,
        );
        await compare(
          `deleteMany ${label}`,
          (db) =>
            db
              .collection<AnyDoc>(collection)
              .deleteMany(filter)
              .then((r) => r.deletedCount),
          diffs,
        );
      }
      for (const name of [...new Set(all.map((s) => s.collection))])
        await compare(
          `contents of ${name} after deletes`,
          (db) => db.collection(name).find().sort({ _id: 1 }).toArray(),
          diffs,
        );
      expect(diffs).toEqual([]);
    }, 180_000);

    it('finds array values right after they are inserted, changed and deleted', async () => {
      const diffs: string[] = [];
      for (const db of dbs) {
        const c = db.collection<{ _id: string; tags: string | string[] }>('arrays');
        await c.createIndex({ tags: 1 }, { name: 'tags' });
        await c.insertMany([
          { _id: 'a1', tags: ['budget', 'report'] },
          { _id: 'a2', tags: ['rapport'] },
          { _id: 'a3', tags: 'budget' },
        ]);
        await c.updateOne({ _id: 'a1' }, { $set: { tags: ['fresh', 'words'] } });
        await c.updateOne({ _id: 'a2' }, { $set: { tags: ['rapport', 'pushed'] } });
        await c.updateOne({ _id: 'a3' }, { $set: { tags: ['budget', 'now-an-array'] } });
        await c.insertOne({ _id: 'a4', tags: ['budget', 'late'] });
        await c.deleteOne({ _id: 'a4' });
        await c.insertOne({ _id: 'a5', tags: ['late'] });
      }
      for (const filter of [
        { tags: 'budget' },
        { tags: 'report' },
        { tags: 'fresh' },
        { tags: 'pushed' },
        { tags: 'late' },
        { tags: 'array' },
        { tags: { $all: ['budget', 'now-an-array'] } },
      ])
        await compare(
          `arrays ${JSON.stringify(filter)}`,
          (db) => db.collection<AnyDoc>('arrays').find(filter).sort({ _id: 1 }).toArray(),
          diffs,
        );
      expect(diffs).toEqual([]);
      // And the array is found through the side table, not by reading every array.
      const plan = JSON.stringify(await dbs[0]!.collection('arrays').find({ tags: 'late' }).explain());
      expect(plan).toMatch(backend.arrayIndexPlan);
    });
  },
);
