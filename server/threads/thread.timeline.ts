import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { DenseSequence, type SlotDoc } from '../db/sequence.js';
import { SequenceAppender } from '../db/sequence.appender.js';
import { upsertOne } from '../db/errors.js';
import { Repairs } from '../db/repairs.js';
import { Lru } from '../core/lru.js';
import { recordKeys, type RecordCache } from '../cache/record.cache.js';

/**
 * One position in a group's activity timeline. Every new thread and every reply appends the thread at
 * the head; the thread's previous position is then marked dead. A dead position records `skip`: the
 * lowest position q such that every position from q up to this one is dead, so readers jump over runs
 * of dead positions (a busy thread leaves one behind every reply) instead of reading them one by one.
 * Dead is forever and positions are never reused, so a recorded run stays true and can only grow.
 */
export interface TimelineSlot extends SlotDoc {
  groupId: ObjectId;
  threadId: ObjectId;
  dead: boolean;
  skip: number | null;
}

interface HintDoc {
  _id: string;
  n: number;
}

/** Who holds a group's newest place, as this process last took it (`recordKeys.timelineHead`). */
interface TimelineHead {
  n: number;
  threadId: string;
}

/** How far above its hint a reader looks for a group's head (writers since the hint was recorded). */
const HINT_SLACK = 16;

/** How many hops a writer follows to find the bottom of the run below it (readers compress longer ones). */
const WRITER_HOPS = 16;

/**
 * A group's threads, newest activity first, read with `_id` lookups only (ADR 0006): a page is a few
 * batches of position reads whatever the size of the group.
 */
export class ThreadTimeline {
  readonly slots: DenseSequence<TimelineSlot>;
  private readonly hints: Collection<HintDoc>;
  /** Positions taken by this process's writers together, per group (a group commit, ADR 0033). */
  private readonly appender: SequenceAppender<TimelineSlot>;
  /** What writers left to settle, per group: written after they answered, a group's at a time. */
  private readonly unsettled = new Map<string, { groupId: ObjectId; n: number; retire: Set<number> }>();
  private readonly settling = new Map<string, Promise<void>>();
  /** The positions the settle under way retires, per group (readers leave them to it: `retiring`). */
  private readonly retiringNow = new Map<string, Set<number>>();
  /**
   * How many positions a first page from the head took last, per group: busy threads leave runs of dead
   * positions, and the next first page reads that many at once instead of finding the rest in a second read.
   */
  private readonly spans = new Lru<string, number>(10_000);
  /** The hint this process last wrote, per group: a settle that would not raise it writes nothing. */
  private readonly hinted = new Lru<string, number>(10_000);
  /** Positions this process retired lately (`<group>:<n>`): dead is forever, so never retired twice. */
  private readonly retired = new Lru<string, true>(10_000);

  constructor(
    db: Db,
    private readonly repairs = new Repairs(),
    /** Where who holds each group's newest place is kept (`place`); without it every place is taken anew. */
    private readonly kept?: RecordCache,
  ) {
    this.slots = new DenseSequence(db.collection<TimelineSlot>(collections.threadTimeline));
    this.hints = db.collection<HintDoc>(collections.sequenceHints);
    this.appender = new SequenceAppender(
      this.slots,
      async (prefix) => (await this.hints.findOne({ _id: `timeline:${prefix}` }))?.n ?? 0,
    );
  }

  private hintId(groupId: ObjectId) {
    return `timeline:${groupId.toHexString()}`;
  }

  async head(groupId: ObjectId): Promise<number> {
    const hint = await this.hints.findOne({ _id: this.hintId(groupId) });
    return this.slots.head(groupId.toHexString(), hint?.n ?? 0);
  }

  /**
   * Put the thread at the head of its group's timeline and retire its previous position. Returns the
   * new position, which the caller records on the thread (`timelineSlot`).
   */
  async bump(groupId: ObjectId, threadId: ObjectId, previous: number | null): Promise<number> {
    const n = await this.place(groupId, threadId);
    await this.settle(groupId, n, previous);
    return n;
  }

  /**
   * The first half of `bump`: the new position, from which readers list the thread first. The writers of a
   * group in this process take their positions together (one insert for all who arrive while one is on its
   * way); replies to one thread in one such batch share its new position (SequenceAppender, ADR 0033).
   *
   * A thread that holds its group's newest place already keeps it (docs/adr/0045-the-head-thread-keeps-its-place.md):
   * a reply to the conversation under way moves nothing, so it is announced without a write of the timeline.
   * Who holds the place is kept from this process's last place in the group (record cache), and every process
   * forgets it as soon as any of them starts taking a place there.
   */
  async place(groupId: ObjectId, threadId: ObjectId): Promise<number> {
    const key = recordKeys.timelineHead(groupId.toHexString());
    const thread = threadId.toHexString();
    const holder = this.kept?.get<TimelineHead>(key);
    if (holder?.threadId === thread) return holder.n;
    this.kept?.changed([key]);
    const ticket = this.kept?.ticket() ?? 0;
    const n = await this.appender.take(
      groupId.toHexString(),
      (position, _id) => ({ _id, n: position, groupId, threadId, dead: false, skip: null }),
      { key: thread },
    );
    // Writers of the group in one batch finish in any order: the highest place is the head.
    const now = this.kept?.get<TimelineHead>(key);
    if (!now || now.n < n) this.kept?.set(key, { n, threadId: thread } satisfies TimelineHead, 128, ticket);
    return n;
  }

  /**
   * `settle`, after the writer has answered: the group's writers' hints and retirements are written together,
   * one group at a time. Lost in a crash, they are what readers settle anyway (ThreadRepository.isPlace: a
   * position below the thread's live newer one is retired by the first reader that meets it).
   */
  settleLater(groupId: ObjectId, n: number, previous: Iterable<number>): Promise<void> {
    const key = groupId.toHexString();
    const retire = [...previous].filter((p) => p && p < n && !this.retired.get(`${key}:${p}`));
    // Nothing to write: the hint has the position already and no place was left behind (a reply to the thread
    // that holds its group's newest place, ADR 0045).
    if (!retire.length && n <= (this.hinted.get(key) ?? 0))
      return this.settling.get(key) ?? Promise.resolve();
    const entry = this.unsettled.get(key) ?? { groupId, n: 0, retire: new Set<number>() };
    entry.n = Math.max(entry.n, n);
    for (const p of retire) entry.retire.add(p);
    this.unsettled.set(key, entry);
    let running = this.settling.get(key);
    if (!running) {
      running = (async () => {
        try {
          for (let next = this.unsettled.get(key); next; next = this.unsettled.get(key)) {
            this.unsettled.delete(key);
            this.retiringNow.set(key, next.retire);
            await upsertOne(this.hints, { _id: this.hintId(next.groupId) }, { $max: { n: next.n } });
            this.hinted.set(key, Math.max(next.n, this.hinted.get(key) ?? 0));
            // Highest first, each linked to the run of dead positions below it (`retire`): readers then jump a
            // busy thread's trail in one read (tests/integration/page-commands.test.ts).
            for (const p of [...next.retire].sort((a, b) => b - a)) await this.retire(next.groupId, p);
          }
        } finally {
          this.settling.delete(key);
          this.retiringNow.delete(key);
        }
      })();
      this.settling.set(key, running);
    }
    return running;
  }

  /** Whether this process's writers will retire the group's position `n` (a reader need not). */
  retiring(groupId: ObjectId, n: number): boolean {
    const key = groupId.toHexString();
    return Boolean(this.unsettled.get(key)?.retire.has(n) || this.retiringNow.get(key)?.has(n));
  }

  /** Resolves when every deferred settle under way has ended (tests; a process stopping). */
  async idle(): Promise<void> {
    while (this.settling.size)
      await Promise.all([...this.settling.values()].map((p) => p.catch(() => undefined)));
  }

  /** The second half: record the hint and retire the previous position (a reader settles it meanwhile). */
  async settle(groupId: ObjectId, n: number, previous: number | null): Promise<void> {
    await upsertOne(this.hints, { _id: this.hintId(groupId) }, { $max: { n } });
    if (previous && previous < n) await this.retire(groupId, previous);
  }

  /** Mark a position dead, recording how far the run of dead positions below it reaches. */
  async retire(groupId: ObjectId, n: number): Promise<void> {
    const prefix = groupId.toHexString();
    // The newest place is retired only when its thread was written before (a post received twice at once):
    // the place no longer holds anyone.
    const key = recordKeys.timelineHead(prefix);
    if (this.kept?.get<TimelineHead>(key)?.n === n) this.kept.changed([key]);
    let bottom = n;
    for (let p = n - 1, hops = 0; p >= 1 && hops < WRITER_HOPS; hops++) {
      const slot = await this.slots.get(prefix, p);
      if (!slot?.dead) break;
      bottom = slot.skip ?? p;
      p = bottom - 1;
    }
    await this.slots.collection.updateOne(
      { _id: this.slots.key(prefix, n) },
      { $set: { dead: true, skip: bottom } },
    );
    this.retired.set(`${prefix}:${n}`, true);
  }

  /**
   * Live positions from `from` downwards (the head when null), newest first, in batches of about
   * `want`. Runs of dead positions are jumped over; a run that took several jumps is recorded on its
   * top position (after the read, by `repairs`) so the next reader needs one.
   */
  async *scan(groupId: ObjectId, from: number | null, want: number): AsyncGenerator<TimelineSlot[]> {
    const prefix = groupId.toHexString();
    // From the head: the first read starts a few positions above the group's hint (positions past the head
    // are simply absent), so finding the head costs no read of its own unless the head is further up.
    let fromHint = from === null;
    // The head this process's writers last took, when they wrote here, saves reading the group's hint.
    const known = this.appender.knownHead(prefix);
    let next =
      from ?? (known ?? (await this.hints.findOne({ _id: this.hintId(groupId) }))?.n ?? 0) + HINT_SLACK;
    let run: { top: TimelineSlot; bottom: number } | null = null;
    // What a first page from the head takes (remembered in `finally`, whenever the reader stops).
    let firstTop: number | null = null;
    let lowest: number | null = null;
    let yielded = 0;
    const closeRun = () => {
      if (run && run.bottom < (run.top.skip ?? run.top.n)) {
        const { _id } = run.top;
        const skip = run.bottom;
        this.repairs.schedule(`skip:${_id}`, () =>
          this.slots.collection.updateOne({ _id }, { $min: { skip } }),
        );
      }
      run = null;
    };
    try {
      while (next >= 1) {
        const top = next;
        // Busy threads leave dead positions behind: reading a few times what is wanted, or what the group's
        // last first page took, usually finds a whole page in one read (the positions are small documents).
        const learned = from === null && yielded === 0 ? (this.spans.get(prefix) ?? 0) : 0;
        const size = Math.min(top, Math.max(want * 3, 8, learned), 300);
        const docs = await this.slots.getMany(
          prefix,
          Array.from({ length: size }, (_, i) => top - i),
        );
        if (fromHint) {
          fromHint = false;
          if (docs[0]) {
            // Taken up to the top of the read: the head is further up.
            next = await this.slots.head(prefix, top);
            continue;
          }
        }
        firstTop ??= top;
        const live: TimelineSlot[] = [];
        for (const [i, slot] of docs.entries()) {
          const n = top - i;
          if (n > next) continue; // inside a run jumped over
          if (slot?.dead) {
            const bottom = Math.min(slot.skip ?? n, n);
            if (run) run.bottom = Math.min(run.bottom, bottom);
            else run = { top: slot, bottom };
            next = bottom - 1;
            continue;
          }
          closeRun();
          next = n - 1;
          // A missing position was taken a moment ago and is not written yet; nothing to show there.
          if (slot) live.push(slot);
        }
        if (live.length) {
          lowest = live[live.length - 1]!.n;
          yielded += live.length;
          yield live;
        }
      }
      closeRun();
    } finally {
      // A whole page, or the whole timeline (a group with fewer threads than a page).
      if (from === null && firstTop !== null && lowest !== null && (yielded >= want || next < 1))
        this.spans.set(prefix, Math.ceil(((next < 1 ? firstTop : firstTop - lowest + 1) * 5) / 4));
    }
  }

  /** Forget a group's timeline (the group is purged). */
  async removeGroup(groupId: ObjectId): Promise<void> {
    await this.slots.collection.deleteMany({ groupId });
    await this.hints.deleteOne({ _id: this.hintId(groupId) });
  }
}
