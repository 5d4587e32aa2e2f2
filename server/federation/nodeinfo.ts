import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';

/** How often the post counts are taken again (statistics; peers read them now and then). */
const REFRESH_MS = 6 * 3600_000;
/** How long the people counts are kept (read from the people's status index). */
const PEOPLE_MS = 10 * 60_000;

type Counts = Record<string, number>;

/**
 * NodeInfo 2.0 / 2.1 with counts from the domain. People are counted through their status index when a
 * request asks (kept ten minutes). Posts of public groups are counted in the background when the node starts
 * and every six hours, never while a request waits (each counts a whole collection: docs/operations.md,
 * "Choosing the database server"); a request reads the last ones.
 */
export class NodeInfoSource {
  private people: { at: number; counts: Counts } | null = null;
  private posts: Counts | null = null;
  private counting: Promise<Counts> | null = null;
  private timer: NodeJS.Timeout | null = null;

  private readonly refreshMs: number;

  constructor(
    private readonly deps: {
      people: PersonRepository;
      threads: ThreadRepository;
      software: { name: string; version: string; homepage: string };
      /** `metadata` as it is now (the node's name and description change at run time). */
      metadata: () => Record<string, unknown>;
      refreshMs?: number;
    },
  ) {
    this.refreshMs = deps.refreshMs ?? REFRESH_MS;
  }

  /** Count posts now and every `refreshMs` (a failed count keeps the last one). */
  start(): void {
    if (this.timer) return;
    void this.countPosts().catch(() => undefined);
    this.timer = setInterval(() => void this.countPosts().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private countPosts(): Promise<Counts> {
    this.counting ??= (async () => {
      const { threads, replies } = await this.deps.threads.countPublic();
      this.posts = { localPosts: threads, localComments: replies };
      return this.posts;
    })().finally(() => (this.counting = null));
    return this.counting;
  }

  private async countPeople(): Promise<Counts> {
    if (this.people && Date.now() - this.people.at < PEOPLE_MS) return this.people.counts;
    const since = (days: number) => new Date(Date.now() - days * 86_400_000);
    const [total, activeMonth, activeHalfyear] = await Promise.all([
      this.deps.people.countActive(),
      this.deps.people.countActive(since(30)),
      this.deps.people.countActive(since(180)),
    ]);
    this.people = { at: Date.now(), counts: { total, activeMonth, activeHalfyear } };
    return this.people.counts;
  }

  private async usage(): Promise<Record<string, unknown>> {
    // Only before the first post count is taken does a request wait for it.
    const [users, posts] = await Promise.all([this.countPeople(), this.posts ?? this.countPosts()]);
    return { users, ...posts };
  }

  async document(version: string): Promise<Record<string, unknown>> {
    return {
      version,
      software: {
        name: this.deps.software.name.toLowerCase(),
        version: this.deps.software.version,
        ...(version === '2.1' ? { homepage: this.deps.software.homepage } : {}),
      },
      protocols: ['activitypub'],
      services: { inbound: [], outbound: [] },
      // People sign in with their department's identity provider; there is no sign-up.
      openRegistrations: false,
      usage: await this.usage(),
      metadata: this.deps.metadata(),
    };
  }
}
