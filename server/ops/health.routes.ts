import { Router } from 'express';
import type { Db } from 'mongodb';
import { pingDatabase } from '../db/client.js';
import { ServiceUnavailableError } from '../core/errors.js';
import { sendProblem } from '../core/problem.js';

export interface Lifecycle {
  /** True once SIGTERM/SIGINT was received: readiness fails so load balancers drain this process. */
  isShuttingDown(): boolean;
}

/** `/healthz`: the process is up. `/readyz`: it can serve (database answers a ping, not shutting down). */
export function healthRoutes(deps: { db: Db; lifecycle: Lifecycle }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (deps.lifecycle.isShuttingDown()) {
      sendProblem(
        res,
        new ServiceUnavailableError('The server is shutting down.').toProblem(req.originalUrl),
      );
      return;
    }
    if (!(await pingDatabase(deps.db))) {
      sendProblem(
        res,
        new ServiceUnavailableError('The database does not answer.').toProblem(req.originalUrl),
      );
      return;
    }
    res.json({ status: 'ready', checks: { database: 'ok' } });
  });
  return router;
}
