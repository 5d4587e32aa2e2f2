import type { ApexInstance, ApexObject } from 'activitypub-express';
import type { Request, RequestHandler } from 'express';
import { DomainError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ActorDirectory } from './actor.directory.js';
import { idOf } from './as.values.js';
import { replayKey, type VerifiedInbox } from './inbox.guard.js';
import type { ReplayFilter } from './replay.filter.js';
import { sanitizeActivity } from './inbox.sanitize.js';

export interface InboxEvent {
  actor: ApexObject;
  activity: ApexObject;
  recipient: ApexObject;
  object: ApexObject | undefined;
}

interface ApexLocals {
  eventName: string | null;
  eventMessage: InboxEvent;
  postWork: unknown[];
  sender?: { id: string };
  status?: number;
  statusMessage?: string;
}

const ADDRESS_FIELDS = ['to', 'cc', 'bto', 'bcc', 'audience'];
/** Local actors one shared-inbox activity is processed for, at most. */
const MAX_RECIPIENTS = 50;

/** Local actors an activity is for: addressed, or the object (a Follow's), or the object's object (an Undo's). */
function addressedIris(activity: Record<string, unknown>): string[] {
  const iris: string[] = [];
  const add = (value: unknown) => {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string') iris.push(v);
      else if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string')
        iris.push((v as { id: string }).id);
    }
  };
  for (const field of ADDRESS_FIELDS) add(activity[field]);
  add(activity.object);
  const object = activity.object as Record<string, unknown> | undefined;
  if (object && typeof object === 'object') {
    add(object.object);
    for (const field of ADDRESS_FIELDS) add(object[field]);
  }
  return iris;
}

/** Run apex middleware as a pipeline, outside Express's own chain. */
async function runChain(handlers: RequestHandler[], req: Request, locals: ApexLocals): Promise<void> {
  const res = { locals: { apex: locals } } as never;
  for (const handler of handlers) {
    let stop = false;
    await new Promise<void>((resolve, reject) => {
      const next = (err?: unknown) => {
        if (err === 'route') stop = true;
        else if (err) return reject(err as Error);
        resolve();
      };
      try {
        const result = handler(req, res, next) as unknown;
        if (result instanceof Promise) result.catch(reject);
      } catch (err) {
        reject(err as Error);
      }
    });
    if (stop) return;
  }
}

/**
 * After the guard: activitypub-express's inbox chain for each local recipient (the actor of a personal inbox,
 * or every local actor a shared-inbox activity is for), on the JSON-LD form of the verified activity.
 * apex's own signature step is replaced by the guard's verified sender; its post-response work (collection
 * Updates to every follower, FEDERATION.md 7) is not run. Once processed, the activity id is recorded so a
 * replay is answered without being processed again.
 */
export function inboxHandler(deps: {
  apex: ApexInstance;
  directory: ActorDirectory;
  replays: ReplayFilter;
  logger: Logger;
  onActivity: (event: InboxEvent) => Promise<void>;
  /** A remote actor deleted itself (verified): forget what identified it. */
  onActorDeleted: (actorId: string) => Promise<void>;
}): RequestHandler {
  const { apex, directory, replays, logger } = deps;
  const v = apex.net.validators;
  const a = apex.net.activity;
  const chain = [
    v.targetActorWithMeta!,
    v.actor!,
    v.activityObject!,
    v.inboxActivity!,
    a.save!,
    a.resolveThread!,
    a.inboxSideEffects!,
  ];

  /**
   * An Accept or Reject of one of this node's activities must answer a Follow this node sent to the sender
   * (apex checks Accept this way, not Reject); anything else about a local activity is refused.
   */
  const checkAnswers = async (compacted: ApexObject, actorId: string) => {
    if (compacted.type !== 'Accept' && compacted.type !== 'Reject') return;
    const objectId = (compacted.object as unknown[] | undefined)?.[0];
    if (typeof objectId !== 'string' || !directory.isLocal(objectId)) return;
    const local = await apex.store.getActivity(objectId, false);
    const target = (local?.object as unknown[] | undefined)?.[0];
    if (!local || local.type !== 'Follow' || target !== actorId)
      throw new ForbiddenError(
        `Only the actor a Follow was sent to may ${String(compacted.type).toLowerCase()} it.`,
      );
  };

  return (req, res, next) => {
    void (async () => {
      const { activity, activityId, actorId } = res.locals.inbox as VerifiedInbox;
      if (req.params.actor && !(await directory.apexActor(directory.iri(req.params.actor))))
        throw new NotFoundError('No such actor on this node.');
      let compacted: ApexObject | undefined;
      try {
        compacted = await apex.fromJSONLD(structuredClone(activity));
      } catch (err) {
        throw new ValidationError(`The activity is not usable JSON-LD: ${(err as Error).message}`);
      }
      if (!compacted) throw new ValidationError('The activity is not usable JSON-LD.');
      compacted = sanitizeActivity(compacted, { activityId, actorId, type: String(activity.type) }, (iri) =>
        directory.isLocal(iri),
      );
      await checkAnswers(compacted, actorId);
      let names: string[];
      if (req.params.actor) names = [req.params.actor];
      else {
        const candidates = [...new Set(addressedIris(compacted).map((iri) => directory.nameOf(iri)))];
        names = [];
        for (const name of candidates.slice(0, MAX_RECIPIENTS))
          if (name && (await directory.apexActor(directory.iri(name)))) names.push(name);
      }
      const events: InboxEvent[] = [];
      for (const name of names) {
        const locals: ApexLocals = {
          eventName: null,
          eventMessage: {} as InboxEvent,
          postWork: [],
          sender: { id: actorId },
        };
        const scoped = Object.create(req, {
          params: { value: { ...req.params, actor: name } },
          body: { value: structuredClone(compacted), writable: true },
        }) as Request;
        try {
          await runChain(chain, scoped, locals);
        } catch (err) {
          if (err instanceof DomainError) throw err;
          // apex could not resolve or use something the activity names (a 404 object, a malformed value).
          logger.debug({ err, activity: activityId }, 'inbox activity refused by apex');
          throw new ValidationError(`The activity could not be processed: ${(err as Error).message}`);
        }
        if ((locals.status ?? 0) >= 400) {
          const detail = locals.statusMessage ?? 'The activity was refused.';
          throw locals.status === 403 ? new ForbiddenError(detail) : new ValidationError(detail);
        }
        if (locals.eventName === 'apex-inbox') events.push(locals.eventMessage);
      }
      if (activity.type === 'Delete' && idOf(compacted.object) === actorId)
        await deps.onActorDeleted(actorId);
      // Follow-ups (accepting a follow) are done before answering, so the next activity from the same
      // server sees their effect.
      for (const event of events)
        await deps
          .onActivity(event)
          .catch((err: unknown) => logger.error({ err, activity: activityId }, 'inbox follow-up failed'));
      replays.remember(replayKey(activityId, req.params.actor));
      res.status(202).end();
    })().catch(next);
  };
}
