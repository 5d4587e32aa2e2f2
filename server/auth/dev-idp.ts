import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { escapeHtml } from '../core/html.js';
import express, { Router, type Request, type Response } from 'express';
import Provider, { type Configuration } from 'oidc-provider';
import { demoClaims, demoPeople, type DemoPerson } from './demo.cast.js';

/**
 * A real OpenID Connect provider (the `oidc-provider` package) with a handful of demo people, mounted
 * by the server in development when no issuer is configured, and started by the tests as a real
 * identity provider. It can never be active in production (config.ts refuses DEV_IDP there).
 * Sign-in is a click on a demo person: there is no password, which is why it is development-only.
 */

export type { DemoPerson, DemoDepartment } from './demo.cast.js';
export { demoCast, demoClaims, demoDepartments, demoPeople } from './demo.cast.js';

export interface DevIdpOptions {
  /** Issuer URL, e.g. http://127.0.0.1:3000/dev-idp; the router must be mounted at its path. */
  issuer: string;
  clients: {
    clientId: string;
    clientSecret: string;
    redirectUris: string[];
    postLogoutRedirectUris: string[];
  }[];
  people?: DemoPerson[];
  /** The RSA signing key as a private JWK (generated when absent). */
  signingKey?: Record<string, unknown>;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto"><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function signInPage(uid: string, base: string, people: DemoPerson[]): string {
  const buttons = people
    .map(
      (p) =>
        `<li><button type="submit" name="account" value="${escapeHtml(p.sub)}">${escapeHtml(p.name)}</button> ` +
        `<small>${escapeHtml(p.sub)} · ${escapeHtml(p.email)}</small></li>`,
    )
    .join('\n');
  return page(
    'Development identity provider',
    `<p>This provider exists only in development. Choose a demo person to sign in as; no password is needed.</p>
<p lang="fr">Ce fournisseur n'existe qu'en développement. Choisissez une personne de démonstration.</p>
<form method="post" action="${escapeHtml(base)}/interaction/${escapeHtml(uid)}/login"><ul>${buttons}</ul></form>
<p><a href="${escapeHtml(base)}/interaction/${escapeHtml(uid)}/abort">Cancel / Annuler</a></p>`,
  );
}

export function createDevIdentityProvider(options: DevIdpOptions): { router: Router; provider: Provider } {
  const people = options.people ?? demoPeople;
  const base = new URL(options.issuer).pathname.replace(/\/$/, '');
  const jwk = {
    ...(options.signingKey ??
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })),
    kid: randomBytes(8).toString('hex'),
    use: 'sig',
    alg: 'RS256',
  };

  const configuration: Configuration = {
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.postLogoutRedirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: [jwk as never] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'locale', 'organization', 'roles'],
      email: ['email', 'email_verified'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // Plain pages of our own: the provider's defaults load a web font from an outside host.
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = page(
            'Sign out of the development provider?',
            `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p>You are signed out of the development identity provider.</p>');
        },
      },
    },
    // passport-openidconnect does not send PKCE; this provider serves confidential clients only.
    pkce: { required: () => false },
    interactions: { url: (_ctx, interaction) => `${base}/interaction/${interaction.uid}` },
    // First-party demo clients: consent is implied, so grant what they ask for.
    loadExistingGrant: async (ctx) => {
      const grantId =
        ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx, id) => {
      const person = people.find((p) => p.sub === id);
      if (!person) return undefined;
      return {
        accountId: id,
        claims: async () => demoClaims(person) as { sub: string },
      };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><pre>${escapeHtml(
        `${out.error}: ${out.error_description ?? ''}`,
      )}</pre>`;
    },
  };
  const provider = new Provider(options.issuer, configuration);
  provider.proxy = true;

  const router = Router();
  router.get('/interaction/:uid', async (req: Request, res: Response, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') {
        // Consent is granted by loadExistingGrant; anything else finishes as-is.
        await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
        return;
      }
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(signInPage(details.uid, base, people));
    } catch (err) {
      next(err);
    }
  });
  router.post(
    '/interaction/:uid/login',
    express.urlencoded({ extended: false, limit: '2kb' }),
    async (req, res, next) => {
      try {
        const account = (req.body as { account?: unknown }).account;
        if (typeof account !== 'string' || !people.some((p) => p.sub === account)) {
          res.status(400).type('text').send('Unknown demo person.');
          return;
        }
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: account } },
          { mergeWithLastSubmission: false },
        );
      } catch (err) {
        next(err);
      }
    },
  );
  router.get('/interaction/:uid/abort', async (req, res, next) => {
    try {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The person cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      next(err);
    }
  });
  router.use(provider.callback());
  return { router, provider };
}
