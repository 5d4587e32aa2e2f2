import { escapeHtml } from '../core/html.js';
import express, { Router, type Request, type Response, type NextFunction } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Passport } from 'passport';
type PassportStatic = InstanceType<typeof Passport>;
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { DomainError, NotFoundError, RateLimitedError, UnauthenticatedError } from '../core/errors.js';
import { readerLanguage, sendProblem } from '../core/problem.js';
import { AccountDeactivatedError } from '../people/account.service.js';
import type { OidcRegistry, SignedInUser } from './oidc.js';
import { msg, type Language } from '../core/messages.js';

declare module 'express-session' {
  interface SessionData {
    /** Enough to end the provider's session at sign-out (RP-initiated logout). */
    oidcLogout?: { issuerId: string; idToken: string };
  }
}

class IdentityProviderError extends DomainError {
  readonly status: number = 502;
  readonly slug: string = 'identity-provider-error';
  readonly title: string = 'The identity provider could not sign you in';
}

class SignInRefusedError extends UnauthenticatedError {
  override readonly slug = 'sign-in-refused';
  override readonly title = 'Sign-in refused';
}

function page(title: string, body: string, language: Language = 'en'): string {
  return `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Ensemble</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/styles.css"></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/** Browser flows answer with a page; API clients (Accept: json) get problem+json. */
function fail(req: Request, res: Response, error: DomainError): void {
  // In the reader's language, as every refusal (docs/api/problems.md, "Language").
  const language = readerLanguage(req);
  const problem = error.toProblem(req.originalUrl, language);
  res.setHeader('Content-Language', language);
  if (req.accepts(['html', 'json']) === 'json') {
    sendProblem(res, problem);
    return;
  }
  const again = language === 'fr' ? 'Réessayer' : 'Try again';
  res
    .status(error.status)
    .type('html')
    .send(
      page(
        error.title,
        `<p>${escapeHtml(problem.detail ?? '')}</p><p><a href="/auth/login">${again}</a></p>`,
        language,
      ),
    );
}

export interface AuthRoutesDeps {
  passport: PassportStatic;
  registry: OidcRegistry;
  api: Api;
  csrfToken: (req: Request, res: Response) => string;
  csrfProtect: express.RequestHandler;
  rateLimitPer15Min: number;
  devIdpHint: boolean;
  /** Told when a session signs out (the realtime server disconnects that session's sockets). */
  onSignOut?: (sessionId: string) => void;
}

export function authRoutes(deps: AuthRoutesDeps): { browser: Router; api: Router } {
  const { passport, registry } = deps;
  const browser = Router();
  const limiter = rateLimit({
    windowMs: 15 * 60 * 1000,
    limit: deps.rateLimitPer15Min,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) =>
      fail(req, res, new RateLimitedError('Too many sign-in attempts; wait a few minutes.')),
  });

  browser.get('/auth/login', limiter, (req, res) => {
    const issuers = [...registry.issuers.values()];
    if (issuers.length === 1) {
      res.redirect(303, `/auth/login/${issuers[0]!.config.id}`);
      return;
    }
    const items = issuers
      .map(
        (i) =>
          `<li><a href="/auth/login/${i.config.id}">${escapeHtml(i.config.name.en)}</a> · <span lang="fr">${escapeHtml(i.config.name.fr)}</span></li>`,
      )
      .join('');
    const hint = deps.devIdpHint
      ? '<p>Development: sign in with the development identity provider as a demo person such as <b>alice</b> (Digital Services Agency) or <b>bruno</b> (Department of Natural Resources). No password is needed.</p>'
      : '';
    res
      .type('html')
      .send(page('Sign in · Connexion', `<p>Choose your department's sign-in.</p><ul>${items}</ul>${hint}`));
  });

  /** The issuer named in the path, ready to use; otherwise the failure is answered and undefined returned. */
  const readyIssuer = async (req: Request, res: Response) => {
    const runtime = await registry.ready(req.params.issuer!);
    if (!runtime) return fail(req, res, new NotFoundError(msg`No identity provider ${req.params.issuer}.`));
    if (!runtime.metadata) {
      const name = runtime.config.name.en;
      return fail(
        req,
        res,
        new IdentityProviderError(msg`The identity provider "${name}" is unreachable: ${runtime.lastError}`),
      );
    }
    return runtime;
  };

  browser.get('/auth/login/:issuer', limiter, async (req, res, next) => {
    const runtime = await readyIssuer(req, res);
    if (!runtime) return;
    passport.authenticate(runtime.strategyName)(req, res, next);
  });

  browser.get('/auth/callback/:issuer', limiter, async (req, res, next: NextFunction) => {
    const runtime = await readyIssuer(req, res);
    if (!runtime) return;
    passport.authenticate(
      runtime.strategyName,
      (err: unknown, user: SignedInUser | false, info: { message?: string } | undefined) => {
        if (err instanceof AccountDeactivatedError) return fail(req, res, err);
        if (err) {
          req.log.warn({ err, issuer: runtime.config.id }, 'sign-in failed');
          return fail(
            req,
            res,
            new IdentityProviderError(
              msg`Sign-in with ${runtime.config.name.en} failed: ${(err as Error).message}`,
            ),
          );
        }
        if (!user) {
          return fail(
            req,
            res,
            new SignInRefusedError(
              info?.message
                ? msg`The sign-in could not be verified (${info.message}); start again.`
                : 'The sign-in could not be verified; start again.',
            ),
          );
        }
        // passport regenerates the session id here (no session fixation).
        req.logIn(user, (loginErr) => {
          if (loginErr) return next(loginErr);
          req.session.oidcLogout = { issuerId: user.issuerId, idToken: user.idToken };
          res.redirect(303, '/');
        });
      },
    )(req, res, next);
  });

  browser.post(
    '/auth/logout',
    express.urlencoded({ extended: false, limit: '2kb' }),
    deps.csrfProtect,
    (req, res, next) => {
      const logout = req.session?.oidcLogout;
      const providerLogout = registry.logoutUrl(
        logout && req.user ? { id: (req.user as { id: string }).id, ...logout } : undefined,
      );
      const sessionId = req.sessionID;
      req.logout((err) => {
        if (err) return next(err);
        if (sessionId) deps.onSignOut?.(sessionId);
        const redirect = providerLogout ?? '/';
        if (req.accepts(['html', 'json']) === 'json') res.json({ signedOut: true, redirect });
        else res.redirect(303, redirect);
      });
    },
  );

  const api = Router();
  deps.api.route(
    api,
    {
      method: 'get',
      path: '/auth/csrf',
      summary: 'A CSRF token to send as X-CSRF-Token with state-changing requests',
      tags: ['auth'],
      access: 'public',
      response: z.object({ token: z.string() }),
    },
    async ({ req, res }) => ({ token: deps.csrfToken(req, res) }),
  );
  deps.api.route(
    api,
    {
      method: 'get',
      path: '/auth/providers',
      summary: 'Identity providers this node trusts',
      tags: ['auth'],
      access: 'public',
      response: z.array(
        z.object({
          id: z.string(),
          name: z.object({ en: z.string(), fr: z.string() }),
          loginUrl: z.string(),
        }),
      ),
    },
    async () =>
      [...registry.issuers.values()].map((i) => ({
        id: i.config.id,
        name: i.config.name,
        loginUrl: `/auth/login/${i.config.id}`,
      })),
  );
  return { browser, api };
}
