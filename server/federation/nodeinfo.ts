import type { Db } from 'mongodb';
import { collections } from '../db/collections.js';

const CACHE_MS = 10 * 60_000;

/** NodeInfo 2.0 / 2.1 with counts from the domain (posts of public groups only) (cached ten minutes: each is a count over a collection). */
export class NodeInfoSource {
  private cached: { at: number; usage: Record<string, unknown> } | null = null;

  constructor(
    private readonly db: Db,
    private readonly software: { name: string; version: string; homepage: string },
    /** `metadata` as it is now (the node's name and description change at run time). */
    private readonly metadata: () => Record<string, unknown>,
  ) {}

  private async usage(): Promise<Record<string, unknown>> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.usage;
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
    const usage = {
      users: { total, activeMonth, activeHalfyear },
      localPosts: threads,
      localComments: replies,
    };
    this.cached = { at: Date.now(), usage };
    return usage;
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
