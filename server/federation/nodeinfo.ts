import type { Db } from 'mongodb';
import { collections } from '../db/collections.js';

/** How often the usage counts are taken again (they are statistics; peers read them now and then). */
const REFRESH_MS = 6 * 3600_000;

/**
 * NodeInfo 2.0 / 2.1 with counts from the domain (posts of public groups only). The counts are taken in
 * the background when the node starts and every six hours, never while a request waits (each is a count
 * over a whole collection: docs/operations.md, "NodeInfo"); a request reads the last ones.
 */
export class NodeInfoSource {
  private usageNow: Record<string, unknown> | null = null;
  private counting: Promise<Record<string, unknown>> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly software: { name: string; version: string; homepage: string },
    /** `metadata` as it is now (the node's name and description change at run time). */
    private readonly metadata: () => Record<string, unknown>,
    private readonly refreshMs = REFRESH_MS,
  ) {}

  /** Take the counts now and every `refreshMs` (a failed count keeps the last ones). */
  start(): void {
    if (this.timer) return;
    void this.count().catch(() => undefined);
    this.timer = setInterval(() => void this.count().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private count(): Promise<Record<string, unknown>> {
    this.counting ??= this.take().finally(() => (this.counting = null));
    return this.counting;
  }

  private async take(): Promise<Record<string, unknown>> {
    const users = this.db.collection(collections.users);
    const day = 86_400_000;
    const since = (days: number) => new Date(Date.now() - days * day);
    const [total, activeMonth, activeHalfyear, threads, replies] = await Promise.all([
      users.countDocuments({ status: 'active' }),
      users.countDocuments({ status: 'active', lastSignInAt: { $gte: since(30) } }),
      users.countDocuments({ status: 'active', lastSignInAt: { $gte: since(180) } }),
      this.db.collection(collections.threads).countDocuments({ deleted: null, audience: 'public' }),
      this.db.collection(collections.replies).countDocuments({ deleted: null, audience: 'public' }),
    ]);
    this.usageNow = {
      users: { total, activeMonth, activeHalfyear },
      localPosts: threads,
      localComments: replies,
    };
    return this.usageNow;
  }

  /** The last counts; only before the first ones are taken does a request wait for them. */
  private async usage(): Promise<Record<string, unknown>> {
    return this.usageNow ?? (await this.count());
  }

  async document(version: string): Promise<Record<string, unknown>> {
    return {
      version,
      software: {
        name: this.software.name.toLowerCase(),
        version: this.software.version,
        ...(version === '2.1' ? { homepage: this.software.homepage } : {}),
      },
      protocols: ['activitypub'],
      services: { inbound: [], outbound: [] },
      // People sign in with their department's identity provider; there is no sign-up.
      openRegistrations: false,
      usage: await this.usage(),
      metadata: this.metadata(),
    };
  }
}
