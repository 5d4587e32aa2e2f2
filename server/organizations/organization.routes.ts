import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import type { ProfileService } from '../people/profile.service.js';
import { directoryPage, directoryQuery } from '../people/profile.schemas.js';
import {
  organizationInput,
  organizationPatch,
  organizationView,
  slugParams,
} from './organization.schemas.js';
import { toOrganizationView, type OrganizationService } from './organization.service.js';

export function organizationRoutes(
  api: Api,
  organizations: OrganizationService,
  profiles: ProfileService,
): Router {
  const router = Router();
  const tags = ['organizations'];
  api.route(
    router,
    {
      method: 'get',
      path: '/organizations',
      summary: 'List organizations',
      tags,
      access: 'public',
      response: z.array(organizationView),
    },
    async () => organizations.list(),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/organizations/:slug',
      summary: 'One organization',
      tags,
      access: 'public',
      params: slugParams,
      response: organizationView,
    },
    async ({ params }) => toOrganizationView(await organizations.get(params.slug)),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/organizations/:slug/people',
      summary: "An organization's people (signed-in people only)",
      tags,
      access: 'person',
      params: slugParams,
      query: directoryQuery.omit({ organization: true }),
      response: directoryPage,
    },
    async ({ caller, params, query }) => {
      await organizations.get(params.slug);
      return profiles.directory(caller, { ...query, organization: params.slug });
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/organizations',
      summary: 'Create an organization (administrators)',
      tags,
      access: 'admin',
      body: organizationInput,
      response: organizationView,
    },
    async ({ caller, body }) => organizations.create(caller, body),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/organizations/:slug',
      summary: 'Change an organization (administrators)',
      tags,
      access: 'admin',
      params: slugParams,
      body: organizationPatch,
      response: organizationView,
    },
    async ({ caller, params, body }) => organizations.update(caller, params.slug, body),
  );
  return router;
}
