/** The parts of activitypub-express 4.4.2 Ensemble uses (the package ships no types). */
declare module 'activitypub-express' {
  import type { RequestHandler } from 'express';

  /** apex's working form: JSON-LD compacted without unboxing arrays, plus `_meta` / `_local`. */
  export type ApexObject = Record<string, unknown> & {
    id: string;
    type: string;
    _meta?: Record<string, unknown[]>;
    _local?: Record<string, unknown>;
  };

  export interface ApexStoreLike {
    db: unknown;
    setup(initialUser?: ApexObject): Promise<unknown>;
    getObject(id: string, includeMeta?: boolean): Promise<ApexObject | null | undefined>;
    saveObject(object: ApexObject): Promise<boolean>;
    updateObject(object: ApexObject, actorId: string | null, fullReplace: boolean): Promise<unknown>;
    getActivity(id: string, includeMeta?: boolean): Promise<ApexObject | null | undefined>;
    findActivityByCollectionAndObjectId(
      collection: string,
      objectId: string,
      includeMeta?: boolean,
    ): Promise<ApexObject | null | undefined>;
    findActivityByCollectionAndActorId(
      collection: string,
      actorId: string,
      includeMeta?: boolean,
    ): Promise<ApexObject | null | undefined>;
    getStream(
      collectionId: string,
      limit: number | null,
      after: string | null,
      blockList?: string[],
      query?: unknown,
    ): Promise<ApexObject[]>;
    getStreamCount(collectionId: string): Promise<number>;
    getContext(documentUrl: string): Promise<unknown>;
    saveContext(context: { contextUrl: unknown; documentUrl: string; document: unknown }): Promise<unknown>;
    getUserCount(): Promise<number>;
    saveActivity(activity: ApexObject): Promise<boolean | undefined>;
    removeActivity(activity: ApexObject, actorId: string): Promise<unknown>;
    updateActivity(activity: ApexObject, fullReplace: boolean): Promise<unknown>;
    updateActivityMeta(
      activity: ApexObject,
      key: string,
      value: unknown,
      remove?: boolean,
    ): Promise<ApexObject>;
    generateId(): string;
    deliveryEnqueue(
      actorId: string,
      body: string,
      addresses: string[] | string,
      signingKey: unknown,
    ): Promise<unknown>;
    deliveryDequeue(): Promise<unknown>;
    deliveryRequeue(delivery: unknown): Promise<unknown>;
  }

  export interface ApexInstance extends RequestHandler {
    settings: Record<string, unknown>;
    baseUrl: string;
    domain: string;
    store: ApexStoreLike;
    threadDepth: number;
    logger: unknown;
    consts: { publicAddress: string; jsonldTypes: string[]; jsonldOutgoingType: string };
    net: Record<string, Record<string, RequestHandler | RequestHandler[]>> & {
      validators: Record<string, RequestHandler>;
      activity: Record<string, RequestHandler>;
      security: Record<string, RequestHandler>;
    };
    utils: Record<string, (...args: string[]) => string>;
    fromJSONLD(obj: unknown): Promise<ApexObject>;
    toJSONLD(obj: unknown): Promise<Record<string, unknown>>;
    stringifyPublicJSONLD(obj: unknown): string;
    buildActivity(
      type: string,
      actorId: string,
      to: unknown,
      etc?: Record<string, unknown>,
    ): Promise<ApexObject>;
    addToOutbox(actor: ApexObject, activity: ApexObject): Promise<unknown>;
    acceptFollow(actor: ApexObject, follow: ApexObject): Promise<{ updated: ApexObject; postTask: unknown }>;
    // Overridable hooks (replaced by Ensemble; see apex.setup.ts).
    requestObject: (id: string) => Promise<ApexObject | null>;
    jsonldContextLoader: (url: string) => Promise<unknown>;
    queueForDelivery: (actor: ApexObject, activity: unknown, addresses: string[]) => Promise<unknown>;
    startDelivery: () => unknown;
    runDelivery: () => unknown;
    deliver: (...args: unknown[]) => unknown;
    resolveReferences: (object: Record<string, unknown>) => Promise<unknown[]>;
    resolveUnknown: (objectOrIri: unknown) => Promise<ApexObject | null>;
    getBlocked: (
      actor: ApexObject,
      page: unknown,
      includePrivate: boolean,
    ) => Promise<{ orderedItems: string[] }>;
    [key: string]: unknown;
  }

  export default function ActivitypubExpress(settings: Record<string, unknown>): ApexInstance;
}

declare module 'mongo-escape' {
  export function escape<T>(obj: T): T;
  export function unescape<T>(obj: T): T;
}
