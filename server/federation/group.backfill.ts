import { ObjectId } from 'mongodb';
import type { EventBus } from '../core/events.js';
import type { GroupDoc } from '../groups/group.repository.js';
import { idOf, isNode, originOf } from './as.values.js';
import { announcedApplier } from './inbox.announced.js';
import { first, inboxContext, typeOf, type Json } from './inbox.context.js';
import type { InboxHandlerDeps } from './inbox.contract.js';
import { moderationHandlers } from './inbox.moderation.js';
import { stripUntrusted } from './inbox.sanitize.js';
import { POST_TYPES } from './post.content.js';

/** Activities read from a group's outbox, at most (its first page). */
const OUTBOX_ITEMS = 50;
/** What backfill applies from a group's outbox (a named object is read first: `IRI`). */
const BACKFILLED = new Set([...POST_TYPES, 'Create', 'Delete', 'IRI']);
/** Pages of one thread's `context` collection read, at most. */
const CONTEXT_PAGES = 10;

/**
 * Backfill (FEP-f228) of a group hosted on another node: what was posted before this node heard of it, or
 * while it was down (docs/federation.md, "Backfill"). The group's outbox gives its recent activities (the
 * Announces it sent, newest first); each thread found there gives its posts through its FEP-7888 `context`
 * collection. Everything is applied as the group's Announces are (inbox.announced.ts), oldest first, so
 * the same checks hold and a post already recorded is not recorded twice.
 *
 * Runs when a person of this node becomes a member of a group elsewhere, and at start for every group
 * elsewhere that has members here (a node that was down catches up).
 */
export class GroupBackfill {
  private readonly running = new Map<string, Promise<void>>();
  private readonly ctx;
  private readonly apply;
  private stopped = false;

  constructor(
    private readonly deps: InboxHandlerDeps & {
      events: EventBus;
    },
  ) {
    this.ctx = inboxContext(deps);
    this.apply = announcedApplier(deps, this.ctx, moderationHandlers(deps, this.ctx));
  }

  /** Backfill a group when a person here joins it, and every group elsewhere with members here now. */
  start(): void {
    this.deps.events.on('member.joined', async (e) => {
      const group = await this.deps.groupRepo.byId(new ObjectId(e.groupId));
      const person = await this.deps.people.byId(new ObjectId(e.userId));
      if (group?.origin && person && person.status !== 'remote') await this.backfill(group);
    });
    void (async () => {
      for (const group of await this.deps.groupRepo.remoteGroupsWithMembers()) {
        if (this.stopped) return;
        await this.backfill(group);
      }
    })().catch((err: unknown) => this.deps.logger.warn({ err }, 'backfill at start failed'));
  }

  stop(): void {
    this.stopped = true;
  }

  /** One backfill per group at a time; a second request while one runs waits for it. */
  backfill(group: GroupDoc): Promise<void> {
    const key = group._id.toHexString();
    const current = this.running.get(key);
    if (current) return current;
    const run = this.run(group)
      .catch((err: unknown) => this.deps.logger.info({ err, group: group.handle }, 'backfill failed'))
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  private async run(group: GroupDoc): Promise<void> {
    const origin = group.origin;
    if (!origin?.outbox) return;
    const outbox = await this.deps.fetcher.getObject(origin.outbox);
    const page = await this.page(outbox.first);
    const items = this.items(page).slice(0, OUTBOX_ITEMS).reverse();
    const threads: Json[] = [];
    for (const item of items) {
      if (this.stopped) return;
      if (!isNode(item) || typeOf(item) !== 'Announce' || typeof item.id !== 'string') continue;
      // Posts and their removal; edits, likes, locks and pins that were missed come with the delivery
      // queue's retries. An Announce this node already received is passed over.
      if (
        !BACKFILLED.has(typeOf(first(item.object)) ?? (typeof first(item.object) === 'string' ? 'IRI' : ''))
      )
        continue;
      if (await this.deps.store.getActivity(item.id)) continue;
      const inner = await this.carried(group, first(item.object)).catch(() => null);
      if (!inner || !BACKFILLED.has(typeOf(inner) ?? '')) continue;
      await this.apply(group, inner).catch((err: unknown) =>
        this.deps.logger.debug({ err, id: inner.id }, 'a backfilled activity was not applied'),
      );
      const post = POST_TYPES.has(typeOf(inner) ?? '')
        ? inner
        : typeOf(inner) === 'Create'
          ? await this.ctx.resolve(inner.object).catch(() => null)
          : null;
      if (post && !post.inReplyTo && !threads.some((t) => t.id === post.id)) threads.push(post);
    }
    for (const thread of threads) await this.thread(group, thread);
  }

  /** Every post of a thread, from its FEP-7888 `context` collection (thread first, then replies). */
  private async thread(group: GroupDoc, thread: Json): Promise<void> {
    const context = idOf(first(thread.context));
    if (!context || context === thread.id || originOf(context) !== originOf(String(thread.id))) return;
    const collection = await this.deps.fetcher.getObject(context).catch(() => null);
    if (!collection) return;
    let page: Json | null = await this.page(collection.first);
    for (let n = 0; page && n < CONTEXT_PAGES && !this.stopped; n++) {
      for (const item of this.items(page)) {
        const iri = idOf(item);
        if (!iri || (await this.ctx.postOf(iri))) continue;
        const post = await this.carried(group, item, context).catch(() => null);
        if (post && POST_TYPES.has(typeOf(post) ?? ''))
          await this.apply(group, post).catch((err: unknown) =>
            this.deps.logger.debug({ err, id: iri }, 'a backfilled post was not applied'),
          );
      }
      const next = idOf(page.next);
      page = next && originOf(next) === originOf(context) ? await this.page(next) : null;
    }
  }

  /** A collection page, embedded or by IRI. */
  private async page(value: unknown): Promise<Json | null> {
    if (isNode(value) && Array.isArray(value.orderedItems ?? value.items)) return value;
    const iri = idOf(value);
    return iri ? this.deps.fetcher.getObject(iri).catch(() => null) : null;
  }

  private items(page: Json | null): unknown[] {
    const items = page ? (page.orderedItems ?? page.items) : null;
    return Array.isArray(items) ? items : [];
  }

  /**
   * An object a collection of `carrier` (the group's node, or a thread's) holds: believed as carried when it
   * is on the carrier's own origin, or in a members-only group (ADR 0028); else read from its own origin.
   */
  private async carried(group: GroupDoc, value: unknown, carrier = group.origin!.iri): Promise<Json | null> {
    const isLocal = (iri: string) => this.deps.directory.isLocal(iri);
    if (!isNode(value) || typeof value.id !== 'string') return this.ctx.resolve(value);
    const copy = structuredClone(value);
    const own = originOf(copy.id as string);
    if (!own || isLocal(copy.id as string)) return this.ctx.resolve(copy.id);
    if (own !== originOf(carrier) && group.visibility !== 'members') return this.ctx.resolve(copy.id);
    stripUntrusted(copy, own, isLocal);
    return copy;
  }
}
