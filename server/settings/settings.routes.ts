import { Router } from 'express';
import type { Api } from '../core/api.js';
import {
  nodeInfoView,
  nodeSettingsPatch,
  settingsAdminView,
  settingsHistoryPage,
  settingsHistoryQuery,
} from './settings.schemas.js';
import type { NodeSettings } from './settings.service.js';

/** The node's public description, and its settings for administrators (docs/operations.md, "Node settings"). */
export function settingsRoutes(api: Api, settings: NodeSettings): Router {
  const router = Router();
  const tags = ['node'];
  api.route(
    router,
    {
      method: 'get',
      path: '/node',
      summary: "This node's name, description, contact, default language and sign-in notice",
      tags,
      access: 'public',
      response: nodeInfoView,
    },
    async () => settings.publicView(),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/admin/settings',
      summary:
        'The node settings: current values, the environment’s defaults, which are overridden (administrators)',
      tags,
      access: 'admin',
      response: settingsAdminView,
    },
    async ({ caller }) => settings.adminView(caller),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/admin/settings',
      summary:
        'Change node settings at once on every process; null puts a value back to the environment’s (administrators, audited)',
      tags,
      access: 'admin',
      body: nodeSettingsPatch,
      response: settingsAdminView,
    },
    async ({ caller, body }) => {
      await settings.update(caller, body);
      return settings.adminView(caller);
    },
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/admin/settings/history',
      summary: 'Who changed the node settings or the federation policy, when, and what (administrators)',
      tags,
      access: 'admin',
      query: settingsHistoryQuery,
      response: settingsHistoryPage,
    },
    async ({ caller, query }) => settings.history(caller, query),
  );
  return router;
}
