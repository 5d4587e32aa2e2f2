import type { createClient } from 'redis';
import type { Caller } from '../core/caller.js';

/** Who a dropped socket was and which groups it followed, kept until it reconnects or the window ends. */
export interface RecoveryRecord {
  caller: Caller;
  sessionId: string | null;
  groupIds: string[];
}

const PREFIX = 'ensemble:recovery:';

/**
 * Socket.IO hands a recovered socket its rooms and missed events in one step, before any of our code runs,
 * so what the person may still see has to be known beforehand: each dropped socket leaves a record here
 * (in Redis with several processes, so any process can read it; in memory with one), and recovery reads
 * it first. A record is read once and lasts as long as Socket.IO's recovery window.
 */
export class RecoveryRecords {
  private readonly local = new Map<string, { record: RecoveryRecord; until: number }>();
  private sweptAt = 0;

  constructor(
    private readonly redis: ReturnType<typeof createClient> | undefined,
    private readonly ttlMs: number,
  ) {}

  async put(pid: string, record: RecoveryRecord): Promise<void> {
    if (this.redis) {
      await this.redis.set(PREFIX + pid, JSON.stringify(record), { PX: this.ttlMs });
      return;
    }
    const now = Date.now();
    // Records nobody came back for are swept once a window, not on every drop.
    if (now - this.sweptAt > this.ttlMs) {
      this.sweptAt = now;
      for (const [key, entry] of this.local) if (entry.until < now) this.local.delete(key);
    }
    this.local.set(pid, { record, until: now + this.ttlMs });
  }

  async take(pid: string): Promise<RecoveryRecord | null> {
    if (this.redis) {
      // GET and DEL in one transaction (GETDEL needs Redis 6.2): one reader gets the record.
      const [raw] = await this.redis
        .multi()
        .get(PREFIX + pid)
        .del(PREFIX + pid)
        .exec();
      return typeof raw === 'string' ? (JSON.parse(raw) as RecoveryRecord) : null;
    }
    const entry = this.local.get(pid);
    this.local.delete(pid);
    return entry && entry.until >= Date.now() ? entry.record : null;
  }
}
