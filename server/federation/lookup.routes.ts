import { Router } from 'express';
import type { Api } from '../core/api.js';
import { NotFoundError } from '../core/errors.js';
import { lookupQuery, lookupResult } from './lookup.schemas.js';
import type { LookupService } from './lookup.service.js';

/** Finding a group on any node by handle or URL (docs/federation.md, "Finding a group"). */
export function lookupRoutes(api: Api, lookup: LookupService | undefined): Router {
  const router = Router();
  api.route(
    router,
    {
      method: 'get',
      path: '/lookup',
      summary:
        'Find a public group on this or another node by @group@host, its URL or a thread’s URL: its profile (recorded here, so it can be joined as group@host)',
      tags: ['federation'],
      access: 'person',
      query: lookupQuery,
      response: lookupResult,
    },
    async ({ caller, query }) => {
      if (!lookup) throw new NotFoundError('Federation is off on this node.');
      return lookup.lookup(caller, query.q);
    },
  );
  return router;
}
