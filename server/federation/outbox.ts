import type { ApexInstance } from 'activitypub-express';
import { ObjectId } from 'mongodb';
import type { Lanes } from '../core/lanes.js';
import type { Logger } from '../core/logger.js';
import { Lru } from '../core/lru.js';
import { AS_CONTEXT } from './actor.directory.js';
import { orderOf } from './outbox.order.js';
import type { ApexStore } from './apex.store.js';
import type { DeliveryQueue } from './delivery.queue.js';

export type Activity = Record<string, unknown> & { id: string; type: string; actor: string };

export interface SendOptions {
  /** An activity whose deliveries from this process go out first. */
  behind?: string | undefined;
  /** What must be fetchable before this activity is queued. */
  after?: Promise<unknown> | undefined;
  /**
   * The JSON-LD form is kept once this process's first deliveries are handed out (`Lanes.later`, ADR 0042):
   * for a new thread's activities, whose JSON-LD processing otherwise takes the CPU they are signed with.
   */
  later?: boolean | undefined;
}

/**
 * Activities the node sends: each gets an id under `/ap/s/`, is kept in its actor's outbox (so it can be
 * fetched back by its id and is paged in the outbox), and is queued for the inboxes given (the delivery
 * queue, ADR 0009). The body sent is the activity as built here; what is kept is apex's form of it.
 */
export class Outbox {
  /**
   * What this process sent lately, by the keys of `orderOf` (a post's creation, its last change, an
   * activity): an activity that must follow one of them goes behind it while it is on its way
   * (docs/federation.md, "Order"), so a receiver never has an edit, a like or a reply before its post.
   */
  private readonly sent = new Lru<string, { id: string; queued: Promise<void> }>(10_000);

  constructor(
    private readonly deps: {
      base: string;
      apex: ApexInstance;
      store: ApexStore;
      deliveries: DeliveryQueue;
      logger: Logger;
      /** With `later`, the JSON-LD form is kept once the first deliveries are handed out (ADR 0042). */
      lanes: Lanes;
    },
  ) {}

  newId(): string {
    return `${this.deps.base}/ap/s/${new ObjectId().toHexString()}`;
  }

  /** Build an activity as `actor` (id and `published` added when absent). */
  build(actor: string, activity: Record<string, unknown> & { type: string }): Activity {
    return {
      '@context': AS_CONTEXT,
      id: this.newId(),
      ...activity,
      actor,
      published: (activity.published as string | undefined) ?? new Date().toISOString(),
    } as Activity;
  }

  /**
   * Keep the activity in its actor's outbox and queue it for these inboxes (each once). Both at once: the
   * first deliveries need not wait for the JSON-LD form kept for fetching it back, since the queue writes the
   * activity's body before its deliveries and the node serves it back from there meanwhile (ADR 0031); with
   * `later`, the form is made once the activity is queued and the first deliveries are handed out (ADR 0042).
   * `after`: what must be fetchable before this activity is queued (an activity of this node it embeds:
   * `start(...).queued`). `behind`: an activity whose deliveries from this process go out first.
   */
  async send(
    activity: Activity,
    inboxes: string[] | Promise<string[]>,
    options: SendOptions = {},
  ): Promise<Activity> {
    return this.start(activity, inboxes, options).done;
  }

  /**
   * `send`, telling apart when the activity can be fetched back (`queued`) and when it is all done. The
   * inboxes may still be being found: the activity's body is written meanwhile, its deliveries once they
   * are known (and `after` is fetchable).
   */
  start(
    activity: Activity,
    inboxes: string[] | Promise<string[]>,
    options: SendOptions = {},
  ): { queued: Promise<void>; done: Promise<Activity> } {
    // Behind what it must follow, once that is queued (its deliveries then taken by this process's worker,
    // which sends this one's once they are answered).
    const order = orderOf(activity);
    const previous = options.behind
      ? undefined
      : order.follows.map((key) => this.sent.get(key)).find((p) => p !== undefined);
    const targets = (async () => {
      const [list] = await Promise.all([inboxes, options.after, previous?.queued.catch(() => undefined)]);
      return list;
    })();
    const queued = (async () => {
      await this.deps.deliveries.enqueue(activity.actor, JSON.stringify(activity), targets, {
        behind: options.behind ?? previous?.id,
      });
    })();
    // One sent to no inbox (the copy kept in a person's outbox while their group announces it) stands for
    // nothing: what follows goes behind the group's Announce.
    if (!(Array.isArray(inboxes) && inboxes.length === 0))
      for (const key of order.is) this.sent.set(key, { id: activity.id, queued });
    const done = (async () => {
      await Promise.all([
        (async () => {
          // Nobody waits for the JSON-LD form: its processing goes after the first deliveries' signing.
          if (options.later) {
            await queued.catch(() => undefined);
            await this.deps.lanes.later();
          }
          const compacted = await this.deps.apex.fromJSONLD(structuredClone(activity));
          compacted._meta = { collection: [`${activity.actor}/outbox`] };
          await this.deps.store.saveActivity(this.deps.store.own(compacted));
        })(),
        queued,
      ]);
      this.deps.logger.debug(
        { activity: activity.id, type: activity.type, inboxes: (await targets).length },
        'sent',
      );
      return activity;
    })();
    // A failure is the caller's, through `done`.
    queued.catch(() => undefined);
    targets.catch(() => undefined);
    return { queued, done };
  }
}
