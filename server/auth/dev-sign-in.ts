import type { Router } from 'express';
import type { Config, IssuerConfig } from '../config.js';
import type { Logger } from '../core/logger.js';
import { isDuplicateKey } from '../db/errors.js';
import type { OrganizationRepository } from '../organizations/organization.repository.js';
import { createDevIdentityProvider, demoCast, type DemoPerson } from './dev-idp.js';
import type { ProviderMetadata } from './oidc.js';

export const DEV_IDP_PATH = '/dev-idp';
const DEV_CLIENT = { id: 'dev', clientId: 'ensemble-dev', clientSecret: 'ensemble-dev-secret' };

/** What the node needs to offer sign-in through its own development identity provider. */
export interface DevSignIn {
  /** Mounted before the body parsers, at `path`. */
  router: Router;
  path: string;
  issuerUrl: string;
  issuer: IssuerConfig;
  /** The provider's endpoints, known without discovery (it is not listening yet at boot). */
  preset: ProviderMetadata;
  /** The first person of the cast administers the node. */
  admin: { issuer: string; sub: string };
  people: DemoPerson[];
}

/**
 * The development identity provider (DEV_IDP), with the demo cast of DEMO_DEPARTMENT (or every demo
 * department): its router, the issuer the node trusts, and its demo departments seeded as organizations
 * so the demo people are bound to them. Development and tests only (config.ts refuses it in production).
 */
export async function developmentSignIn(deps: {
  config: Config;
  organizations: OrganizationRepository;
  logger: Logger;
}): Promise<DevSignIn> {
  const { config } = deps;
  const issuerUrl = `${config.publicUrl}${DEV_IDP_PATH}`;
  const cast = demoCast(config.auth.demoDepartment);
  const { router } = createDevIdentityProvider({
    issuer: issuerUrl,
    people: cast.people,
    clients: [
      {
        clientId: DEV_CLIENT.clientId,
        clientSecret: DEV_CLIENT.clientSecret,
        redirectUris: [`${config.publicUrl}/auth/callback/${DEV_CLIENT.id}`],
        postLogoutRedirectUris: [`${config.publicUrl}/`],
      },
    ],
  });
  for (const dept of cast.departments) {
    if (await deps.organizations.bySlug(dept.slug)) continue;
    await deps.organizations.insert({ ...dept, claimValues: [dept.slug] }).catch((err: { code?: number }) => {
      if (!isDuplicateKey(err)) throw err;
    });
  }
  deps.logger.warn(
    `development identity provider mounted at ${issuerUrl} (demo people: ${cast.people.map((p) => p.sub).join(', ')})`,
  );
  return {
    router,
    path: DEV_IDP_PATH,
    issuerUrl,
    issuer: {
      id: DEV_CLIENT.id,
      name: { en: 'Development identity provider', fr: "Fournisseur d'identité de développement" },
      issuer: issuerUrl,
      clientId: DEV_CLIENT.clientId,
      clientSecret: DEV_CLIENT.clientSecret,
      scope: 'openid profile email',
    },
    preset: {
      issuer: issuerUrl,
      authorization_endpoint: `${issuerUrl}/auth`,
      token_endpoint: `${issuerUrl}/token`,
      userinfo_endpoint: `${issuerUrl}/me`,
      jwks_uri: `${issuerUrl}/jwks`,
      end_session_endpoint: `${issuerUrl}/session/end`,
    },
    admin: { issuer: issuerUrl, sub: cast.people[0]!.sub },
    people: cast.people,
  };
}
