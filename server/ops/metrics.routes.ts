import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Config } from '../config.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../core/errors.js';
import { inRanges, LOOPBACK_RANGES } from '../core/net.js';
import type { Metrics } from './metrics.js';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics` in Prometheus's text format, for the scrapers the configuration names
 * (docs/operations.md, "Metrics"): a bearer token (`METRICS_TOKEN`), networks (`METRICS_ALLOWED_NETWORKS`),
 * or both (then a scrape needs both). With neither, only loopback may scrape outside production, and
 * nobody in production. `METRICS_ENABLED=false` takes the endpoint away (404).
 */
export function metricsRoutes(deps: {
  metrics: Metrics | undefined;
  config: Pick<Config, 'metrics' | 'isProduction'>;
}) {
  const router = Router();
  const { token, allowedNetworks } = deps.config.metrics;
  router.get('/metrics', async (req, res, next) => {
    try {
      if (!deps.metrics) throw new NotFoundError('Metrics are off on this node (METRICS_ENABLED=false).');
      if (!token && !allowedNetworks) {
        if (deps.config.isProduction)
          throw new ForbiddenError('Metrics need METRICS_TOKEN or METRICS_ALLOWED_NETWORKS in production.');
        if (!inRanges(req.ip, LOOPBACK_RANGES))
          throw new ForbiddenError(
            'Metrics are served to loopback only unless METRICS_TOKEN or METRICS_ALLOWED_NETWORKS is set.',
          );
      }
      if (allowedNetworks && !inRanges(req.ip, allowedNetworks))
        throw new ForbiddenError('This address may not read the metrics.');
      if (token) {
        const given = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
        if (!given || !sameSecret(given, token)) {
          res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
          throw new UnauthenticatedError('Send the metrics token as Authorization: Bearer <token>.');
        }
      }
      const { contentType, body } = await deps.metrics.render();
      // Exactly as prom-client names it (Express's send() would rewrite the parameters).
      res.set('Cache-Control', 'no-store').setHeader('Content-Type', contentType);
      res.end(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
