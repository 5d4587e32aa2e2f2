import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApexInstance, ApexObject } from 'activitypub-express';
import { KeyedChains } from '../core/chains.js';
import type { RequestHandler, Router } from 'express';
import type { Db } from 'mongodb';
import type { Config } from '../config.js';
import type { EventBus } from '../core/events.js';
import type { Lanes } from '../core/lanes.js';
import type { Logger } from '../core/logger.js';
import { projectRoot } from '../core/paths.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { MembershipService } from '../groups/membership.service.js';
import type { AttachmentCopies } from '../files/attachment.copies.js';
import type { OrganizationRepository } from '../organizations/organization.repository.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { ReportService } from '../threads/report.service.js';
import type { ThreadService } from '../threads/thread.service.js';
import { ActorDirectory } from './actor.directory.js';
import { createApex } from './apex.setup.js';
import { ApexStore } from './apex.store.js';
import { DeliveryQueue } from './delivery.queue.js';
import { defaultDeliveryOptions, DeliveryWorker } from './delivery.worker.js';
import { KeyStore } from './federation.keys.js';
import { FederationPolicy } from './federation.policy.js';
import { federationRoutes } from './federation.routes.js';
import { inboxGuard } from './inbox.guard.js';
import { ReplayFilter } from './replay.filter.js';
import { inboxHandler } from './inbox.handler.js';
import type { Inbound, InboxHandlerDeps } from './inbox.contract.js';
import { inboxHandlers } from './inbox.handlers.js';
import { GroupBackfill } from './group.backfill.js';
import { FederationBridge } from './federation.bridge.js';
import { FederationRecords } from './federation.records.js';
import { GroupAudience } from './group.audience.js';
import { PostsBeingWritten } from './inbox.writing.js';
import { Outbox } from './outbox.js';
import { RemoteDirectory } from './remote.directory.js';
import { LookupService } from './lookup.service.js';
import { signedFetchVerifier } from './signed.fetch.js';
import { NodeInfoSource } from './nodeinfo.js';
import { ObjectRenderer } from './object.renderer.js';
import { PostAttachments } from './post.attachments.js';
import type { OutboundPolicy } from './outbound.js';
import { RemoteFetcher } from './remote.fetcher.js';
import { RemoteKeys } from './remote.keys.js';
import { SignatureNegotiator } from './signature.negotiator.js';
import { SignatureVerifier } from './signature.verifier.js';

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
  /** Verifies request signatures (RFC 9421 and draft-cavage), for routes that need to know who asks. */
  signatures: SignatureVerifier;
  /** People and groups of other nodes, recorded here. */
  remote: RemoteDirectory;
  lookup: LookupService;
  records: FederationRecords;
  renderer: ObjectRenderer;
  start(): void;
  close(): Promise<void>;
}

/** Everything federation needs, composed (docs/federation.md, docs/adr/0017-inbox-handlers-and-federation-bridge.md). */
export function composeFederation(deps: {
  config: Config;
  db: Db;
  logger: Logger;
  events: EventBus;
  /** A new post's first deliveries are held; what nobody waits for runs after them (ADR 0042). */
  lanes: Lanes;
  people: PersonRepository;
  groups: GroupRepository;
  threads: ThreadRepository;
  organizations: OrganizationRepository;
  /** Copies of other nodes' attachments, and the files served to other nodes. */
  attachments: AttachmentCopies;
  /** The services inbound activities become calls of (made for a `remote` caller). */
  services: {
    groups: GroupService;
    memberships: MembershipService;
    threads: ThreadService;
    reports: ReportService;
  };
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
    async (id) => (await deps.organizations.byId(id))?.name.en ?? null,
  );
  const negotiator = new SignatureNegotiator();
  const fetcher = new RemoteFetcher(outbound, keys, directory.instanceIri, userAgent, negotiator);
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
    negotiator,
  );
  const replays = new ReplayFilter();

  const follows = new KeyedChains();

  /** Build an activity as one of the node's actors and send it (its outbox, then the delivery queue). */
  const publish = async (actorIri: string, type: string, to: string[], extras: Record<string, unknown>) => {
    const actor = await directory.apexActor(actorIri);
    if (!actor) throw new Error(`no local actor ${actorIri}`);
    // apex stores the very object it is given (addToOutbox), marked as the node's own.
    const activity = store.own(await apex.buildActivity(type, actorIri, to, extras));
    await apex.addToOutbox(actor, activity);
    return activity;
  };

  /** A person here is followed: accepted at once by them (and only them), the follower counted once. */
  const acceptPersonFollow = async (recipientIri: string, inbound: Inbound) => {
    const recipient = await directory.apexActor(recipientIri);
    if (!recipient) return;
    const follower = inbound.actorId;
    // One follower's follows of one actor are handled one at a time in this process.
    await follows.run(`${recipientIri} ${follower}`, async () => {
      const known = await store.findActivityByCollectionAndActorId(`${recipientIri}/followers`, follower);
      if (!known) {
        const follow = (await store.getActivity(inbound.id, true)) as ApexObject;
        await apex.acceptFollow(recipient, follow);
      }
    });
    await publish(recipientIri, 'Accept', [follower], { object: inbound.id });
  };

  const records = new FederationRecords(db);
  const renderer = new ObjectRenderer(directory, deps.threads, deps.groups, deps.people);
  const remote = new RemoteDirectory({
    fetcher,
    records,
    people: deps.people,
    groups: deps.groups,
    isLocal: (iri) => directory.isLocal(iri),
    visibilityChanged: (group, visibility, write) =>
      deps.services.groups.remoteVisibilityChanged(group, visibility, write),
    logger,
  });
  // What this process just queued is sent at once (ADR 0031): until those requests are handed to their
  // connections, the work nobody waits for waits (ADR 0042).
  worker.onSending((handed) => deps.lanes.hold(handed));
  const outbox = new Outbox({ base: config.publicUrl, apex, store, deliveries, logger, lanes: deps.lanes });
  const audience = new GroupAudience({ groups: deps.groups, people: deps.people, renderer, outbox });
  const bridge = new FederationBridge({
    events: deps.events,
    groups: deps.groups,
    people: deps.people,
    threads: deps.threads,
    renderer,
    actors: directory,
    outbox,
    audience,
    records,
    logger,
    lanes: deps.lanes,
  });
  bridge.listen();
  deps.services.memberships.useRemotePeople((handle) => remote.personByHandle(handle));
  /** An activity this node queued, as it was sent: served while its JSON-LD form is being kept (ADR 0031). */
  const queued = async (id: string) => {
    const doc = await deliveries.body(id);
    return doc ? (JSON.parse(doc.body) as Record<string, unknown>) : null;
  };
  /** One of this node's activities, as kept or (a moment after it was queued) as queued: see InboxHandlerDeps. */
  const ownActivity = async (id: string, includeMeta = false): Promise<ApexObject | null> => {
    const kept = await store.getActivity(id, includeMeta);
    if (kept) return kept;
    const sent = await queued(id);
    return sent ? ((await apex.fromJSONLD(sent)) ?? null) : null;
  };
  const handlerDeps: InboxHandlerDeps = {
    apex,
    store,
    ownActivity,
    directory,
    writing: new PostsBeingWritten(),
    renderer,
    remote,
    records,
    fetcher,
    audience,
    bridge,
    memberships: deps.services.memberships,
    threads: deps.services.threads,
    reports: deps.services.reports,
    groupRepo: deps.groups,
    threadRepo: deps.threads,
    people: deps.people,
    attachments: new PostAttachments({
      copies: deps.attachments,
      records,
      keys,
      instanceIri: directory.instanceIri,
      userAgent,
      outbound,
      logger,
    }),
    acceptPersonFollow,
    logger,
  };
  const handlers = inboxHandlers(handlerDeps);
  const backfill = new GroupBackfill({ ...handlerDeps, events: deps.events });

  const remoteKeys = new RemoteKeys(db, fetcher);
  const signatures = new SignatureVerifier({
    keys: remoteKeys,
    policy,
    options: { maxSkewMs: HOUR, publicUrl: config.publicUrl },
  });
  const inbox = [
    ...(deps.inboxObserver ? [deps.inboxObserver] : []),
    ...inboxGuard({
      options: {
        maxBytes: fed.inboxMaxBytes,
        ratePerMinute: fed.inboxRatePerMinute,
        unsignedAllowed: fed.unsignedInbox,
      },
      directory,
      policy,
      signatures,
      replays,
      logger,
    }),
    inboxHandler({
      apex,
      store,
      ownActivity,
      directory,
      replays,
      logger,
      handlers,
      // A members-only group's inbox takes activities from servers holding one of its members, in any
      // standing (an invited person's Follow); to others it does not exist (ADR 0028).
      hiddenFrom: async (name, actorId) => {
        const loaded = await directory.load(name, { membersOnly: true });
        const group = loaded && 'group' in loaded ? loaded.group : null;
        return audience.hides(group, actorId, ['active', 'invited', 'requested', 'banned']);
      },
      onActorDeleted: (actorId) => {
        remote.forget(actorId);
        return remoteKeys.forgetOwner(actorId);
      },
    }),
  ];
  const nodeinfo = new NodeInfoSource({
    people: deps.people,
    threads: deps.threads,
    software: { name: 'Ensemble', version, homepage: config.publicUrl },
    metadata: deps.nodeMetadata ?? (() => ({ nodeName: new URL(config.publicUrl).host })),
  });
  const router = federationRoutes({
    directory,
    objects: renderer,
    apex,
    nodeinfo,
    host: new URL(config.publicUrl).host,
    inbox,
    queued,
    signedBy: signedFetchVerifier({ keys: remoteKeys, policy, maxSkewMs: HOUR }),
    memberOrigins: (group, states) => audience.memberOrigins(group._id, states),
    attachment: async (ref) => {
      // A copy is served by its group's node only, found by the URL its origin gave it.
      const record = 'url' in ref ? await records.byIri(ref.url) : null;
      if ('url' in ref && record?.kind !== 'file') return null;
      const found = await deps.attachments.served(
        record ? record.localId.toHexString() : (ref as { id: string }).id,
        'url' in ref ? ref.url : undefined,
      );
      const group = found && (await deps.groups.byId(found.file.groupId));
      if (!found || !group || group.deletedAt || (record && group.origin)) return null;
      const { file, version } = found;
      return {
        group,
        download: {
          db,
          bucket: 'blobs',
          blobId: version.blobId,
          size: version.size,
          contentType: version.contentType,
          name: file.name,
          etag: `"${version.sha256}"`,
          lastModified: version.uploadedAt,
          disposition: 'attachment',
        },
      };
    },
    pinned: async (group) =>
      (await deps.threads.pinnedThreads(group._id)).map((t) => renderer.postIri('threads', t)),
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
    signatures,
    remote,
    records,
    renderer,
    lookup: new LookupService({
      directory,
      renderer,
      remote,
      records,
      fetcher,
      groups: deps.services.groups,
      threads: deps.services.threads,
      groupRepo: deps.groups,
      threadRepo: deps.threads,
      people: deps.people,
      logger,
    }),
    publish,
    start: () => {
      worker.start();
      nodeinfo.start();
      backfill.start();
    },
    close: async () => {
      backfill.stop();
      clearInterval(sweeps);
      nodeinfo.stop();
      await worker.stop();
    },
  };
}
