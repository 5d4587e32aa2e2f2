import { doubleCsrf } from 'csrf-csrf';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../config.js';
import { ForbiddenError } from '../core/errors.js';
import { SESSION_COOKIE } from './session.js';

/**
 * CSRF protection for cookie sessions (double-submit token bound to the session, csrf-csrf). A request
 * that carries no session cookie has no ambient authority and needs no token. Clients read a token from
 * GET /api/v1/auth/csrf and send it as X-CSRF-Token (forms: a `_csrf` field).
 */
export class CsrfError extends ForbiddenError {
  override readonly slug = 'csrf-failed';
  override readonly title = 'Missing or invalid CSRF token';
}

export function createCsrf(config: Config) {
  const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
    getSecret: () => config.auth.sessionSecret,
    getSessionIdentifier: (req: Request) => req.session?.id ?? '',
    cookieName: config.auth.secureCookies ? '__Host-ensemble.csrf' : 'ensemble.csrf',
    cookieOptions: { sameSite: 'lax', secure: config.auth.secureCookies, httpOnly: true, path: '/' },
    getCsrfTokenFromRequest: (req: Request) =>
      (req.headers['x-csrf-token'] as string | undefined) ??
      (req.body as { _csrf?: string } | undefined)?._csrf,
  });

  const protect: RequestHandler = (req, res, next) => {
    if (!req.cookies?.[SESSION_COOKIE]) {
      next();
      return;
    }
    doubleCsrfProtection(req, res, (err?: unknown) => {
      if (err)
        next(new CsrfError('Send the X-CSRF-Token header from GET /api/v1/auth/csrf with this request.'));
      else next();
    });
  };
  return {
    protect,
    token: (req: Request, res: Parameters<typeof generateCsrfToken>[1]) => generateCsrfToken(req, res),
  };
}
