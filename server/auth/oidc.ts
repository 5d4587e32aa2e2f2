import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Passport } from 'passport';
type PassportStatic = InstanceType<typeof Passport>;
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import type { IssuerConfig } from '../config.js';
import type { Logger } from '../core/logger.js';
import type { AccountService } from '../people/account.service.js';
import type { UserDoc } from '../people/person.repository.js';

/**
 * One passport-openidconnect strategy per trusted issuer. The strategy (0.1.x) takes explicit endpoints,
 * so each issuer's discovery document is read at boot; an issuer that does not answer is reported by
 * name and retried on the next sign-in to it. The strategy checks iss, aud, exp, state and nonce but not
 * the ID token's signature: we verify that against the issuer's JWKS (jose), with 60 s of clock skew.
 */

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint?: string;
  jwks_uri: string;
  end_session_endpoint?: string;
}

export interface IssuerRuntime {
  config: IssuerConfig;
  strategyName: string;
  metadata: ProviderMetadata | undefined;
  /** Why discovery failed, for the sign-in error page. */
  lastError: string | undefined;
}

export interface SignedInUser {
  id: string;
  issuerId: string;
  idToken: string;
}

const CLOCK_SKEW_SECONDS = 60;

export class IssuerUnavailableError extends Error {}

export async function fetchDiscovery(issuer: string, timeoutMs = 5000): Promise<ProviderMetadata> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let response: globalThis.Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw new IssuerUnavailableError(`${url} did not answer (${(err as Error).message})`);
  }
  if (!response.ok) throw new IssuerUnavailableError(`${url} answered HTTP ${response.status}`);
  const doc = (await response.json()) as Partial<ProviderMetadata>;
  if (doc.issuer !== issuer) {
    throw new IssuerUnavailableError(`${url} names issuer ${String(doc.issuer)}, expected ${issuer}`);
  }
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (typeof doc[key] !== 'string') throw new IssuerUnavailableError(`${url} has no ${key}`);
  }
  return doc as ProviderMetadata;
}

export class OidcRegistry {
  readonly issuers = new Map<string, IssuerRuntime>();
  private readonly jwks = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly passport: PassportStatic,
    private readonly accounts: AccountService,
    private readonly publicUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Register issuers and read their discovery documents; failures are logged by issuer, not fatal. */
  async register(configs: IssuerConfig[], known: Record<string, ProviderMetadata> = {}): Promise<void> {
    for (const config of configs) {
      const runtime: IssuerRuntime = {
        config,
        strategyName: `oidc-${config.id}`,
        metadata: undefined,
        lastError: undefined,
      };
      this.issuers.set(config.id, runtime);
      const preset = known[config.id];
      if (preset) this.install(runtime, preset);
      else await this.discover(runtime);
    }
  }

  /** Make sure the issuer's strategy is installed, retrying discovery if it failed before. */
  async ready(id: string): Promise<IssuerRuntime | undefined> {
    const runtime = this.issuers.get(id);
    if (runtime && !runtime.metadata) await this.discover(runtime);
    return runtime;
  }

  private async discover(runtime: IssuerRuntime): Promise<void> {
    try {
      this.install(runtime, await fetchDiscovery(runtime.config.issuer));
      this.logger.info({ issuer: runtime.config.issuer, id: runtime.config.id }, 'identity provider ready');
    } catch (err) {
      runtime.lastError = (err as Error).message;
      this.logger.error(
        { issuer: runtime.config.issuer, id: runtime.config.id, reason: runtime.lastError },
        `identity provider "${runtime.config.id}" (${runtime.config.issuer}) is unreachable`,
      );
    }
  }

  private install(runtime: IssuerRuntime, metadata: ProviderMetadata): void {
    const { config } = runtime;
    runtime.metadata = metadata;
    runtime.lastError = undefined;
    this.jwks.set(config.id, createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: 5000 }));
    const strategy = new OpenIDConnectStrategy(
      {
        issuer: metadata.issuer,
        authorizationURL: metadata.authorization_endpoint,
        tokenURL: metadata.token_endpoint,
        ...(metadata.userinfo_endpoint ? { userInfoURL: metadata.userinfo_endpoint } : {}),
        clientID: config.clientId,
        clientSecret: config.clientSecret,
        callbackURL: `${this.publicUrl}/auth/callback/${config.id}`,
        scope: config.scope.split(/\s+/).filter((s) => s !== 'openid'),
        nonce: true,
        sessionKey: `oidc:${config.id}`,
        skipUserProfile: !metadata.userinfo_endpoint,
      } as never,
      // Nine parameters: passport-openidconnect then passes the raw ID token and the userinfo profile.
      ((
        issuer: string,
        uiProfile: { _json?: Record<string, unknown> } | undefined,
        _idProfile: unknown,
        _context: unknown,
        idToken: string,
        _accessToken: string,
        _refreshToken: string,
        _params: unknown,
        done: (err: unknown, user?: SignedInUser | false, info?: unknown) => void,
      ) => {
        this.verify(config, issuer, idToken, uiProfile?._json).then(
          (user) => done(null, { id: user._id.toHexString(), issuerId: config.id, idToken }),
          (err: unknown) => done(err),
        );
      }) as never,
    );
    this.passport.use(runtime.strategyName, strategy as never);
  }

  /** Verify an ID token from a registered issuer: signature (JWKS), issuer, audience, expiry. */
  async verifyIdToken(issuerId: string, idToken: string) {
    const runtime = this.issuers.get(issuerId);
    const jwks = this.jwks.get(issuerId);
    if (!runtime || !jwks) throw new Error(`No identity provider ${issuerId}`);
    return jwtVerify(idToken, jwks, {
      issuer: runtime.config.issuer,
      audience: runtime.config.clientId,
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
  }

  private async verify(
    config: IssuerConfig,
    issuer: string,
    idToken: string,
    userinfo: Record<string, unknown> | undefined,
  ): Promise<UserDoc> {
    const { payload } = await this.verifyIdToken(config.id, idToken);
    if (issuer !== config.issuer || typeof payload.sub !== 'string')
      throw new Error('ID token issuer mismatch');
    // Userinfo may add claims, never change whose they are.
    const extra = userinfo && userinfo.sub === payload.sub ? userinfo : {};
    return this.accounts.signIn({
      issuer: config.issuer,
      sub: payload.sub,
      claims: { ...extra, ...payload },
    });
  }

  /** Where to send the browser to end the provider's session too (RP-initiated logout), if supported. */
  logoutUrl(user: SignedInUser | undefined): string | undefined {
    if (!user) return undefined;
    const runtime = this.issuers.get(user.issuerId);
    const endpoint = runtime?.metadata?.end_session_endpoint;
    if (!endpoint) return undefined;
    const url = new URL(endpoint);
    url.searchParams.set('id_token_hint', user.idToken);
    url.searchParams.set('post_logout_redirect_uri', `${this.publicUrl}/`);
    url.searchParams.set('client_id', runtime.config.clientId);
    return url.toString();
  }
}
