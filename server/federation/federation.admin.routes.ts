import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { NotFoundError } from '../core/errors.js';
import type { Caller } from '../core/caller.js';
import {
  federationPolicyInput,
  federationPolicyView,
  type FederationPolicyInput,
} from '../settings/settings.schemas.js';
import type { DeliveryWorker } from './delivery.worker.js';

const deliveryMetrics = z
  .object({
    queued: z.number().int().describe('Deliveries waiting (due now or later)'),
    inFlight: z.number().int().describe('Deliveries being sent by the process that answered'),
    failed: z.number().int().describe('Deliveries kept as failed (permanent refusal or attempts used up)'),
    delivered: z.number().int().describe('Deliveries this process completed since it started'),
    hosts: z
      .array(
        z.object({
          host: z.string(),
          state: z.enum(['closed', 'open', 'half-open']),
          consecutiveFailures: z.number().int(),
          openUntil: z.string().nullable(),
        }),
      )
      .describe('Remote hosts with failures, and their circuit'),
  })
  .meta({ id: 'DeliveryMetrics' });

/** Where the federation policy is kept and changed (server/settings). */
export interface PolicySettings {
  federationPolicy(): z.infer<typeof federationPolicyView>;
  setFederationPolicy(caller: Caller, policy: FederationPolicyInput | null): Promise<void>;
}

/**
 * The delivery queue's state and the federation policy, for the node's administrators (docs/operations.md).
 * The policy is kept with the node settings: changed here, in force at once on every process, audited.
 */
export function federationAdminRoutes(
  api: Api,
  worker: Pick<DeliveryWorker, 'metrics'> | undefined,
  policy: PolicySettings,
): Router {
  const router = Router();
  api.route(
    router,
    {
      method: 'get',
      path: '/admin/federation/deliveries',
      summary:
        'Delivery queue metrics: queued, in flight, failed, and per-host circuit state (administrators)',
      tags: ['federation'],
      access: 'admin',
      response: deliveryMetrics,
    },
    async () => {
      if (!worker) throw new NotFoundError('Federation is off on this node.');
      return worker.metrics();
    },
  );
  const tags = ['federation'];
  api.route(
    router,
    {
      method: 'get',
      path: '/admin/federation/policy',
      summary:
        'The federation policy in force: mode, domains, and whether it comes from the environment (administrators)',
      tags,
      access: 'admin',
      response: federationPolicyView,
    },
    async () => policy.federationPolicy(),
  );
  api.route(
    router,
    {
      method: 'put',
      path: '/admin/federation/policy',
      summary:
        'Set the federation policy, in force at once on every process for inboxes, fetches and deliveries (administrators, audited)',
      tags,
      access: 'admin',
      body: federationPolicyInput,
      response: federationPolicyView,
    },
    async ({ caller, body }) => {
      await policy.setFederationPolicy(caller, body);
      return policy.federationPolicy();
    },
  );
  api.route(
    router,
    {
      method: 'delete',
      path: '/admin/federation/policy',
      summary: 'Go back to FEDERATION_MODE and FEDERATION_DOMAINS (administrators, audited)',
      tags,
      access: 'admin',
      status: 200,
      response: federationPolicyView,
    },
    async ({ caller }) => {
      await policy.setFederationPolicy(caller, null);
      return policy.federationPolicy();
    },
  );
  return router;
}
