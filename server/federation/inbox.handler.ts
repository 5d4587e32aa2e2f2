import type { ApexInstance, ApexObject } from 'activitypub-express';
import type { RequestHandler } from 'express';
import {
  DomainError,
  ForbiddenError,
  NotFoundError,
  PeerUnavailableError,
  ValidationError,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ActorDirectory } from './actor.directory.js';
import type { ApexStore } from './apex.store.js';
import { idOf, originOf } from './as.values.js';
import { replayKey, type VerifiedInbox } from './inbox.guard.js';
import { RUNS_BESIDE_RECORD, type InboxHandler, type InboxHandlerDeps } from './inbox.contract.js';
import { OutboundRefusedError } from './outbound.js';
import type { ReplayFilter } from './replay.filter.js';
import { RemoteFetchError } from './remote.fetcher.js';
import { sanitizeActivity, stripUntrusted } from './inbox.sanitize.js';

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

const ADDRESS_FIELDS = ['to', 'cc', 'bto', 'bcc', 'audience'];
/** Local actors a shared-inbox activity is recorded for, at most. */
const MAX_RECIPIENTS = 50;

/** The actors an activity is for: addressed, or its object (a Follow's), or the object's object (an Undo's). */
function addressedIris(activity: Record<string, unknown>): string[] {
  const iris: string[] = [];
  const add = (value: unknown) => {
    for (const v of Array.isArray(value) ? value : [value]) {
      const iri = idOf(v);
      if (iri) iris.push(iri);
    }
  };
  for (const field of ADDRESS_FIELDS) add(activity[field]);
  add(activity.object);
  const object = first(activity.object);
  if (object && typeof object === 'object') {
    add((object as Record<string, unknown>).object);
    for (const field of ADDRESS_FIELDS) add((object as Record<string, unknown>)[field]);
  }
  return iris;
}

/**
 * After the guard: the activity is put in the JSON-LD form and checked again there (inbox.sanitize.ts),
 * recorded once by id (apex's streams: a replay anywhere changes nothing), then given to its handler in
 * the table (inbox.handlers.ts), which turns it into service calls. A handler that refuses (a 4xx) or
 * fails leaves nothing recorded, so the sender's retry is processed again. The node answers `202` once
 * the handler is done, so the next activity from the same server sees its effect.
 */
export function inboxHandler(deps: {
  apex: ApexInstance;
  store: ApexStore;
  /** One of this node's activities, as kept or as queued (InboxHandlerDeps.ownActivity). */
  ownActivity: InboxHandlerDeps['ownActivity'];
  directory: ActorDirectory;
  replays: ReplayFilter;
  logger: Logger;
  handlers: Record<string, InboxHandler>;
  /**
   * Whether a local actor's own inbox is hidden from this sender (a members-only group's, from a server
   * holding none of its members): answered as for an actor that does not exist.
   */
  hiddenFrom: (name: string, actorId: string) => Promise<boolean>;
  /** A remote actor deleted itself (verified): forget what identified it. */
  onActorDeleted: (actorId: string) => Promise<void>;
}): RequestHandler {
  const { apex, store, directory, replays, logger } = deps;

  /**
   * An Accept or Reject of one of this node's activities must answer a Follow this node sent to the sender,
   * or an Invite that named the sender; anything else about a local activity is refused.
   */
  const checkAnswers = async (compacted: ApexObject, actorId: string) => {
    if (compacted.type !== 'Accept' && compacted.type !== 'Reject') return;
    const objectId = idOf(first(compacted.object));
    if (typeof objectId !== 'string' || !directory.isLocal(objectId)) return;
    const local = await deps.ownActivity(objectId);
    const answered =
      local?.type === 'Follow'
        ? idOf(first(local.object))
        : local?.type === 'Invite'
          ? idOf(first(local.target))
          : null;
    if (!local || answered !== actorId)
      throw new ForbiddenError(
        `Only the actor a Follow was sent to may ${String(compacted.type).toLowerCase()} it.`,
      );
  };

  /** The inboxes an activity is recorded in (apex's `_meta.collection`). */
  const inboxesOf = async (personal: string | undefined, activity: Record<string, unknown>) => {
    if (personal) return [`${directory.iri(personal)}/inbox`];
    const names = new Set<string>();
    for (const iri of addressedIris(activity)) {
      const name = directory.nameOf(iri);
      if (name && iri === directory.iri(name)) names.add(name);
      if (names.size >= MAX_RECIPIENTS) break;
    }
    const inboxes: string[] = [];
    for (const name of names)
      if (await directory.apexActor(directory.iri(name))) inboxes.push(`${directory.iri(name)}/inbox`);
    return inboxes.length ? inboxes : [directory.sharedInbox];
  };

  /** What a handler's failure tells the sender: its own mistakes are 4xx; a bug stays a 500. */
  const answerOf = (err: unknown): unknown => {
    if (err instanceof NotFoundError)
      return new ValidationError(`The activity refers to nothing here: ${err.message}`);
    if (err instanceof DomainError) return err;
    // A server that did not answer, or had trouble, may next time: the sender is told to try again.
    if ((err instanceof RemoteFetchError || err instanceof OutboundRefusedError) && err.transient)
      return new PeerUnavailableError(`The activity could not be processed now: ${err.message}.`);
    if (err instanceof RemoteFetchError || err instanceof OutboundRefusedError)
      return new ValidationError(`The activity could not be processed: ${err.message}`);
    return err;
  };

  return (req, res, next) => {
    void (async () => {
      const { activity, activityId, actorId } = res.locals.inbox as VerifiedInbox;
      if (
        req.params.actor &&
        (!(await directory.apexActor(directory.iri(req.params.actor))) ||
          (await deps.hiddenFrom(req.params.actor, actorId)))
      )
        throw new NotFoundError('No such actor on this node.');
      let compacted: ApexObject | undefined;
      try {
        compacted = await apex.fromJSONLD(structuredClone(activity));
      } catch (err) {
        throw new ValidationError(`The activity is not usable JSON-LD: ${(err as Error).message}`);
      }
      if (!compacted) throw new ValidationError('The activity is not usable JSON-LD.');
      const type = String(activity.type);
      compacted = sanitizeActivity(compacted, { activityId, actorId, type }, (iri) => directory.isLocal(iri));
      await checkAnswers(compacted, actorId);
      // The handlers read the activity as sent, cut to what its actor's origin may vouch for.
      const trusted = structuredClone(activity);
      stripUntrusted(trusted, originOf(actorId), (iri) => directory.isLocal(iri));
      trusted.actor = actorId;
      // Kept in the inbox it came to, or in the inbox of each local actor a shared-inbox post addresses.
      compacted._meta = { collection: await inboxesOf(req.params.actor, trusted) };
      // A handler idempotent by its own claims runs beside the record and consults it before it writes; the
      // others run once it is made (ADR 0039). Either way the node answers once the record is made.
      const recorded = store.saveActivity(compacted).then(Boolean);
      const handler = deps.handlers[type];
      const beside = handler !== undefined && RUNS_BESIDE_RECORD.has(type);
      if (beside || (await recorded)) {
        try {
          await handler?.({ raw: activity, activity: trusted, id: activityId, type, actorId, recorded });
          await recorded;
        } catch (err) {
          if (await recorded.catch(() => false))
            await store.removeActivity(compacted, actorId).catch(() => undefined);
          const answer = answerOf(err);
          if (answer instanceof DomainError)
            logger.info({ activity: activityId, type, reason: answer.message }, 'inbox activity refused');
          throw answer;
        }
      }
      if (type === 'Delete' && idOf(compacted.object) === actorId) await deps.onActorDeleted(actorId);
      replays.remember(replayKey(activityId, req.params.actor));
      res.status(202).end();
    })().catch(next);
  };
}
