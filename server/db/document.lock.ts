import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Collection, Db, Document, Filter, UpdateFilter, UpdateResult, WithId } from 'mongodb';
import { ServiceUnavailableError } from '../core/errors.js';
import { collections } from './collections.js';
import { insertOnce } from './errors.js';

interface LockDoc {
  _id: string;
  token?: string;
  until?: Date;
}

/** Writers waiting in this process, per lock: each waits for the one before it (only one polls the database). */
const queues = new Map<string, Promise<void>>();
/**
 * The locks the current async context holds: taking one of them again would wait for itself, and is refused
 * at once instead. Tracked only outside production (`catchLockReentry`): tracking an async context makes
 * Node run a hook for every promise of the process (docs/adr/0049-no-async-context-tracking.md).
 */
let holding: AsyncLocalStorage<ReadonlySet<string>> | undefined = new AsyncLocalStorage();

/**
 * Whether taking a lock the same work already holds is refused at once (on, the default, in development and
 * tests) or waits out the lock's deadline and answers 503 (production).
 */
export function catchLockReentry(on: boolean): void {
  holding = on ? (holding ?? new AsyncLocalStorage()) : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for `promise`, but no longer than `ms` (the timer does not outlive the wait). */
async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  clearTimeout(timer);
}

/**
 * One writer at a time per document, across processes (ADR 0010). FerretDB applies an update by reading the
 * document and writing all of it back, outside any lock, so two updates of one document at once can undo
 * each other even when they touch different fields (100 concurrent `$set`s of different fields kept 5). A
 * document written by more than one party (a thread: its author, its moderators and every reply's
 * bookkeeping) is therefore only written under its lock, and whatever the write is computed from is read
 * under the same lock (`run`).
 *
 * A lock is a document taken by insert, the one atomic write there, held at most `leaseMs` by the holder's
 * clock. One held longer belongs to a writer that stopped: it is taken over by whoever first inserts the
 * takeover marker `<key>~<stale token>` (deletes are not atomic on FerretDB either, so only that one
 * deletes it). Writers in one process queue in memory first. On MongoDB the locks cost two small writes.
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

  /** The lock of one document. */
  keyOf(collection: { collectionName: string }, id: unknown): string {
    return `${collection.collectionName}:${String(id)}`;
  }

  /** Run `work` holding the lock named `key`; 503 when it cannot be had within `waitMs`. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const tracked = holding;
    const held = tracked?.getStore();
    if (held?.has(key)) throw new Error(`document lock ${key} is already held by this work`);
    const deadline = Date.now() + this.waitMs;
    const before = queues.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const chained = before.then(() => mine);
    queues.set(key, chained);
    try {
      // Waiting behind this process's own writers counts against the deadline too; past it, the database
      // lock alone keeps writers apart.
      await waitAtMost(before, deadline - Date.now());
      const token = await this.acquire(key, deadline);
      try {
        return await (tracked ? tracked.run(new Set([...(held ?? []), key]), work) : work());
      } finally {
        await this.locks.deleteOne({ _id: key, token }).catch(() => undefined);
      }
    } finally {
      done();
      if (queues.get(key) === chained) queues.delete(key);
    }
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

  /**
   * Change the document `_id` from what it is under its lock: `change` is given it as it is now (null when
   * there is none) and says what to set, if anything, and what to return; two changes at once both stay.
   */
  rewrite<T extends Document, R>(
    collection: Collection<T>,
    id: T['_id'],
    change: (current: WithId<T> | null) => { set?: Partial<T>; result: R },
  ): Promise<R> {
    return this.run(this.keyOf(collection, id), async () => {
      const { set, result } = change(await collection.findOne({ _id: id } as Filter<T>));
      if (set) await collection.updateOne({ _id: id } as Filter<T>, { $set: set } as UpdateFilter<T>);
      return result;
    });
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

  private async acquire(key: string, deadline: number): Promise<string> {
    const token = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      if (await insertOnce(this.locks, { _id: key, token, until: new Date(now + this.leaseMs) }))
        return token;
      const held = await this.locks.findOne({ _id: key });
      if (held?.until && held.until.getTime() < now) {
        if (await insertOnce(this.locks, { _id: `${key}~${held.token}` }))
          await this.locks.deleteOne({ _id: key, token: held.token });
        continue;
      }
      if (now > deadline) throw new ServiceUnavailableError('This item is busy; try again in a moment.');
      await sleep(Math.min(2 ** attempt, 50) * (0.5 + Math.random()));
    }
  }
}
