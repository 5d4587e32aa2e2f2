import express, { type Express, type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { Db } from 'mongodb';
import type { Config } from './config.js';
import type { Logger } from './core/logger.js';
import { createHttpLogger } from './core/logger.js';
import { capturedHeaders, type LeanPipeline } from './cache/page.middleware.js';
import { errorHandler, notFoundHandler } from './core/problem.js';
import { healthRoutes, type Lifecycle } from './ops/health.routes.js';
import type { Metrics } from './ops/metrics.js';
import { metricsRoutes } from './ops/metrics.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Db;
  lifecycle?: Lifecycle;
  /** Answers kept pages to readers without a session, before anything else runs (page cache). */
  keptPages?: (lean: LeanPipeline) => RequestHandler;
  /** Mounted before body parsing (the development identity provider parses its own bodies). */
  earlyRouters?: { path: string; router: Router }[];
  /** Cookies, session, passport: run for every route after body parsing. */
  middleware?: RequestHandler[];
  /** Browser flows outside the API (sign-in, sign-out). */
  browserRouters?: Router[];
  /** Answers 405 for a method no /api/v1 route of that path has (before the guards). */
  apiMethodGuard?: Router;
  /** Run before every /api/v1 route (CSRF protection). */
  apiGuards?: RequestHandler[];
  /** Domain routers mounted under /api/v1, in order. */
  apiRouters?: Router[];
  /** The OpenAPI document, served at /api/v1/openapi.json. */
  openapi?: () => unknown;
  /** The web client's pages and files (server/web/), after the API. */
  web?: Router;
  /** Answers 503 at once while the database is unreachable (server/db/availability.ts). */
  databaseGate?: RequestHandler;
  /** Prometheus metrics (absent when METRICS_ENABLED=false): timed requests and `/metrics`. */
  metrics?: Metrics;
}

const alwaysRunning: Lifecycle = { isShuttingDown: () => false };

/** Build the Express app. No listen() here: main.ts listens, tests mount it on port 0. */
export function createApp(deps: AppDeps): Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('env', config.env);

  const metrics = deps.metrics;
  const mount = (path: string) => (metrics ? [metrics.mountedAt(path)] : []);
  const servedOverTls = config.publicUrl.startsWith('https://');
  const security = helmet({
    hsts: servedOverTls,
    // Upgrading sub-resources to https only makes sense when the node is reached over TLS.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: servedOverTls ? [] : null } },
  });
  // Kept pages need no database and no pipeline: answered first, even while the database is unreachable.
  if (deps.keptPages)
    app.use(
      deps.keptPages({
        headers: capturedHeaders(security),
        logger: deps.logger,
        ...(metrics ? { timed: metrics.keptPage() } : {}),
      }),
    );
  if (metrics) app.use(metrics.http());
  app.use(createHttpLogger(deps.logger));
  app.use(security);
  app.use(healthRoutes({ db: deps.db, lifecycle: deps.lifecycle ?? alwaysRunning }));
  app.use(metricsRoutes({ metrics, config }));
  if (deps.databaseGate) app.use(deps.databaseGate);
  for (const { path, router } of deps.earlyRouters ?? []) app.use(path, ...mount(path), router);
  app.use(
    express.json({ limit: config.http.jsonBodyLimit, type: ['application/json', 'application/*+json'] }),
  );
  for (const mw of deps.middleware ?? []) app.use(mw);
  for (const router of deps.browserRouters ?? []) app.use(router);

  if (deps.openapi) {
    const openapi = deps.openapi;
    app.get('/api/v1/openapi.json', (_req, res) => {
      res.json(openapi());
    });
  }
  if (metrics) app.use('/api/v1', metrics.mountedAt('/api/v1'));
  if (deps.apiMethodGuard) app.use('/api/v1', deps.apiMethodGuard);
  for (const guard of deps.apiGuards ?? []) app.use('/api/v1', guard);
  for (const router of deps.apiRouters ?? []) app.use('/api/v1', router);

  if (deps.web) app.use(deps.web);

  app.use(notFoundHandler);
  app.use(errorHandler({ exposeDetails: !config.isProduction }));
  return app;
}
