import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { NotFoundError } from '../core/errors.js';
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

/** The delivery queue's state, for the node's administrators (docs/operations.md). */
export function federationAdminRoutes(api: Api, worker: Pick<DeliveryWorker, 'metrics'> | undefined): Router {
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
  return router;
}
