import type { Collection, Filter, OptionalUnlessRequiredId } from 'mongodb';
import { insertOnce } from './errors.js';

/** How many positions from the hint on `head` reads at once. */
const HEAD_WINDOW = 8;

/** A position in a dense sequence, addressed by `_id = "<prefix>:<n>"`. */
export interface SlotDoc {
  _id: string;
  n: number;
}

/**
 * A dense, append-only sequence of documents per prefix (1, 2, 3, …), every position addressed by its key
 * `"<prefix>:<n>"` in `_id` (or another uniquely indexed field).
 *
 * FerretDB 1.24 on SQLite serves only `{_id: value}` from an index and scans the collection for any other
 * filter (the FerretDB Ensemble builds serves string keys from any index, ADR 0013); its updates read and
 * write back whole documents, so `$inc` is not atomic there either. An insert under a unique key is atomic
 * on every server, so positions are taken by inserting at `head + 1` and retrying on a duplicate. Positions
 * are never deleted (only a whole prefix is), which keeps the sequence dense: every position up to the head
 * exists, and the head can be found by galloping from any hint. (A thread's replies may have a place left
 * empty for good, ADR 0044: the head search takes the highest position taken near its hint.)
 * (docs/adr/0006-id-addressed-pages.md)
 */
export class DenseSequence<D extends object = SlotDoc> {
  constructor(
    readonly collection: Collection<D>,
    /**
     * The field that holds a position's key: `_id`, or a field with a unique index (a reply is its own
     * position, docs/adr/0044-a-reply-is-its-position.md). Either is served from an index.
     */
    readonly field: string = '_id',
  ) {}

  key(prefix: string, n: number): string {
    return `${prefix}:${n}`;
  }

  private filter(keys: string | string[]): Filter<D> {
    return { [this.field]: Array.isArray(keys) ? { $in: keys } : keys } as Filter<D>;
  }

  private keyOf(doc: D): string {
    return String((doc as Record<string, unknown>)[this.field]);
  }

  get(prefix: string, n: number): Promise<D | null> {
    return this.collection.findOne(this.filter(this.key(prefix, n))) as Promise<D | null>;
  }

  /** Several positions at once, in one query (`$in`, index-served: ADR 0013). Missing positions are `null`. */
  async getMany(prefix: string, positions: number[]): Promise<(D | null)[]> {
    if (!positions.length) return [];
    const keys = positions.map((n) => this.key(prefix, n));
    const docs = (await this.collection.find(this.filter(keys)).toArray()) as D[];
    const found = new Map<string, D>(docs.map((d) => [this.keyOf(d), d]));
    return keys.map((k) => found.get(k) ?? null);
  }

  private async exists(prefix: string, n: number): Promise<boolean> {
    if (n < 1) return true;
    const found = await this.collection.findOne(this.filter(this.key(prefix, n)), {
      projection: { [this.field]: 1 },
    });
    return found !== null;
  }

  /** The last taken position (0 when none), found from a hint by galloping then bisecting. */
  async head(prefix: string, hint = 0): Promise<number> {
    let low = Math.max(0, Math.floor(hint));
    if (low >= 1) {
      // Usually the hint is the head or a few positions below it: one read of the next few answers.
      const window = Array.from({ length: HEAD_WINDOW }, (_, i) => low + i);
      const found = new Set(
        (
          await this.collection
            .find(this.filter(window.map((n) => this.key(prefix, n))), {
              projection: { [this.field]: 1 },
            })
            .toArray()
        ).map((d) => this.keyOf(d as D)),
      );
      // The highest taken: a position below it without its document is one lost for good (a reply and
      // its position are one insert, ADR 0044), which a hint from before it must not stop at.
      let n = low - 1;
      for (const k of window) if (found.has(this.key(prefix, k))) n = k;
      if (n < low + HEAD_WINDOW - 1) {
        if (n >= low) return n; // the position after it is free
      } else low = n; // the window's last is taken: gallop on from it
    }
    let high: number;
    if (await this.exists(prefix, low)) {
      let step = 1;
      high = low + 1;
      while (await this.exists(prefix, high)) {
        low = high;
        step *= 2;
        high = low + step;
      }
    } else {
      high = low;
      low = 0;
    }
    // Invariant: `low` exists (or is 0), `high` does not.
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (await this.exists(prefix, middle)) low = middle;
      else high = middle;
    }
    return low;
  }

  /**
   * Take the next position: insert `make(n)` at the head + 1, moving on when another writer got there
   * first. Hints come from positions that were taken, so they are never past the head: the first try goes
   * straight to `hint + 1` (one insert when the hint is current), and only a collision looks for the head.
   * `insert` (first writer wins: false when the position was taken) may group inserts from many callers.
   */
  async append(
    prefix: string,
    hint: number,
    make: (n: number, _id: string) => D,
    insert: (doc: D) => Promise<boolean> = (doc) =>
      insertOnce(this.collection, doc as OptionalUnlessRequiredId<D>),
  ): Promise<number> {
    let n = hint > 0 ? Math.floor(hint) + 1 : (await this.head(prefix, 0)) + 1;
    while (!(await insert(make(n, this.key(prefix, n))))) n = (await this.head(prefix, n)) + 1;
    return n;
  }
}
