import { ObjectId, type Document } from 'mongodb';
import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';
import { collectionSpecs, collections } from '../../server/db/collections.js';
import { dueQuery, NO_LEASE } from '../../server/jobs/job.queue.js';

/**
 * Which index SQLite picks for a sorted page on the FerretDB the project builds
 * (docs/adr/0013-index-served-filters.md, "Exact reads" and "Planner statistics"). Two things made it pick
 * the wrong one, and a department's people directory read every active person for each page:
 * - each equality also matched "an array holding the value" through an OR with the array side table, which
 *   SQLite can only serve as a union of two lookups, never through a compound index: `{status, organizationId}`
 *   went through `status` alone. When the side table says no array holds the value, the OR is dropped.
 * - without statistics, SQLite takes any indexed equality for a selective one: `status = 'active'` (every
 *   person) looked as good as a rare name. The build refreshes them (`PRAGMA optimize`) while a database is read.
 */
const bin = ferretdbBinary('patched');
const describeBuild = bin ? describe : describe.skip;

/** The SQLite plan of a sorted, limited find, one line per step. */
async function plan(
  f: PrivateFerretDB,
  filter: Document,
  sort: Document = { handle: 1 },
  collection = 'people',
): Promise<string> {
  const explained = await f.client.db('planner').command({
    explain: { find: collection, filter, sort, limit: 21 },
  });
  return ((explained.queryPlanner as { Plan?: string[] }).Plan ?? []).join('\n');
}

describeBuild('the planner of the FerretDB the project builds', () => {
  let f: PrivateFerretDB;
  const organizations = Array.from({ length: 40 }, () => new ObjectId());
  beforeAll(async () => {
    process.env.ENSEMBLE_SQLITE_OPTIMIZE_EVERY = '1s';
    f = await startPrivateFerretDB(bin!);
    const people = f.client.db('planner').collection('people');
    // The indexes of Ensemble's people collection (server/db/collections.ts).
    await people.createIndex({ handle: 1 }, { name: 'handle_unique', unique: true });
    await people.createIndex({ organizationId: 1, status: 1, handle: 1 }, { name: 'organization' });
    await people.createIndex({ searchTokens: 1 }, { name: 'searchTokens' });
    await people.createIndex({ status: 1, handle: 1 }, { name: 'status_handle' });
    await people.createIndex({ handle: -1 }, { name: 'ordered_handle' });
    await people.createIndex({ organizationId: 1, status: 1, handle: -1 }, { name: 'ordered_organization' });
    const names = ['ana', 'bruno', 'chloe', 'daniel', 'elise', 'farid', 'hugo', 'ines', 'liam', 'noah'];
    await people.insertMany(
      Array.from({ length: 4000 }, (_, i) => ({
        handle: `p${String(i).padStart(5, '0')}`,
        status: i % 50 ? 'active' : 'deactivated',
        organizationId: organizations[i % organizations.length],
        // One person in 400 is a "quynh"; everyone else has one of ten common first names.
        searchTokens: [i % 400 === 7 ? 'quynh' : names[i % names.length]!, `p${i}`, 'analyst'],
      })),
    );
  });
  afterAll(async () => {
    delete process.env.ENSEMBLE_SQLITE_OPTIMIZE_EVERY;
    await f?.stop();
  });

  it("reads an organization's people through the compound index, not every active person", async () => {
    const filter = { status: 'active', organizationId: organizations[3] };
    const steps = await plan(f, filter);
    expect(steps).toContain('USING INDEX people_');
    expect(steps).toMatch(/_organization \(<expr>=\? AND <expr>=\?\)/);
    expect(steps).not.toContain('MULTI-INDEX OR');
    const page = await f.client
      .db('planner')
      .collection('people')
      .find(filter)
      .sort({ handle: 1 })
      .limit(21)
      .toArray();
    expect(page).toHaveLength(21);
    expect(
      page.every((p) => p.status === 'active' && String(p.organizationId) === String(organizations[3])),
    ).toBe(true);
  });

  it('still finds a person whose field is an array holding the value, once one exists', async () => {
    const people = f.client.db('planner').collection('people');
    await people.insertOne({
      handle: 'zz-array',
      status: ['active', 'visiting'],
      organizationId: organizations[3],
    });
    const page = await people
      .find({ status: 'active', organizationId: organizations[3] })
      .sort({ handle: -1 })
      .limit(1)
      .toArray();
    expect(page.map((p) => p.handle)).toEqual(['zz-array']);
    await people.deleteOne({ handle: 'zz-array' });
  });

  it('finds a rare name through its own index once statistics are kept, not through `status`', async () => {
    const filter = { status: 'active', searchTokens: { $all: ['quynh'] } };
    // Statistics are refreshed in the background while the database is read (at most once a second here).
    let steps = '';
    for (let i = 0; i < 40 && !/people_\w+_searchTokens/.test(steps); i++) {
      await new Promise((r) => setTimeout(r, 250));
      steps = await plan(f, filter);
    }
    expect(steps).toMatch(/people_\w+_searchTokens/);
    expect(steps).not.toContain('_status_handle');
    const found = await f.client
      .db('planner')
      .collection('people')
      .find(filter)
      .sort({ handle: 1 })
      .limit(21)
      .toArray();
    expect(found.map((p) => p.handle)).toEqual(
      Array.from({ length: 10 }, (_, k) => `p${String(k * 400 + 7).padStart(5, '0')}`),
    );
  });

  describe('ordered walks (ADR 0013, "Ordered walks")', () => {
    const page = (filter: Document, sort: Document = { handle: 1 }, collection = 'people') =>
      f.client.db('planner').collection(collection).find(filter).sort(sort).limit(21).toArray();

    it('reads a page of many matches by walking the ordered index, in page order, not sorting them all', async () => {
      // 3,920 active people: sorting them all was the people directory's cost at department size.
      const steps = await plan(f, { status: 'active' });
      expect(steps).toMatch(/SCAN people_\w+ USING INDEX people_\w+_ordered_handle/);
      expect(steps).not.toContain('TEMP B-TREE');
      const first = await page({ status: 'active' });
      expect(first.map((p) => p.handle)).toEqual(
        Array.from({ length: 4000 }, (_, i) => i)
          .filter((i) => i % 50)
          .slice(0, 21)
          .map((i) => `p${String(i).padStart(5, '0')}`),
      );
      // A common first name (one person in ten), newest handles first.
      const ana = await page({ status: 'active', searchTokens: { $all: ['ana'] } }, { handle: -1 });
      expect(ana.map((p) => p.handle)).toEqual(
        Array.from({ length: 4000 }, (_, i) => 3999 - i)
          .filter((i) => i % 10 === 0 && i % 50 && i % 400 !== 7)
          .slice(0, 21)
          .map((i) => `p${String(i).padStart(5, '0')}`),
      );
    });

    it('starts the walk of a next page at its cursor', async () => {
      const filter = { status: 'active', handle: { $gt: 'p03000' } };
      const steps = await plan(f, filter);
      expect(steps).toMatch(/USING INDEX people_\w+_ordered_handle \(<expr>=\? AND <expr>>\?\)/);
      expect(steps).not.toContain('TEMP B-TREE');
      expect((await page(filter)).map((p) => p.handle).slice(0, 3)).toEqual(['p03001', 'p03002', 'p03003']);
    });

    it("walks an organization's people within the organization, reading only the page", async () => {
      const filter = { status: 'active', organizationId: organizations[5] };
      const steps = await plan(f, filter, { handle: -1 });
      expect(steps).toMatch(/_ordered_organization \(<expr>=\? AND <expr>=\?\)/);
      expect(steps).not.toContain('TEMP B-TREE');
      expect((await page(filter, { handle: -1 })).map((p) => p.handle)).toEqual(
        Array.from({ length: 4000 }, (_, i) => 3999 - i)
          .filter((i) => i % 40 === 5 && i % 50)
          .slice(0, 21)
          .map((i) => `p${String(i).padStart(5, '0')}`),
      );
    });

    it('reads a few matches through their own index and sorts them, rather than walking', async () => {
      const steps = await plan(f, { status: 'active', searchTokens: { $all: ['quynh'] } });
      expect(steps).toMatch(/people_\w+_searchTokens|VIRTUAL TABLE/);
      expect(steps).not.toContain('_ordered_handle');
    });

    it('sorts as BSON does when a value of another type is there (no walk)', async () => {
      const people = f.client.db('planner').collection('sorted');
      await people.createIndex({ handle: -1 }, { name: 'ordered_handle' });
      await people.createIndex(
        { organizationId: 1, status: 1, handle: -1 },
        { name: 'ordered_organization' },
      );
      await people.insertMany(
        Array.from({ length: 300 }, (_, i) => ({
          handle: `s${String(i).padStart(3, '0')}`,
          status: 'active',
        })),
      );
      // BSON sorts a document after every string, a number before them; a walk would put both first.
      await people.insertMany([
        { handle: { family: 'Tremblay' }, status: 'active' },
        { handle: 2.5, status: 'active' },
      ]);
      expect(await plan(f, { status: 'active' }, { handle: -1 }, 'sorted')).not.toContain('_ordered_handle');
      const down = await page({ status: 'active' }, { handle: -1 }, 'sorted');
      expect(down[0]!.handle).toEqual({ family: 'Tremblay' });
      expect(down[1]!.handle).toBe('s299');
      const up = await page({ status: 'active' }, { handle: 1 }, 'sorted');
      expect(up.slice(0, 2).map((p) => p.handle)).toEqual([2.5, 's000']);
      await people.deleteMany({ handle: { $not: { $type: 'string' } } });
      expect(await plan(f, { status: 'active' }, { handle: -1 }, 'sorted')).toContain('_ordered_handle');
      expect((await page({ status: 'active' }, { handle: -1 }, 'sorted'))[0]!.handle).toBe('s299');
    });

    it('reads a feed of several groups as a page walked within each group, not all their posts', async () => {
      const posts = f.client.db('planner').collection('posts');
      // As Ensemble's threads and replies (server/db/collections.ts): `feed` finds a group's posts.
      await posts.createIndex({ groupId: 1, createdAt: -1, _id: -1 }, { name: 'feed' });
      await posts.createIndex({ groupId: 1, _id: -1 }, { name: 'ordered_group' });
      const groups = Array.from({ length: 12 }, () => new ObjectId());
      const all = Array.from({ length: 1200 }, (_, i) => ({
        _id: new ObjectId(),
        groupId: groups[(i * 7) % groups.length]!,
        deletedAt: i % 13 ? null : new Date(),
      }));
      await posts.insertMany(all);
      const mine = groups.slice(0, 10);
      const filter = { groupId: { $in: mine }, deletedAt: null };
      expect(await plan(f, filter, { _id: -1 }, 'posts')).toMatch(
        /UNION ALL[\s\S]*_ordered_group \(<expr>=\?\)/,
      );
      const expected = all
        .filter((p) => mine.some((g) => g.equals(p.groupId)) && !p.deletedAt)
        .map((p) => p._id.toHexString())
        .sort()
        .reverse();
      expect((await page(filter, { _id: -1 }, 'posts')).map((p) => String(p._id))).toEqual(
        expected.slice(0, 21),
      );
      const after = { ...filter, _id: { $lt: new ObjectId(expected[40]) } };
      expect((await page(after, { _id: -1 }, 'posts')).map((p) => String(p._id))).toEqual(
        expected.slice(41, 62),
      );
    });

    it("reads a common word's files in a person's groups from the groups' index, a rare word's from its own", async () => {
      const files = f.client.db('planner').collection('files');
      // As Ensemble's files (server/db/collections.ts).
      await files.createIndex({ groupId: 1, folderId: 1, deletedAt: 1, name: 1 }, { name: 'folder' });
      await files.createIndex({ searchTokens: 1, audience: 1 }, { name: 'searchTokens' });
      await files.createIndex({ createdAt: -1 }, { name: 'ordered_created' });
      const groups = Array.from({ length: 200 }, () => new ObjectId());
      const start = Date.UTC(2026, 0, 1);
      const all = Array.from({ length: 4000 }, (_, i) => ({
        _id: new ObjectId(),
        groupId: groups[i % groups.length]!,
        audience: 'members',
        deletedAt: null,
        createdAt: new Date(start + i * 60_000),
        // Every other file is a "budget" file; three are "zephyr" files.
        searchTokens: [i % 2 ? 'budget' : 'notes', ...(i % 1500 === 3 ? ['zephyr'] : []), `f${i}`],
      }));
      await files.insertMany(all);
      // With statistics kept (refreshed in the background while the database is read, at most once a second
      // here), SQLite knows how few files a group holds and how many a word: without them, it guesses.
      for (let i = 0; i < 3; i++) {
        await files.findOne({ groupId: groups[0] });
        await new Promise((r) => setTimeout(r, 600));
      }
      const newest = (word: string, mine: ObjectId[]) =>
        all
          .filter((d) => d.searchTokens.includes(word) && mine.some((g) => g.equals(d.groupId)))
          .map((d) => d._id.toHexString())
          .reverse()
          .slice(0, 21);
      const search = (word: string, mine: ObjectId[]) => ({
        searchTokens: { $all: [word] },
        audience: 'members',
        deletedAt: null,
        groupId: { $in: mine },
      });
      // Ten of the person's groups hold 200 files; 2,000 hold the word. SQLite took the word's list of 2,000
      // for the cheaper source (a common word read 10,000 files at a department's size).
      const ten = groups.slice(1, 11);
      const common = await plan(f, search('budget', ten), { createdAt: -1 }, 'files');
      expect(common).toContain('_folder');
      expect(common).not.toMatch(/INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(
        (await page(search('budget', ten), { createdAt: -1 }, 'files')).map((d) => String(d._id)),
      ).toEqual(newest('budget', ten));
      // A rare word in 150 groups' 3,000 files: its own list of three is read.
      const many = groups.slice(0, 150);
      const rare = await plan(f, search('zephyr', many), { createdAt: -1 }, 'files');
      expect(rare).toMatch(/INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(
        (await page(search('zephyr', many), { createdAt: -1 }, 'files')).map((d) => String(d._id)),
      ).toEqual(newest('zephyr', many));
    });

    it("reads a busy queue's first due jobs by walking its ordered index, not every job of the queue (ADR 0041)", async () => {
      const jobs = f.client.db('planner').collection(collections.jobs);
      for (const index of collectionSpecs.find((c) => c.name === collections.jobs)!.indexes)
        await jobs.createIndex(index.key, { name: index.name });
      const now = new Date(Date.UTC(2026, 11, 7, 8));
      const at = (i: number) => new Date(now.getTime() - 100_000 + i * 10);
      // A backlog of 3,000 notification jobs, the first ten held by live leases, one failed for good; and
      // another queue's jobs, all due before them.
      await jobs.insertMany(
        Array.from({ length: 3000 }, (_, i) => ({
          _id: new ObjectId(),
          queue: 'notify',
          payload: { i },
          runAt: at(i),
          claims: i < 10 ? 1 : 0,
          leaseUntil: i < 10 ? new Date(now.getTime() + 60_000) : NO_LEASE,
          failures: i === 10 ? 5 : 0,
          lastError: null,
          state: i === 10 ? 'failed' : 'pending',
          createdAt: at(i),
        })),
      );
      await jobs.insertMany(
        Array.from({ length: 500 }, (_, i) => ({
          _id: new ObjectId(),
          queue: 'thumbnail',
          payload: { i },
          runAt: new Date(now.getTime() - 200_000 + i),
          claims: 0,
          leaseUntil: NO_LEASE,
          failures: 0,
          lastError: null,
          state: 'pending',
          createdAt: now,
        })),
      );
      const { filter, sort } = dueQuery('notify', now);
      const steps = await plan(f, filter, sort, collections.jobs);
      expect(steps).toMatch(/USING INDEX jobs_\w+_ordered_due/);
      expect(steps).not.toContain('TEMP B-TREE');
      const due = await jobs.find(filter).sort(sort).limit(8).toArray();
      expect(due.map((j) => (j.payload as { i: number }).i)).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    });
  });
});
