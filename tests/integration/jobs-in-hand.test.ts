import type { CommandStartedEvent } from 'mongodb';
import { pino } from 'pino';
import { collections, ensureCollections } from '../../server/db/collections.js';
import { JobQueue } from '../../server/jobs/job.queue.js';
import { eventually } from '../helpers/files.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * A job queued by a process whose queue runs and has room is written already claimed by that process and run
 * as soon as it is written (docs/adr/0048-jobs-in-hand.md): no poll finds it, no claim is taken, the job is
 * not updated before it starts. Every reply queues one (its notifications), while its sockets still receive
 * the reply. A process that stops with such a job in hand leaves it to another once its lease runs out.
 */
describe('a job queued where it can run at once', () => {
  let t: TestDatabase;
  const logger = pino({ level: 'silent' });
  const queues: JobQueue[] = [];
  // No timer poll within a test: what a poll would find is left to the queue's own work.
  const queue = (pollMs = 60_000) => {
    const q = new JobQueue(t.db, logger, pollMs);
    queues.push(q);
    return q;
  };
  beforeAll(async () => {
    t = await openTestDatabase('jobs-in-hand', { monitorCommands: true });
    await ensureCollections(t.db);
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
  });
  afterAll(() => t.cleanup());

  it('is run without a poll, a claim or an update before it starts, and forgotten after', async () => {
    const q = queue();
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

  it('is taken over by another process once the lease of one that stopped with it runs out', async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const crashed = queue();
    crashed.register('report', () => hung, { leaseMs: 300, concurrency: 1 });
    // This worker holds the job and neither finishes nor renews it, as a killed process would not.
    (crashed as unknown as { run: (job: unknown) => Promise<void> }).run = () => hung;
    crashed.start();
    await crashed.drain();
    await crashed.enqueue('report', { id: 'r1' });
    const done: string[] = [];
    const healthy = queue(50);
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
  });
});
