import { declareApi } from './api.routes.js';
import { Api } from './core/api.js';

/**
 * The OpenAPI document without a running node: routes are declared with services that are never
 * called (only handlers use them), which is all the document needs.
 */
export async function buildOpenApiDocument(serverUrl = '/api/v1') {
  const api = new Api();
  const unused = {} as never;
  declareApi(
    api,
    {
      accounts: unused,
      profiles: unused,
      organizations: unused,
      groups: unused,
      memberships: unused,
      threads: unused,
      discovery: unused,
      reports: unused,
      files: unused,
      folders: unused,
      fileRepo: unused,
      notifications: unused,
      settings: unused,
    },
    {
      passport: unused,
      registry: unused,
      csrfToken: unused,
      csrfProtect: (_req, _res, next) => next(),
      rateLimitPer15Min: 1,
      devIdpHint: false,
    },
  );
  return api.document(serverUrl);
}
