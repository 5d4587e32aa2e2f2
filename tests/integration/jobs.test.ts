import type { CommandStartedEvent } from 'mongodb';
import { pino } from 'pino';
import { collections, ensureCollections } from '../../server/db/collections.js';
import { JobQueue } from '../../server/jobs/job.queue.js';
import { JobGatherer, itemsOf } from '../../server/jobs/job.gatherer.js';
import { eventually } from '../helpers/files.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/** The job system on the real database server: claims, leases, retries, several workers on one queue. */
describe('job queue', () => {
  let t: TestDatabase;
  const logger = pino({ level: 'silent' });
  const queues: JobQueue[] = [];
  const queue = (pollMs = 20) => {
    const q = new JobQueue(t.db, logger, pollMs);
    queues.push(q);
    return q;
  };
  beforeAll(async () => {
    t = await openTestDatabase('jobs', { monitorCommands: true });
    await ensureCollections(t.db);
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
    await t.db.collection('jobs').deleteMany({});
  });
  afterAll(() => t.cleanup());

  it('puts what is queued while a job is on its way in one job, run in order; a job queued alone still runs', async () => {
    const q = queue();
    const runs: number[][] = [];
    q.register(
      'gathered',
      async (payload) => void runs.push(itemsOf<{ n: number }>(payload).map((i) => i.n)),
    );
    await q.enqueue('gathered', { n: 0 }); // queued before gathering: its payload is the one item
    const gather = new JobGatherer<{ n: number }>(q, 'gathered');
    await Promise.all(Array.from({ length: 10 }, (_, i) => gather.add({ n: i + 1 })));
    // The first goes at once; the nine queued while it was on its way go together.
    expect(
      (await t.db.collection('jobs').find({ queue: 'gathered' }).toArray()).map(
        (j) => itemsOf<{ n: number }>(j.payload as Record<string, unknown>).length,
      ),
    ).toEqual([1, 1, 9]);
    await q.drain();
    expect(runs.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(runs).toContainEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('runs each job once when two workers share the queue, and forgets finished jobs', async () => {
    const runs: number[] = [];
    const [a, b] = [queue(), queue()];
    for (const q of [a, b])
      q.register(
        'count',
        async (p) => {
          runs.push(p.n as number);
          await new Promise((r) => setTimeout(r, 5));
        },
        { concurrency: 3 },
      );
    for (let n = 0; n < 30; n++) await a.enqueue('count', { n });
    a.start();
    b.start();
    await eventually(
      async () => runs.length,
      (n) => n >= 30,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 200)); // a double run would show up by now
    expect([...runs].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(
      await eventually(
        () => t.db.collection('jobs').countDocuments(),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  // A job queued by a running worker with room for it is written already claimed by it (ADR 0048): a process
  // stopping with it in hand leaves it as one stopping after its poll's claim does.
  it.each([
    ['claimed by its poll', false],
    ['queued by it, in hand', true],
  ])(
    'takes over a job whose worker stopped in the middle (%s), once the lease runs out',
    async (_, inHand) => {
      let release!: () => void;
      const hung = new Promise<void>((r) => (release = r));
      const crashed = queue();
      // This worker holds the job and then neither finishes nor renews it, as a killed process would not.
      crashed.register('report', () => hung, { leaseMs: 300, concurrency: 1 });
      (crashed as unknown as { run: (job: unknown) => Promise<void> }).run = () => hung;
      if (inHand) {
        crashed.start();
        await crashed.drain();
        await crashed.enqueue('report', { id: 'r1' });
      } else {
        await crashed.enqueue('report', { id: 'r1' });
        crashed.start();
        await eventually(
          () => t.db.collection('job_claims').countDocuments(),
          (n) => n === 1,
        );
      }
      const done: string[] = [];
      const healthy = queue();
      healthy.register('report', async (p) => void done.push(p.id as string), { leaseMs: 300 });
      healthy.start();
      expect(
        await eventually(
          async () => done,
          (d) => d.length > 0,
          5000,
        ),
      ).toEqual(['r1']);
      release();
    },
  );

  it('runs a job queued where it can run at once: no poll, claim or update before it starts (ADR 0048)', async () => {
    // No timer poll within the test: what a poll would find is left to the queue's own work.
    const q = queue(60_000);
    const seen: string[] = [];
    const watch = (e: CommandStartedEvent) => {
      const target = String(e.command[e.commandName]);
      if (target === collections.jobs || target === collections.jobClaims)
        seen.push(`${e.commandName} ${target}`);
    };
    let atRun: string[] = [];
    q.register('notify', async () => {
      atRun = [...seen];
    });
    q.start();
    await q.drain(); // the start's own poll, done
    t.client.on('commandStarted', watch);
    try {
      const id = await q.enqueue('notify', { reply: 'r1' });
      await eventually(
        async () => atRun.length,
        (n) => n > 0,
        5000,
      );
      // Before ADR 0048: a poll, a claim, a read of the job and its lease's update came first.
      expect(atRun).toEqual([`insert ${collections.jobs}`]);
      expect(
        await eventually(
          () => t.db.collection(collections.jobs).countDocuments({ _id: id }),
          (n) => n === 0,
        ),
      ).toBe(0);
    } finally {
      t.client.off('commandStarted', watch);
    }
  });

  it('runs a job whose claim was left behind by a worker that died before recording it', async () => {
    const q = queue();
    const done: string[] = [];
    q.register('report', async (p) => void done.push(p.id as string), { leaseMs: 200 });
    const id = await q.enqueue('report', { id: 'orphaned' }, new Date(Date.now() + 60_000));
    // The dead worker inserted claim 1 and never wrote it on the job.
    await t.db
      .collection<{ _id: string; jobId: unknown; owner: string; at: Date }>('job_claims')
      .insertOne({ _id: `${id.toHexString()}:1`, jobId: id, owner: 'dead', at: new Date(Date.now() - 5000) });
    await t.db.collection('jobs').updateOne({ _id: id }, { $set: { runAt: new Date() } });
    q.start();
    expect(
      await eventually(
        async () => done,
        (d) => d.length > 0,
        5000,
      ),
    ).toEqual(['orphaned']);
  });

  it('renews the lease of a long job, so no other worker takes it over', async () => {
    const runs: string[] = [];
    const [a, b] = [queue(), queue()];
    for (const q of [a, b])
      q.register(
        'long',
        async (p) => {
          runs.push(p.id as string);
          await new Promise((r) => setTimeout(r, 1000));
        },
        { leaseMs: 300 },
      );
    await a.enqueue('long', { id: 'l1' });
    a.start();
    await eventually(
      async () => runs.length,
      (n) => n === 1,
    );
    b.start();
    await eventually(
      () => t.db.collection('jobs').countDocuments(),
      (n) => n === 0,
      5000,
    );
    expect(runs).toEqual(['l1']);
  });

  it('retries a failing job with backoff, and keeps it as failed after the last attempt', async () => {
    const attempts: number[] = [];
    const q = queue();
    q.register(
      'flaky',
      async (p) => {
        attempts.push(Date.now());
        if (p.failTimes === 'always' || attempts.length <= (p.failTimes as number))
          throw new Error('remote down');
      },
      { backoffMs: () => 100, maxFailures: 3 },
    );
    const ok = await q.enqueue('flaky', { failTimes: 2 });
    q.start();
    await eventually(
      async () => attempts.length,
      (n) => n >= 3,
      5000,
    );
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(45); // at least half the backoff (jitter)
    expect(
      await eventually(
        () => t.db.collection('jobs').findOne({ _id: ok }),
        (j) => j === null,
      ),
    ).toBeNull();

    attempts.length = 0;
    const doomed = await q.enqueue('flaky', { failTimes: 'always' });
    const failed = await eventually(
      () => t.db.collection('jobs').findOne({ _id: doomed }),
      (j) => j?.state === 'failed',
      5000,
    );
    expect(failed).toMatchObject({ state: 'failed', failures: 3, lastError: 'remote down' });
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toHaveLength(3);
  });
});
