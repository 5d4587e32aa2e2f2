import http from 'node:http';
import express from 'express';
import { createDevIdentityProvider, type DemoPerson } from '../../server/auth/dev-idp.js';
import type { IssuerConfig } from '../../server/config.js';
import { freePort } from '../../server/core/net.js';

export interface TestIdp {
  url: string;
  issuer: IssuerConfig;
  people: DemoPerson[];
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (oidc-provider, the same module as the development provider) on its
 * own loopback port, trusting a node at `nodeUrl` as client `ensemble-test`.
 */
export async function startTestIdp(options: {
  id: string;
  nodeUrl: string;
  people: DemoPerson[];
  extraClients?: { clientId: string; clientSecret: string; redirectUris: string[] }[];
  signingKey?: Record<string, unknown>;
}): Promise<TestIdp> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { router } = createDevIdentityProvider({
    issuer: url,
    people: options.people,
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    clients: [
      {
        clientId: 'ensemble-test',
        clientSecret: 'ensemble-test-secret',
        redirectUris: [`${options.nodeUrl}/auth/callback/${options.id}`],
        postLogoutRedirectUris: [`${options.nodeUrl}/`],
      },
      ...(options.extraClients ?? []).map((c) => ({ ...c, postLogoutRedirectUris: [] })),
    ],
  });
  const app = express();
  app.use(router);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url,
    people: options.people,
    issuer: {
      id: options.id,
      name: { en: `Test provider ${options.id}`, fr: `Fournisseur de test ${options.id}` },
      issuer: url,
      clientId: 'ensemble-test',
      clientSecret: 'ensemble-test-secret',
      scope: 'openid profile email',
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
