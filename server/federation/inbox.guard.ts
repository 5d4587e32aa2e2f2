import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import {
  ForbiddenError,
  MalformedBodyError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ActorDirectory } from './actor.directory.js';
import { idOf, originOf } from './as.values.js';
import type { FederationPolicy } from './federation.policy.js';
import { acceptSignature } from './message-signature.js';
import type { ReplayFilter } from './replay.filter.js';
import { signatureScheme, type SignatureVerifier } from './signature.verifier.js';

/** What the guard established about a request, for the handlers after it. */
export interface VerifiedInbox {
  activity: Record<string, unknown>;
  activityId: string;
  actorId: string;
}

/** Replays are per inbox: one activity may rightly reach several personal inboxes of this node. */
export const replayKey = (activityId: string, inbox: string | undefined) => `${activityId} ${inbox ?? '*'}`;

export interface InboxGuardOptions {
  maxBytes: number;
  ratePerMinute: number;
  /** Development only: an unsigned post is believed (FEDERATION_UNSIGNED_INBOX). */
  unsignedAllowed: boolean;
}

const idString = z.url({ protocol: /^https?$/, message: 'expected an http(s) IRI' });
const reference = z.union([idString, z.object({ id: idString }).passthrough()]);
const activitySchema = z
  .object({
    id: idString,
    type: z.string().regex(/^[A-Za-z]{1,64}$/, 'expected one ActivityStreams type'),
    actor: z.union([reference, z.array(reference).length(1)]),
    object: z.unknown().optional(),
  })
  .passthrough();

const ACTIVITY_TYPES = ['application/activity+json', 'application/ld+json', 'application/json'];

/**
 * The checks every inbox POST passes before activitypub-express sees it (docs/federation.md, "What the node accepts"): a body
 * size limit and a per-host rate limit; a signature always (unless the development switch), RFC 9421 or
 * draft-cavage (SignatureVerifier): the key belonging to the actor, the digest against the body, its time in
 * a window;
 * the federation policy; the activity and its objects from the actor's origin; no remote Create, Update
 * or Delete of local objects or actors; and replays answered without being processed again.
 */
export function inboxGuard(deps: {
  options: InboxGuardOptions;
  directory: ActorDirectory;
  policy: FederationPolicy;
  signatures: SignatureVerifier;
  replays: ReplayFilter;
  logger: Logger;
}): RequestHandler[] {
  const { options, directory, policy, signatures, replays } = deps;

  const contentType: RequestHandler = (req, _res, next) => {
    if (!req.is(ACTIVITY_TYPES))
      return next(new UnsupportedMediaTypeError('An inbox takes application/activity+json.'));
    next();
  };

  const raw = express.raw({ type: () => true, limit: options.maxBytes });
  const body: RequestHandler = (req, res, next) =>
    raw(req, res, (err?: unknown) => {
      if (err && (err as { type?: string }).type === 'entity.too.large')
        return next(new PayloadTooLargeError(`An inbox takes at most ${options.maxBytes} bytes.`));
      if (err) return next(new MalformedBodyError('The body could not be read.'));
      next();
    });

  // One address may carry several servers (a proxy, a shared host): it gets four hosts' budget.
  const limiter = (keyOf: (req: Request, res: Response) => string, hosts = 1) =>
    rateLimit({
      windowMs: 60_000,
      limit: options.ratePerMinute * hosts,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: (req, res) => keyOf(req, res),
      handler: (_req, _res, next) => next(new RateLimitedError('Too many inbox requests from this server.')),
    });
  // Before anything is verified, per address: a claimed keyId proves nothing yet.
  const byAddress = limiter((req) => `ip:${ipKeyGenerator(req.ip ?? '')}`, 4);
  // Once the signature verifies, per remote host: junk naming someone else's key cannot spend its budget.
  const byHost = limiter((_req, res) => `host:${new URL((res.locals.inbox as VerifiedInbox).actorId).host}`);

  const verify = async (req: Request, res: Response, next: NextFunction) => {
    const text = (req.body as Buffer).toString('utf8');
    // A NUL can end up in a key the database refuses; no activity needs one.
    if (text.includes('\u0000') || text.includes('\\u0000'))
      throw new ValidationError('The body contains NUL characters.', [{ field: 'body', message: 'NUL' }]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new MalformedBodyError('The body is not JSON.');
    }
    const result = activitySchema.safeParse(parsed);
    if (!result.success)
      throw new ValidationError(
        'The body is not an activity.',
        result.error.issues.map((i) => ({ field: `body.${i.path.join('.')}`, message: i.message })),
      );
    const activity = result.data as Record<string, unknown>;
    const activityId = result.data.id;
    const actorId = idOf(result.data.actor);
    if (!actorId)
      throw new ValidationError('The activity has no actor.', [
        { field: 'body.actor', message: 'expected one actor' },
      ]);
    if (!policy.allows(actorId))
      throw new ForbiddenError(`${new URL(actorId).host} does not federate with this node.`);
    if (originOf(activityId) !== originOf(actorId))
      throw new ForbiddenError('The activity id is not on the actor’s origin.');
    if (directory.isLocal(actorId)) throw new ForbiddenError('A remote server cannot act as a local actor.');

    if (!signatureScheme(req)) {
      if (!options.unsignedAllowed)
        throw new UnauthenticatedError('Inbox posts must carry an HTTP signature.');
    } else await signatures.verify(req, { actorId, body: req.body as Buffer });

    if (replays.seen(replayKey(activityId, req.params.actor))) {
      // Already processed: a replay or a retry changes nothing.
      res.status(202).end();
      return;
    }
    res.locals.inbox = { activity, activityId, actorId } satisfies VerifiedInbox;
    next();
  };

  return [
    contentType,
    byAddress,
    body,
    (req, res, next) => {
      verify(req, res, next).catch((err: unknown) => {
        // A sender that can sign otherwise (RFC 9421, Fedify's and Mastodon's fallback) learns how.
        if (err instanceof UnauthenticatedError) res.set('Accept-Signature', acceptSignature(true));
        next(err);
      });
    },
    byHost,
  ];
}
