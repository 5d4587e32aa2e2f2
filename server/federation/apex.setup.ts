import ActivitypubExpress, { type ApexInstance } from 'activitypub-express';
import type { Logger } from '../core/logger.js';
import { Lru } from '../core/lru.js';
import { apRoutes } from './actor.directory.js';
import type { ApexStore } from './apex.store.js';
import type { DeliveryQueue } from './delivery.queue.js';
import { SHIPPED_CONTEXTS } from './json-ld.contexts.js';
import { RemoteFetchError, type RemoteFetcher } from './remote.fetcher.js';
import { stripUntrusted } from './inbox.sanitize.js';

const MAX_STORED_CONTEXTS = 1000;

export interface ApexDeps {
  publicUrl: string;
  isLocal: (iri: string) => boolean;
  sharedInbox: string;
  version: string;
  store: ApexStore;
  fetcher: RemoteFetcher;
  deliveries: DeliveryQueue;
  logger: Logger;
}

/**
 * activitypub-express, configured for Ensemble, with the hooks that reach the network replaced
 * (docs/federation.md, "What the node fetches"): object fetches and JSON-LD contexts go through the remote fetcher (federation policy,
 * outbound address policy, signed by the instance actor); delivery goes to Ensemble's persistent queue; the
 * blocked list is empty (the node blocks whole servers through its federation policy, and apex's outbox,
 * where a Block could come from, is not mounted).
 */
export function createApex(deps: ApexDeps): ApexInstance {
  const log =
    (level: 'debug' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      deps.logger[level]({ component: 'activitypub-express' }, args.map(String).join(' '));
  const apex = ActivitypubExpress({
    name: 'Ensemble',
    version: deps.version,
    baseUrl: deps.publicUrl,
    actorParam: 'actor',
    objectParam: 'id',
    activityParam: 'id',
    routes: apRoutes,
    endpoints: { sharedInbox: deps.sharedInbox },
    store: deps.store,
    // apex reads 0 as 10: one level of inReplyTo / tag is resolved, no more.
    threadDepth: 1,
    logger: { info: log('debug'), warn: log('warn'), error: log('error') },
  });

  // A fetched document passes the checks an inbox post does, on the form apex keeps: its id is the one it
  // was served with (a @context cannot rename it), on the origin that served it, never local; what it
  // embeds from elsewhere is cut to IRIs and apex's private fields are dropped.
  apex.requestObject = async (id: string) => {
    const raw = await deps.fetcher.getObject(id);
    const compacted = await apex.fromJSONLD(raw);
    if (!compacted || compacted.id !== raw.id || deps.isLocal(compacted.id))
      throw new RemoteFetchError(`${id} is not a document its server can vouch for`);
    stripUntrusted(compacted, new URL(compacted.id).origin, deps.isLocal);
    return compacted;
  };

  const contexts = new Lru<string, unknown>(200);
  apex.jsonldContextLoader = async (url: string) => {
    // The contexts common servers name are shipped, never fetched (json-ld.contexts.ts).
    const shipped = SHIPPED_CONTEXTS[url];
    if (shipped) return { contextUrl: null, documentUrl: url, document: shipped };
    const recent = contexts.get(url);
    if (recent) return recent;
    const cached = await deps.store.getContext(url);
    if (cached) {
      contexts.set(url, cached);
      return cached;
    }
    const document = await deps.fetcher.getJson(url, 'application/ld+json, application/json');
    const context = { contextUrl: null, documentUrl: url, document };
    contexts.set(url, context);
    // Kept in the database too, up to a bound: context URLs come from the network.
    if ((await deps.store.contexts.estimatedDocumentCount()) < MAX_STORED_CONTEXTS)
      await deps.store.saveContext(context);
    return context;
  };

  apex.queueForDelivery = async (actor, activity, addresses) => {
    await deps.deliveries.enqueue(actor.id, apex.stringifyPublicJSONLD(activity), addresses);
  };
  apex.startDelivery = () => undefined;
  apex.runDelivery = () => undefined;
  apex.deliver = () => {
    throw new Error('apex delivery is replaced by the delivery worker');
  };
  apex.getBlocked = async () => ({ orderedItems: [] });
  // Thread resolution, bounded (docs/federation.md, "What the node fetches"): the activity's object and inReplyTo, one level, at most
  // four; never its tags (a post naming thousands would make the node fetch thousands of documents).
  apex.resolveReferences = async (object: Record<string, unknown>) => {
    const refs = ['object', 'inReplyTo']
      .flatMap((p) => (Array.isArray(object[p]) ? (object[p] as unknown[]) : object[p] ? [object[p]] : []))
      // Embedded objects were validated and stored with the activity; only references are resolved.
      .filter((r) => typeof r === 'string')
      .slice(0, 4);
    const settled = await Promise.allSettled(refs.map((r) => apex.resolveUnknown(r)));
    return settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  };
  return apex;
}
