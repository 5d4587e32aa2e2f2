import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApexInstance, ApexObject } from 'activitypub-express';
import type { RequestHandler, Router } from 'express';
import type { Db } from 'mongodb';
import type { Config } from '../config.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { projectRoot } from '../core/paths.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import { ActorDirectory, parseActorName } from './actor.directory.js';
import { idOf } from './as.values.js';
import { createApex } from './apex.setup.js';
import { ApexStore } from './apex.store.js';
import { DeliveryQueue } from './delivery.queue.js';
import { defaultDeliveryOptions, DeliveryWorker } from './delivery.worker.js';
import { KeyStore } from './federation.keys.js';
import { FederationPolicy } from './federation.policy.js';
import { federationRoutes } from './federation.routes.js';
import { inboxGuard } from './inbox.guard.js';
import { ReplayFilter } from './replay.filter.js';
import { inboxHandler, type InboxEvent } from './inbox.handler.js';
import { NodeInfoSource } from './nodeinfo.js';
import { ObjectRenderer } from './object.renderer.js';
import type { OutboundPolicy } from './outbound.js';
import { RemoteFetcher } from './remote.fetcher.js';
import { RemoteKeys } from './remote.keys.js';

const version = (
  JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }
).version;
const HOUR = 3600_000;

export interface Federation {
  router: Router;
  /** Send an activity as a local actor (e.g. `Follow`), through its outbox and the delivery queue. */
  publish(actorIri: string, type: string, to: string[], extras: Record<string, unknown>): Promise<ApexObject>;
  apex: ApexInstance;
  directory: ActorDirectory;
  keys: KeyStore;
  deliveries: DeliveryQueue;
  worker: DeliveryWorker;
  policy: FederationPolicy;
  fetcher: RemoteFetcher;
  start(): void;
  close(): Promise<void>;
}

/** Everything federation needs, composed (ARCHITECTURE.md "Federation"). */
export function composeFederation(deps: {
  config: Config;
  db: Db;
  logger: Logger;
  events: EventBus;
  people: PersonRepository;
  groups: GroupRepository;
  threads: ThreadRepository;
  /** NodeInfo's `metadata` as it is now (the node settings: name, description, contact). */
  nodeMetadata?: () => Record<string, unknown>;
  /** At the head of every inbox chain: sees each post's answer (the node's metrics). */
  inboxObserver?: RequestHandler;
}): Federation {
  const { config, db, logger } = deps;
  const fed = config.federation;
  const userAgent = `Ensemble/${version} (+${config.publicUrl})`;
  const policy = new FederationPolicy(fed.mode, fed.domains);
  const outbound: OutboundPolicy = {
    allowedCidrs: fed.allowedCidrs,
    timeoutMs: fed.fetchTimeoutMs,
    maxBytes: fed.fetchMaxBytes,
    maxRedirects: 3,
    allowHost: (host) => policy.allows(host),
  };
  const keys = new KeyStore(db);
  // The directory renders through apex's JSON-LD processor, made just below.
  const late: { apex?: ApexInstance } = {};
  const directory = new ActorDirectory(
    config.publicUrl,
    deps.people,
    deps.groups,
    keys,
    (doc) => late.apex!.fromJSONLD(doc),
    { name: 'Ensemble' },
  );
  const fetcher = new RemoteFetcher(outbound, keys, directory.instanceIri, userAgent);
  const deliveries = new DeliveryQueue(db);
  const store = new ApexStore(
    db,
    { apexActor: (iri) => directory.apexActor(iri), isLocal: (iri) => directory.isLocal(iri) },
    (actorId, body, addresses) => deliveries.enqueue(actorId, body, addresses).then(() => undefined),
  );
  const apex = createApex({
    publicUrl: config.publicUrl,
    isLocal: (iri) => directory.isLocal(iri),
    sharedInbox: directory.sharedInbox,
    version,
    store,
    fetcher,
    deliveries,
    logger,
  });
  late.apex = apex;
  const worker = new DeliveryWorker(
    deliveries,
    keys,
    outbound,
    policy,
    { ...defaultDeliveryOptions, ...fed.delivery },
    logger,
    userAgent,
  );
  const replays = new ReplayFilter();

  const chains = new Map<string, Promise<unknown>>();
  const serially = (key: string, work: () => Promise<void>): Promise<void> => {
    const run = (chains.get(key) ?? Promise.resolve()).then(work, work);
    chains.set(key, run);
    void run.finally(() => chains.get(key) === run && chains.delete(key)).catch(() => undefined);
    return run;
  };

  /** Build an activity as one of the node's actors and send it (its outbox, then the delivery queue). */
  const publish = (actorIri: string, type: string, to: string[], extras: Record<string, unknown>) =>
    store.asLocal(async () => {
      const actor = await directory.apexActor(actorIri);
      if (!actor) throw new Error(`no local actor ${actorIri}`);
      const activity = await apex.buildActivity(type, actorIri, to, extras);
      await apex.addToOutbox(actor, activity);
      return activity;
    });

  /** Follows of a person or an open group are accepted at once; other groups' wait for their moderators. */
  const onActivity = async ({ activity, recipient }: InboxEvent) => {
    if (activity.type !== 'Follow') return;
    const ref = parseActorName(directory.nameOf(recipient.id) ?? '');
    if (!ref || ref.kind === 'instance') return;
    if (ref.kind === 'group') {
      const loaded = await directory.load(ref.name);
      if (!loaded || !('group' in loaded) || loaded.group.joinPolicy !== 'open') return;
    }
    // Only the actor a Follow names accepts it, whichever inboxes it was sent to.
    if (idOf(activity.object) !== recipient.id) return;
    const follower = (activity.actor as string[])[0]!;
    // A follower is counted once: a repeated Follow (new id, same actor) is accepted again, not added.
    // One follower's follows of one actor are handled one at a time in this process.
    await serially(`${recipient.id} ${follower}`, async () => {
      const known = await store.findActivityByCollectionAndActorId(`${recipient.id}/followers`, follower);
      if (!known) {
        const follow = (await store.getActivity(activity.id, true)) as ApexObject;
        await apex.acceptFollow(recipient, follow);
      }
    });
    await publish(recipient.id, 'Accept', [follower], { object: activity.id });
  };

  const remoteKeys = new RemoteKeys(db, fetcher);
  const inbox = [
    ...(deps.inboxObserver ? [deps.inboxObserver] : []),
    ...inboxGuard({
      options: {
        maxBytes: fed.inboxMaxBytes,
        ratePerMinute: fed.inboxRatePerMinute,
        maxSkewMs: HOUR,
        unsignedAllowed: fed.unsignedInbox,
      },
      directory,
      policy,
      keys: remoteKeys,
      replays,
      logger,
    }),
    inboxHandler({
      apex,
      directory,
      replays,
      logger,
      onActivity,
      onActorDeleted: (actorId) => remoteKeys.forgetOwner(actorId),
    }),
  ];
  const router = federationRoutes({
    directory,
    objects: new ObjectRenderer(directory, deps.threads, deps.groups, deps.people),
    apex,
    nodeinfo: new NodeInfoSource(
      db,
      { name: 'Ensemble', version, homepage: config.publicUrl },
      deps.nodeMetadata ?? (() => ({ nodeName: new URL(config.publicUrl).host })),
    ),
    host: new URL(config.publicUrl).host,
    inbox,
  });
  // A changed person or group is rendered again.
  deps.events.on('person.updated', ({ handle }) => directory.forget(`u.${handle}`));
  deps.events.on('group.updated', ({ handle }) => directory.forget(`g.${handle}`));
  deps.events.on('group.deleted', ({ handle }) => directory.forget(`g.${handle}`));
  deps.events.on('group.restored', ({ handle }) => directory.forget(`g.${handle}`));
  deps.events.on('person.deactivated', ({ handle }) => directory.forget(`u.${handle}`));

  const sweeps = setInterval(() => {
    remoteKeys.sweep().catch((err: unknown) => logger.warn({ err }, 'remote key sweep failed'));
  }, 3600_000);
  sweeps.unref();

  return {
    router,
    apex,
    directory,
    keys,
    deliveries,
    worker,
    policy,
    fetcher,
    publish,
    start: () => worker.start(),
    close: async () => {
      clearInterval(sweeps);
      await worker.stop();
    },
  };
}
