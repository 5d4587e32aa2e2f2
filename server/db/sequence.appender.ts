import type { OptionalUnlessRequiredId } from 'mongodb';
import { Lru } from '../core/lru.js';
import { commandError, insertEach, type InsertOutcome } from './errors.js';
import type { DenseSequence, SlotDoc } from './sequence.js';

/** A writer refused as a duplicate at a position nobody holds: its document's own `_id` was taken. */
export class TakenIdError extends Error {
  constructor() {
    super('The document is there already.');
  }
}

/** The shortest time a batch waits for the one before it in the same prefix and process. */
export const TURN_WAIT_MS = 500;
/** The longest (a batch the database holds up longer than this no longer holds the next one up). */
const TURN_WAIT_MAX_MS = 10_000;
/** Positions taken in one insert at most. */
const MAX_BATCH = 200;

interface Waiter<D> {
  /** Writers asking with the same key in one batch share one position (`null`: each its own). */
  key: string | null;
  make: (n: number, _id: string) => D;
  /** A position the writer knows taken (never past the head). */
  hint: number;
  resolve: (n: number) => void;
  reject: (err: unknown) => void;
}

interface Prefix<D> {
  waiting: Waiter<D>[];
  draining: boolean;
}

/** The previous batch's end, or `ms`, whichever comes first. */
async function turn(before: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    before.catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/**
 * Positions of a dense sequence (ADR 0006) taken by many writers of one process at once, as a group commit
 * (docs/adr/0033-posting-under-load.md): the writers that arrive while one insert is on its way take their
 * positions together in the next, one `insertMany` of consecutive positions from the head this process
 * last saw. A position another process took meanwhile is a duplicate for that document only (the sequence
 * stays dense: the position exists); its writers look for the head once and go again. Writers asking with
 * the same key in one batch share a position (a busy thread needs one place at the head of its group's
 * timeline, not one per reply).
 *
 * A batch waits for the one before it, but no longer than the database has lately taken for a batch (at
 * least TURN_WAIT_MS): a batch the database holds up does not hold every later writer up with it, and a
 * slow but working database is not raced by batches that would only collide with each other.
 */
export class SequenceAppender<D extends object = SlotDoc> {
  private readonly prefixes = new Map<string, Prefix<D>>();
  /** The head each prefix had when this process last took a position there: a hint, never past the head. */
  private readonly heads = new Lru<string, number>(10_000);
  /** How long the last few batches took (ms), for the turn wait. */
  private readonly recent: number[] = [];

  constructor(
    readonly sequence: DenseSequence<D>,
    /** Where to start in a prefix this process has not written yet (a recorded hint, a count). */
    private readonly hintOf: (prefix: string) => Promise<number> | number,
  ) {}

  /**
   * The next position in `prefix`, made by `make` (called again for each position tried). `hint`: a position
   * the caller knows taken, if any.
   */
  take(
    prefix: string,
    make: (n: number, _id: string) => D,
    options: { key?: string; hint?: number } = {},
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      let state = this.prefixes.get(prefix);
      if (!state) this.prefixes.set(prefix, (state = { waiting: [], draining: false }));
      state.waiting.push({ key: options.key ?? null, make, hint: options.hint ?? 0, resolve, reject });
      if (!state.draining) void this.drain(prefix, state);
    });
  }

  /** The highest position this process knows taken in `prefix` (a hint for readers in this process). */
  knownHead(prefix: string): number | undefined {
    return this.heads.get(prefix);
  }

  private turnWaitMs(): number {
    const slowest = Math.max(0, ...this.recent);
    return Math.min(Math.max(TURN_WAIT_MS, 2 * slowest), TURN_WAIT_MAX_MS);
  }

  private async drain(prefix: string, state: Prefix<D>): Promise<void> {
    state.draining = true;
    try {
      while (state.waiting.length) {
        const batch = state.waiting.splice(0, MAX_BATCH);
        const started = Date.now();
        const run = this.write(prefix, batch).finally(() => {
          this.recent.push(Date.now() - started);
          if (this.recent.length > 8) this.recent.shift();
        });
        await turn(run, this.turnWaitMs());
      }
    } finally {
      state.draining = false;
      if (!state.waiting.length && this.prefixes.get(prefix) === state) this.prefixes.delete(prefix);
    }
  }

  private async write(prefix: string, batch: Waiter<D>[]): Promise<void> {
    // One position per key: the first writer's document, every writer of the key told the position.
    const groups: Waiter<D>[][] = [];
    const byKey = new Map<string, Waiter<D>[]>();
    for (const w of batch) {
      const same = w.key === null ? undefined : byKey.get(w.key);
      if (same) same.push(w);
      else {
        const group = [w];
        groups.push(group);
        if (w.key !== null) byKey.set(w.key, group);
      }
    }
    let remaining = groups;
    try {
      const known = Math.max(this.heads.get(prefix) ?? 0, ...batch.map((w) => w.hint));
      const hint = known || (await this.hintOf(prefix));
      let next = hint > 0 ? Math.floor(hint) + 1 : (await this.sequence.head(prefix, 0)) + 1;
      while (remaining.length) {
        const docs = remaining.map((group, i) =>
          group[0]!.make(next + i, this.sequence.key(prefix, next + i)),
        );
        const taken = await this.insert(docs);
        const left: { group: Waiter<D>[]; n: number }[] = [];
        let highest = 0;
        remaining.forEach((group, i) => {
          const outcome = taken[i]!;
          if (outcome === 'inserted') {
            highest = next + i;
            for (const w of group) w.resolve(next + i);
          } else if (outcome === 'duplicate') left.push({ group, n: next + i });
          else for (const w of group) w.reject(outcome.error);
        });
        if (highest) this.heads.set(prefix, Math.max(highest, this.heads.get(prefix) ?? 0));
        remaining = [];
        if (!left.length) break;
        // Someone else took a position in the range: the head is at or past the range's end.
        const head = await this.sequence.head(prefix, next + docs.length - 1);
        for (const { group, n } of left) {
          // A duplicate at a position still free was another unique key's (a document's `_id` when its key
          // is in another field): trying further positions would only be refused again.
          if (n > head) for (const w of group) w.reject(new TakenIdError());
          else remaining.push(group);
        }
        next = head + 1;
      }
    } catch (err) {
      for (const group of remaining) for (const w of group) w.reject(err);
    }
  }

  /** Insert the documents (ADR 0033); a command that failed as a whole is its own error (a closed connection is a 503). */
  private async insert(docs: D[]): Promise<InsertOutcome[]> {
    try {
      return await insertEach(this.sequence.collection, docs as OptionalUnlessRequiredId<D>[]);
    } catch (err) {
      throw commandError(err);
    }
  }
}
