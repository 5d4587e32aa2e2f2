import { Hearing, type Peers } from './hearing.js';

/**
 * Records pages are built from, kept in this process (docs/adr/0034-record-cache.md): groups, memberships,
 * threads, a group's first timeline page and pins, people, a reader's likes. Records, never answers: every permission check runs
 * on every request, on the records as they are now.
 *
 * A record is dropped when it changes: by the domain events that change it (record.bridge.ts), here and in the
 * node's other processes, and by the repositories that write it after its event (bookkeeping and repairs:
 * `changed`). A read takes a ticket before it goes to the database; what it read is kept only if its key was
 * not dropped since, so a read that was already under way never hides a write. Bounded in bytes (least
 * recently used go first, `RECORD_CACHE_SIZE`). Signed-in sessions are kept the same way, in a cache of their
 * own (docs/adr/0038-kept-sessions.md).
 */

/** The keys of kept records, one kind each. */
export const recordKeys = {
  group: (groupId: string) => `group:${groupId}`,
  membership: (groupId: string, personId: string) => `member:${groupId}:${personId}`,
  thread: (threadId: string) => `thread:${threadId}`,
  /**
   * A thread as a reply is checked against (its group, author, deleted, locked): dropped by what changes those,
   * not by the bookkeeping every reply writes (docs/adr/0038-kept-sessions.md).
   */
  replyTarget: (threadId: string) => `reply-target:${threadId}`,
  /**
   * Which thread holds a group's newest timeline place, as this process last took it: a reply to that thread
   * takes no new place (thread.timeline.ts, `place`). Dropped in every process when any takes a place there.
   */
  timelineHead: (groupId: string) => `timeline-head:${groupId}`,
  /** The threads of a group's first page (ids and positions, newest activity first). */
  head: (groupId: string) => `head:${groupId}`,
  pins: (groupId: string) => `pins:${groupId}`,
  /** Who of other nodes is an active member of a group (kept with the group's tag: a membership drops it). */
  remoteMembers: (groupId: string) => `remote-members:${groupId}`,
  person: (personId: string) => `person:${personId}`,
  /** Whether a person likes a post (kept either way). */
  like: (postId: string, personId: string) => `like:${postId}:${personId}`,
};

/** Every record kept: a change that cannot be named record by record (an account merge). */
export const ALL_RECORDS = '*';

export interface RecordCacheOptions {
  enabled: boolean;
  /** The most bytes of records kept, as estimated by their readers. */
  maxBytes: number;
}

export const RECORD_PEER_EVENT = 'record-cache:invalidate';

/** How many dropped keys are remembered for the reads under way (older drops raise `floor`). */
const DROPS_REMEMBERED = 20_000;

interface Kept {
  value: unknown;
  bytes: number;
  /** More keys whose drop drops this record (a session goes with its person's). */
  tags: string[];
}

export class RecordCache {
  private readonly kept = new Map<string, Kept>();
  /** Tag → the kept records it names. */
  private readonly tagged = new Map<string, Set<string>>();
  private bytes = 0;
  /** Counts drops: a read's ticket is the clock when it started. */
  private clock = 0;
  /** When each recently dropped key was dropped. */
  private readonly drops = new Map<string, number>();
  /** Reads that started before this may have missed a drop no longer remembered: nothing of theirs is kept. */
  private floor = 0;
  /** While the other processes cannot be heard, nothing is kept. */
  readonly hearing = new Hearing(() => this.forgetAll());
  private peers: Pick<Peers, 'toPeers'> | undefined;
  private readonly listeners: ((keys: string[]) => void)[] = [];

  /** `peerEvent`: the name its drops go to the other processes under (one per cache). */
  constructor(
    readonly options: RecordCacheOptions,
    readonly peerEvent: string = RECORD_PEER_EVENT,
  ) {}

  get enabled(): boolean {
    return this.options.enabled && this.hearing.hears;
  }

  /** Where `changed` tells the node's other processes (`follow` does it, with the rest). */
  connect(peers: Pick<Peers, 'toPeers'>): void {
    this.peers = peers;
  }

  /**
   * Tell the node's other processes of `changed`, hear theirs, and keep nothing while they cannot be heard.
   */
  follow(peers: Peers): void {
    this.connect(peers);
    this.hearing.follow(peers);
    peers.onPeers(this.peerEvent, (payload) => {
      if (Array.isArray(payload) && payload.every((s) => typeof s === 'string')) this.invalidate(payload);
    });
  }

  /** Taken before a read goes to the database; given back to `set`. */
  ticket(): number {
    return this.clock;
  }

  get<T>(key: string): T | undefined {
    if (!this.enabled) return undefined;
    const entry = this.kept.get(key);
    if (!entry) return undefined;
    // Most recently used last.
    this.kept.delete(key);
    this.kept.set(key, entry);
    return entry.value as T;
  }

  /**
   * Keep what a read found, unless the key (or one of its `tags`) was dropped since the read's `ticket` (or
   * it is too big to keep). A record kept with tags is dropped with any of them.
   */
  set(key: string, value: unknown, bytes: number, ticket: number, tags: string[] = []): void {
    if (!this.enabled || ticket < this.floor) return;
    if ([key, ...tags].some((k) => (this.drops.get(k) ?? -1) > ticket)) return;
    if (bytes > this.options.maxBytes / 16) return;
    this.remove(key);
    this.kept.set(key, { value, bytes, tags });
    for (const tag of tags) {
      let keys = this.tagged.get(tag);
      if (!keys) this.tagged.set(tag, (keys = new Set()));
      keys.add(key);
    }
    this.bytes += bytes;
    for (const [oldest] of this.kept) {
      if (this.bytes <= this.options.maxBytes) break;
      this.remove(oldest);
    }
  }

  private remove(key: string): void {
    const entry = this.kept.get(key);
    if (!entry) return;
    this.kept.delete(key);
    this.bytes -= entry.bytes;
    for (const tag of entry.tags) {
      const keys = this.tagged.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.tagged.delete(tag);
    }
  }

  /** These records changed: dropped here (ALL_RECORDS: every record). */
  invalidate(keys: string[]): void {
    for (const listener of this.listeners) listener(keys);
    const at = ++this.clock;
    if (keys.includes(ALL_RECORDS)) {
      this.forgetAll();
      return;
    }
    for (const key of keys) {
      this.remove(key);
      for (const tagged of this.tagged.get(key) ?? []) this.remove(tagged);
      this.drops.delete(key);
      this.drops.set(key, at);
    }
    for (const [oldest, when] of this.drops) {
      if (this.drops.size <= DROPS_REMEMBERED) break;
      this.drops.delete(oldest);
      this.floor = Math.max(this.floor, when);
    }
  }

  /**
   * Called with the keys of every drop, made here or heard from the other processes: the pages built from
   * these records follow them (cache.bridge.ts, `followRecords`).
   */
  onInvalidate(listener: (keys: string[]) => void): void {
    this.listeners.push(listener);
  }

  /** A repository wrote these records outside an event (or after it): dropped here and in the other processes. */
  changed(keys: string[]): void {
    if (!keys.length) return;
    this.invalidate(keys);
    this.peers?.toPeers(this.peerEvent, keys);
  }

  /** The other processes cannot be heard (Redis is down): forget everything and keep nothing until `heard`. */
  unheard(): void {
    this.hearing.unheard();
  }

  heard(): void {
    this.hearing.heard();
  }

  private forgetAll(): void {
    this.floor = ++this.clock;
    this.kept.clear();
    this.tagged.clear();
    this.drops.clear();
    this.bytes = 0;
  }

  /** How much is kept (metrics and tests). */
  stats(): { records: number; bytes: number } {
    return { records: this.kept.size, bytes: this.bytes };
  }
}

/**
 * Records by key, read through the cache: those kept are taken, the rest read in one call (`read`) and kept.
 * `keyOf` names a record read; `bytesOf` estimates its size.
 */
export async function throughCache<T>(
  cache: RecordCache | undefined,
  keys: string[],
  read: (missing: number[]) => Promise<T[]>,
  keyOf: (record: T) => string,
  bytesOf: (record: T) => number,
): Promise<T[]> {
  if (!cache?.enabled) return read(keys.map((_, i) => i));
  const found: T[] = [];
  const missing: number[] = [];
  for (const [i, key] of keys.entries()) {
    const kept = cache.get<T>(key);
    if (kept === undefined) missing.push(i);
    else found.push(kept);
  }
  if (!missing.length) return found;
  const ticket = cache.ticket();
  const read_ = await read(missing);
  for (const record of read_) cache.set(keyOf(record), record, bytesOf(record), ticket);
  return [...found, ...read_];
}

/** A rough size of a record in memory (its JSON length, twice for UTF-16 and object overhead). */
export const roughBytes = (record: unknown): number => 2 * JSON.stringify(record).length + 64;
