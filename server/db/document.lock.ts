import { randomUUID } from 'node:crypto';
import type { Collection, Db, Document, Filter, UpdateFilter, UpdateResult } from 'mongodb';
import { ServiceUnavailableError } from '../core/errors.js';
import { collections } from './collections.js';
import { insertOnce } from './errors.js';

interface LockDoc {
  _id: string;
  token: string;
  until: Date;
}

/** Writers waiting in this process, per lock: each waits for the one before it (only one polls the database). */
const queues = new Map<string, Promise<void>>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One writer at a time per document, across processes (ADR 0010). FerretDB applies an update by reading the
 * document and writing all of it back, outside any lock, so two updates of one document at once can undo
 * each other even when they touch different fields (100 concurrent `$set`s of different fields kept 5). A
 * document written by more than one party (a thread: its author, its moderators and every reply's
 * bookkeeping) is therefore only written under its lock.
 *
 * A lock is a document taken by insert, the one atomic write there, held at most `leaseMs`; one held
 * longer belongs to a writer that stopped and is taken over. On MongoDB the locks cost two small writes and
 * change nothing else.
 */
export class DocumentLocks {
  private readonly locks: Collection<LockDoc>;

  constructor(
    db: Db,
    private readonly leaseMs = 10_000,
    private readonly waitMs = 15_000,
  ) {
    this.locks = db.collection<LockDoc>(collections.documentLocks);
  }

  /** Run `work` holding the lock named `key`. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = queues.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((r) => (done = r)));
    queues.set(key, mine);
    await before;
    try {
      const token = await this.acquire(key);
      try {
        return await work();
      } finally {
        await this.locks.deleteOne({ _id: key, token }).catch(() => undefined);
      }
    } finally {
      done();
      if (queues.get(key) === mine) queues.delete(key);
    }
  }

  /** The lock of one document. */
  keyOf(collection: { collectionName: string }, id: unknown): string {
    return `${collection.collectionName}:${String(id)}`;
  }

  /** `updateOne` of the document `_id`, with no other locked writer of it in between. */
  update<T extends Document>(
    collection: Collection<T>,
    id: T['_id'],
    update: UpdateFilter<T>,
    options: { filter?: Filter<T>; upsert?: boolean } = {},
  ): Promise<UpdateResult<T>> {
    return this.run(this.keyOf(collection, id), () =>
      collection.updateOne({ ...options.filter, _id: id } as Filter<T>, update, {
        upsert: options.upsert ?? false,
      }),
    );
  }

  /** The same for every document a filter matches, one after another (for rare, wide changes). */
  async updateEach<T extends Document>(
    collection: Collection<T>,
    filter: Filter<T>,
    update: UpdateFilter<T>,
  ): Promise<void> {
    const ids = await collection.find(filter, { projection: { _id: 1 } }).toArray();
    for (const { _id } of ids) await this.update(collection, _id as T['_id'], update);
  }

  private async acquire(key: string): Promise<string> {
    const token = randomUUID();
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      if (await insertOnce(this.locks, { _id: key, token, until: new Date(now + this.leaseMs) }))
        return token;
      const held = await this.locks.findOne({ _id: key });
      if (held && held.until.getTime() < now) {
        await this.locks.deleteOne({ _id: key, token: held.token });
        continue;
      }
      if (now - started > this.waitMs)
        throw new ServiceUnavailableError('This item is busy; try again in a moment.');
      await sleep(Math.min(2 ** attempt, 50) * (0.5 + Math.random()));
    }
  }
}
