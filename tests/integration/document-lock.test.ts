import { spawn } from 'node:child_process';
import path from 'node:path';
import { catchLockReentry, DocumentLocks } from '../../server/db/document.lock.js';
import { projectRoot } from '../../server/core/paths.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('document locks', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase('locks');
  });
  afterAll(() => database.cleanup());

  const fields = async () =>
    Object.keys((await database.db.collection<{ _id: string }>('lock_probe').findOne({ _id: 'doc' })) ?? {})
      .filter((k) => k !== '_id')
      .sort();

  it('keeps every field when two processes update one document at once', async () => {
    const probe = database.db.collection<{ _id: string }>('lock_probe');
    await probe.insertOne({ _id: 'doc' });
    const locks = new DocumentLocks(database.db);
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      path.join(projectRoot, 'tests', 'helpers', 'lock-writer.ts'),
      database.uri,
      database.name,
      'b',
      '40',
    ]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Start together with the other process's writes.
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.includes('ready') && resolve()),
    );
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => locks.update(probe, 'doc', { $set: { [`a${i}`]: true } })),
    );
    expect(await exited).toBe(0);
    const kept = await fields();
    expect(kept).toHaveLength(80);
    expect(await database.db.collection('document_locks').countDocuments()).toBe(0); // all released
  });

  it('takes over a lock whose writer stopped, and releases a lock when the work fails', async () => {
    const locks = new DocumentLocks(database.db, 200);
    await database.db
      .collection<{ _id: string; token: string; until: Date }>('document_locks')
      .insertOne({ _id: 'stuck', token: 'gone', until: new Date(Date.now() + 100) });
    expect(await locks.run('stuck', async () => 'done')).toBe('done');
    await expect(
      locks.run('failing', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await locks.run('failing', async () => 'free again')).toBe('free again');
    // Work that would wait for a lock it holds itself is refused at once instead of hanging.
    await expect(locks.run('nested', () => locks.run('nested', async () => 'never'))).rejects.toThrow(
      'already held',
    );
    expect(await locks.run('nested', async () => 'still free')).toBe('still free');
  });

  it('in production, work taking a lock it holds waits out the deadline (no async context is tracked)', async () => {
    const locks = new DocumentLocks(database.db, 60_000, 300);
    catchLockReentry(false);
    try {
      await expect(locks.run('again', () => locks.run('again', async () => 'never'))).rejects.toMatchObject({
        status: 503,
      });
    } finally {
      catchLockReentry(true);
    }
    expect(await locks.run('again', async () => 'free')).toBe('free');
    await expect(locks.run('again', () => locks.run('again', async () => 'never'))).rejects.toThrow(
      'already held',
    );
  });

  it('answers 503 when a lock cannot be had in time, counting the wait behind its own process', async () => {
    const locks = new DocumentLocks(database.db, 60_000, 300);
    let release!: () => void;
    const holder = locks.run('busy', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    await expect(locks.run('busy', async () => 'late')).rejects.toMatchObject({ status: 503 });
    release();
    await holder;
    expect(await locks.run('busy', async () => 'free')).toBe('free');
  });
});
