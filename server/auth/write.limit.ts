import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { RateLimitedError } from '../core/errors.js';
import { callerOf } from './session.user.js';
import { msg } from '../core/messages.js';

/** Reads change nothing: only the other methods are counted. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Changes through the API per person per minute (docs/configuration.md, API_WRITE_RATE_LIMIT): one account,
 * or a stolen session, cannot post a thousand replies, each notifying a group and delivered to other nodes.
 * Counted per signed-in person, whatever address they post from; a request without a session by address.
 * Mounted after the CSRF check: a forged request from another site is refused before it is counted, so no
 * site can use up a person's allowance. Counted in memory, per process, like the sign-in limit.
 */
export function writeLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) => READS.has(req.method),
    keyGenerator: (req: Request) => {
      const caller = callerOf(req);
      return caller.kind === 'person'
        ? `person:${caller.personId}`
        : `address:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, _res, next) =>
      next(
        new RateLimitedError(msg`More than ${perMinute} changes in a minute; wait a moment and try again.`),
      ),
  });
}
