import type { ApexObject, ApexStoreLike } from 'activitypub-express';
import { escape, unescape } from 'mongo-escape';
import { ObjectId, type Collection, type Db, type Document } from 'mongodb';
import { collections } from '../db/collections.js';
import { Lru } from '../core/lru.js';
import { BatchInserter } from '../db/batch.insert.js';

/**
 * activitypub-express's store, written for Ensemble (ADR 0008). apex's own store does not work with the
 * mongodb 6+ driver (it reads `findOneAndUpdate(...).value`) and uses `$lookup`, `arrayFilters` and a
 * partial index, which FerretDB 1.24 lacks. This one keeps apex's interface with plain queries:
 *
 * - documents are addressed by `_id` = their IRI (the only lookup FerretDB serves from an index);
 * - stream documents carry `_ts` (an ObjectId taken at insert) for ordering and paging;
 * - local actors are never stored here: they are rendered from the domain by `localActors`, without any
 *   private key (keys live in `federation_keys` and are read only to sign);
 * - delivery is not apex's: `deliveryEnqueue` hands over to Ensemble's delivery queue.
 */

interface StoredDoc extends Document {
  _id: string;
  _ts?: ObjectId;
  /**
   * Top-level copies of what readers look activities up by, each an indexed array (ADR 0013 serves a
   * top-level field's equality from its index, not a dotted path): the collections it is in (apex's
   * `_meta.collection`) and the ids of the objects it carries.
   */
  _collections?: string[];
  _objects?: string[];
}

/** The lookup fields of a stored activity, from apex's form. */
export function lookupFields(doc: Document): { _collections: string[]; _objects: string[] } {
  const meta = doc._meta as { collection?: unknown } | undefined;
  const listed = Array.isArray(meta?.collection) ? meta.collection : [];
  const objects = Array.isArray(doc.object) ? (doc.object as unknown[]) : [doc.object];
  return {
    _collections: listed.filter((c): c is string => typeof c === 'string'),
    _objects: objects
      .map((o) => (typeof o === 'string' ? o : (o as { id?: unknown } | null)?.id))
      .filter((id): id is string => typeof id === 'string'),
  };
}

export interface LocalActorSource {
  /** The apex form of a local actor (Person, Group or the instance actor), or null when there is none. */
  apexActor(iri: string): Promise<ApexObject | null>;
  isLocal(iri: string): boolean;
}

export type DeliveryHandoff = (actorId: string, body: string, addresses: string[]) => Promise<void>;

const clone = <T>(value: T): T => structuredClone(value);
/**
 * The activities the node itself built (its own, with local ids): marked by identity, so no async context
 * is tracked (docs/adr/0049-no-async-context-tracking.md). Anything from the network is a different object.
 */
const ownActivities = new WeakSet<object>();
const ACTOR_TYPES = new Set(['Person', 'Group', 'Service', 'Application', 'Organization']);
const ACTOR_CACHE_MS = 60_000;

/** What apex stores for an object or activity: escaped keys, keyed by IRI. */
function toStored(obj: ApexObject, withTs: boolean): StoredDoc {
  const doc = escape(clone(obj)) as unknown as StoredDoc;
  doc._id = obj.id;
  if (withTs) {
    doc._ts = new ObjectId();
    Object.assign(doc, lookupFields(doc));
  }
  return doc;
}

/** Back to apex's form: private fields dropped unless asked for (never a key: none is stored here). */
function fromStored(doc: StoredDoc | null, includeMeta: boolean | undefined): ApexObject | null {
  if (!doc) return null;
  const { _id, _ts, _collections, _objects, ...rest } = doc;
  void [_id, _ts, _collections, _objects];
  if (includeMeta !== true) delete rest._meta;
  return unescape(rest) as ApexObject;
}

export class ApexStore implements ApexStoreLike {
  db: unknown = null;
  readonly objects: Collection<StoredDoc>;
  readonly streams: Collection<StoredDoc>;
  readonly contexts: Collection<{ _id: string; contextUrl: unknown; document: string }>;

  private readonly actors = new Lru<string, { at: number; doc: StoredDoc }>(5000);
  private readonly objectInserts: BatchInserter<StoredDoc>;
  private readonly streamInserts: BatchInserter<StoredDoc>;

  constructor(
    db: Db,
    private readonly localActors: LocalActorSource,
    private readonly handoff: DeliveryHandoff,
  ) {
    this.objects = db.collection<StoredDoc>(collections.apObjects);
    this.streams = db.collection<StoredDoc>(collections.apStreams);
    this.objectInserts = new BatchInserter(this.objects);
    this.streamInserts = new BatchInserter(this.streams);
    this.contexts = db.collection(collections.apContexts);
  }

  /** Indexes are declared with Ensemble's collections (db/collections.ts). */
  async setup(): Promise<void> {}

  async getObject(id: string, includeMeta?: boolean): Promise<ApexObject | null> {
    if (this.localActors.isLocal(id)) return this.localActors.apexActor(id);
    const hit = this.actors.get(id);
    if (hit && Date.now() - hit.at < ACTOR_CACHE_MS) return fromStored(structuredClone(hit.doc), includeMeta);
    const doc = await this.objects.findOne({ _id: id });
    // Remote actors are read on every activity they send: keep the recent ones in memory a minute.
    if (doc && ACTOR_TYPES.has(String(doc.type))) this.actors.set(id, { at: Date.now(), doc });
    return fromStored(doc, includeMeta);
  }

  async saveObject(object: ApexObject): Promise<boolean> {
    if (this.localActors.isLocal(object.id)) return false;
    this.actors.delete(object.id);
    return this.objectInserts.insert(toStored(object, false));
  }

  async updateObject(obj: ApexObject, _actorId: string | null, fullReplace: boolean): Promise<unknown> {
    // Local objects and actors are the domain's; nothing from the network rewrites them (docs/federation.md, "What the node accepts").
    if (this.localActors.isLocal(obj.id)) return null;
    this.actors.delete(obj.id);
    let updated: ApexObject | null;
    if (fullReplace) {
      const result = await this.objects.replaceOne({ _id: obj.id }, toStored(obj, false));
      updated = result.matchedCount ? obj : null;
    } else {
      await this.objects.updateOne({ _id: obj.id }, setOf(obj));
      updated = fromStored(await this.objects.findOne({ _id: obj.id }), false);
    }
    if (updated) await this.updateObjectCopies(updated);
    return updated;
  }

  async getActivity(id: string, includeMeta?: boolean): Promise<ApexObject | null> {
    return fromStored(await this.streams.findOne({ _id: id }), includeMeta);
  }

  async findActivityByCollectionAndObjectId(
    collection: string,
    objectId: string,
    includeMeta?: boolean,
  ): Promise<ApexObject | null> {
    return fromStored(
      await this.streams.findOne({ _collections: collection, object: objectId }),
      includeMeta,
    );
  }

  async findActivityByCollectionAndActorId(
    collection: string,
    actorId: string,
    includeMeta?: boolean,
  ): Promise<ApexObject | null> {
    return fromStored(await this.streams.findOne({ _collections: collection, actor: actorId }), includeMeta);
  }

  /** A page of a collection, newest first, each item's actor joined (apex's `$lookup`, as a second query). */
  async getStream(
    collectionId: string,
    limit: number | null,
    after: string | null,
    blockList?: string[],
  ): Promise<ApexObject[]> {
    const filter: Document = { _collections: collectionId };
    if (after) {
      if (!ObjectId.isValid(after)) throw new Error('ApexStore: invalid page value');
      filter._ts = { $lt: new ObjectId(after) };
    }
    if (blockList?.length) filter.actor = { $nin: blockList };
    let cursor = this.streams.find(filter).sort({ _ts: -1 });
    if (limit) cursor = cursor.limit(limit);
    const docs = await cursor.toArray();
    const actorIds = [...new Set(docs.flatMap((d) => (Array.isArray(d.actor) ? d.actor : [])))].filter(
      (a): a is string => typeof a === 'string',
    );
    const actors = new Map<string, ApexObject>();
    for (const id of actorIds) {
      const actor = await this.getObject(id, false);
      if (actor) actors.set(id, actor);
    }
    const page: ApexObject[] = [];
    for (const doc of docs) {
      const item = fromStored(doc, false)!;
      const actorId = (item.actor as unknown[] | undefined)?.[0];
      const actor = typeof actorId === 'string' ? actors.get(actorId) : undefined;
      // An item whose actor is unknown is left out, as apex's own store does.
      if (!actor) continue;
      page.push({ ...item, actor: [actor], _id: doc._ts?.toHexString() } as ApexObject);
    }
    return page;
  }

  getStreamCount(collectionId: string): Promise<number> {
    return this.streams.countDocuments({ _collections: collectionId });
  }

  async getContext(documentUrl: string): Promise<unknown> {
    const doc = await this.contexts.findOne({ _id: documentUrl });
    return doc ? { contextUrl: doc.contextUrl, documentUrl, document: JSON.parse(doc.document) } : null;
  }

  async saveContext(context: {
    contextUrl: unknown;
    documentUrl: string;
    document: unknown;
  }): Promise<unknown> {
    const document =
      typeof context.document === 'string' ? context.document : JSON.stringify(context.document);
    return this.contexts.replaceOne(
      { _id: context.documentUrl },
      { contextUrl: context.contextUrl ?? null, document },
      { upsert: true },
    );
  }

  /** NodeInfo counts come from the domain; apex asks only through its own NodeInfo route, not mounted. */
  async getUserCount(): Promise<number> {
    return 0;
  }

  /**
   * Mark an activity the node itself built: only such an object may be written with a local id
   * (docs/federation.md, "What the node fetches"; docs/adr/0049-no-async-context-tracking.md). Returns it.
   */
  own<T extends ApexObject>(activity: T): T {
    ownActivities.add(activity);
    return activity;
  }

  private refuseLocal(activity: ApexObject): void {
    if (this.localActors.isLocal(activity.id) && !ownActivities.has(activity))
      throw new Error(`refused: ${activity.id} is local and this write does not come from the node`);
  }

  async saveActivity(activity: ApexObject): Promise<boolean | undefined> {
    this.refuseLocal(activity);
    return (await this.streamInserts.insert(toStored(activity, true))) || undefined;
  }

  removeActivity(activity: ApexObject, actorId: string): Promise<unknown> {
    return this.streams.deleteMany({ _id: activity.id, actor: actorId });
  }

  async updateActivity(activity: ApexObject, fullReplace: boolean): Promise<unknown> {
    this.refuseLocal(activity);
    const current = await this.streams.findOne({ _id: activity.id });
    if (!current) return activity;
    let next: StoredDoc;
    if (fullReplace) {
      next = { ...toStored(activity, false), _ts: current._ts ?? new ObjectId() };
      if (current._meta && !next._meta) next._meta = current._meta;
    } else {
      next = { ...current, ...(escape(clone(activity)) as object) } as StoredDoc;
      next._id = current._id;
    }
    Object.assign(next, lookupFields(next));
    await this.streams.replaceOne({ _id: activity.id }, next);
    const updated = fromStored(next, true)!;
    await this.updateObjectCopies(updated);
    return fromStored(next, false);
  }

  async updateActivityMeta(
    activity: ApexObject,
    key: string,
    value: unknown,
    remove?: boolean,
  ): Promise<ApexObject> {
    const path = `_meta.${key}`;
    // The collections an activity is in are also kept at the top, where their index serves them.
    const paths = key === 'collection' ? [path, '_collections'] : [path];
    const each = Object.fromEntries(paths.map((p) => [p, value]));
    const op = remove ? { $pull: each } : { $addToSet: each };
    const result = await this.streams.updateOne({ _id: activity.id }, op as Document);
    if (!result.matchedCount) throw new Error('Error updating activity meta: not found');
    return fromStored(await this.streams.findOne({ _id: activity.id }), true)!;
  }

  generateId(): string {
    return new ObjectId().toHexString();
  }

  async deliveryEnqueue(actorId: string, body: string, addresses: string[] | string): Promise<boolean> {
    const list = Array.isArray(addresses) ? addresses : [addresses];
    if (list.length) await this.handoff(actorId, body, list);
    return true;
  }

  /** apex's delivery loop is replaced (delivery.worker.ts); it never asks. */
  async deliveryDequeue(): Promise<null> {
    return null;
  }

  async deliveryRequeue(): Promise<boolean> {
    return true;
  }

  /** Activities embedding an updated object get the new copy (apex used `arrayFilters`; this rewrites). */
  private async updateObjectCopies(object: ApexObject): Promise<void> {
    const copies = await this.streams.find({ _objects: object.id }).toArray();
    const escaped = escape(clone(object)) as unknown as Record<string, unknown>;
    for (const copy of copies) {
      const items = Array.isArray(copy.object) ? (copy.object as { id?: string }[]) : [];
      const next = items.map((item) => (item?.id === object.id ? escaped : item));
      await this.streams.updateOne({ _id: copy._id }, { $set: { object: next } });
    }
  }
}

function setOf(obj: ApexObject): Document {
  const set: Record<string, unknown> = {};
  const unset: Record<string, ''> = {};
  for (const [key, value] of Object.entries(escape(clone(obj)) as Record<string, unknown>)) {
    if (key === 'id' || key === '_id') continue;
    if (value === null) unset[key] = '';
    else set[key] = value;
  }
  return {
    ...(Object.keys(set).length ? { $set: set } : {}),
    ...(Object.keys(unset).length ? { $unset: unset } : {}),
  };
}
