import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { anonymous, requireAdmin, requirePerson, type Caller } from './caller.js';
import type { PageCache } from '../cache/page.cache.js';
import { hasPage, pageHeaders, sendPage } from '../cache/page.middleware.js';
import { MethodNotAllowedError } from './errors.js';
import { asyncHandler } from './http.js';
import { parseInput } from './validation.js';
import { msg } from './messages.js';

/**
 * One definition per REST route: the Express handler validates params, query and body with the same
 * zod schemas that describe the route in the OpenAPI 3.1 document, so the two cannot drift apart.
 */

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Access = 'public' | 'person' | 'admin';

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** Express-style path relative to /api/v1, e.g. `/people/:handle`. */
  path: string;
  summary: string;
  tags: string[];
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** A body that is not JSON (e.g. multipart); described for OpenAPI, parsed by `before`. */
  rawBody?: { contentType: string; schema: z.ZodType };
  /** Middleware run before validation (e.g. multer). */
  before?: RequestHandler[];
  status?: number;
  response?: z.ZodType;
  responseDescription?: string;
  /**
   * A page read often: the scopes it shows (docs/adr/0027-page-cache.md). Its ETag comes from their versions,
   * so a conditional request is answered before the page is built, and an anonymous reader's page is kept.
   * Resolving the scopes must not reveal anything: an unknown item gives the scopes of none.
   */
  cache?: (input: { params: z.output<P>; query: z.output<Q>; caller: Caller }) => Promise<string[]>;
}

export interface HandlerInput<P, Q, B> {
  caller: Caller;
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
}

export type ActorResolver = (req: Request) => Caller;

const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export class Api {
  readonly registry = new OpenAPIRegistry();
  private readonly routes: { method: Method; path: string; expressPath: string }[] = [];

  constructor(
    private readonly resolveCaller: ActorResolver = () => anonymous,
    private readonly pages?: PageCache,
  ) {}

  /** Routes declared so far (method, OpenAPI path); a test compares them with Express's own table. */
  declaredRoutes(): { method: Method; path: string }[] {
    return this.routes.map(({ method, path }) => ({ method, path }));
  }

  /**
   * Mounted where the routes are (before the CSRF guard): a request whose path matches a declared route
   * but whose method none of the matching routes answers gets 405 problem+json with an Allow header,
   * instead of falling through to 404 (RFC 9110, 15.5.6). Express matches the paths itself; every pattern
   * the path matches adds its methods, so `/groups/search` and `/groups/:group` are both counted.
   * `extra` adds routes served outside the Api (the OpenAPI document).
   */
  methodGuard(extra: { method: Method; expressPath: string }[] = []): Router {
    const router = Router();
    const byPath = new Map<string, Set<string>>();
    for (const { method, expressPath } of [...this.routes, ...extra]) {
      let methods = byPath.get(expressPath);
      if (!methods) byPath.set(expressPath, (methods = new Set()));
      methods.add(method.toUpperCase());
      if (method === 'get') methods.add('HEAD');
    }
    const allowedOf = (res: Response) => (res.locals.allowedMethods ??= new Set<string>()) as Set<string>;
    for (const [expressPath, methods] of byPath) {
      router.all(expressPath, (req, res, next) => {
        if (methods.has(req.method) || req.method === 'OPTIONS') {
          next('router');
          return;
        }
        for (const m of methods) allowedOf(res).add(m);
        next();
      });
    }
    router.use((req, res, next) => {
      const allowed = res.locals.allowedMethods as Set<string> | undefined;
      if (!allowed) {
        next();
        return;
      }
      const allow = [...allowed].sort();
      next(
        new MethodNotAllowedError(
          msg`${req.method} is not allowed on ${req.baseUrl}${req.path}; it answers ${allow.join(', ')}.`,
          allow,
        ),
      );
    });
    return router;
  }

  route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    router: Router,
    spec: RouteSpec<P, Q, B>,
    handler: (input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<unknown>,
  ): void {
    const status = spec.status ?? (spec.method === 'post' ? 201 : 200);
    this.routes.push({ method: spec.method, path: toOpenApiPath(spec.path), expressPath: spec.path });
    this.registry.registerPath({
      method: spec.method,
      // Relative to the document's server URL (`/api/v1`): a client appends each path to it.
      path: toOpenApiPath(spec.path),
      summary: spec.summary,
      tags: spec.tags,
      ...(spec.access === 'public' ? {} : { security: [{ session: [] }] }),
      request: {
        ...(spec.params ? { params: spec.params as never } : {}),
        ...(spec.query ? { query: spec.query as never } : {}),
        ...(spec.body
          ? { body: { content: { 'application/json': { schema: spec.body } }, required: true } }
          : {}),
        ...(spec.rawBody
          ? {
              body: {
                content: { [spec.rawBody.contentType]: { schema: spec.rawBody.schema } },
                required: true,
              },
            }
          : {}),
      },
      responses: {
        [status]: {
          description: spec.responseDescription ?? 'Success',
          ...(spec.response ? { content: { 'application/json': { schema: spec.response } } } : {}),
        },
        default: {
          description: 'A problem (RFC 9457)',
          content: { 'application/problem+json': { schema: problemSchema } },
        },
      },
    });

    // Who may call, and which resource, are checked before any `before` middleware reads the body: an
    // anonymous upload is refused with 401 before a byte of it is parsed or buffered.
    const gate: RequestHandler = (req, _res, next) => {
      try {
        const caller = this.resolveCaller(req);
        if (spec.access === 'person') requirePerson(caller);
        if (spec.access === 'admin') requireAdmin(caller);
        if (spec.params) parseInput(spec.params, req.params, 'params');
        next();
      } catch (err) {
        next(err);
      }
    };
    const run = asyncHandler(async (req, res) => {
      const caller = this.resolveCaller(req);
      const params = spec.params ? parseInput(spec.params, req.params, 'params') : {};
      const query = spec.query ? parseInput(spec.query, req.query, 'query') : {};
      const body = spec.body ? parseInput(spec.body, req.body ?? {}, 'body') : undefined;
      const input = { caller, params, query, body, req, res } as HandlerInput<
        z.output<P>,
        z.output<Q>,
        z.output<B>
      >;
      if (spec.cache && this.pages?.enabled && spec.method === 'get') {
        await this.cachedPage(spec, input, handler);
        return;
      }
      const result = await handler(input);
      if (res.headersSent) return;
      if (result === undefined) res.status(status === 201 ? 204 : status === 200 ? 204 : status).end();
      else res.status(status).json(result);
    });
    router[spec.method](spec.path, gate, ...(spec.before ?? []), run);
  }

  /** A page with scopes: answered 304 before it is built when the reader has it, kept for anonymous readers. */
  private async cachedPage<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    spec: RouteSpec<P, Q, B>,
    input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>,
    handler: (input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<unknown>,
  ): Promise<void> {
    const pages = this.pages!;
    const { caller, req, res } = input;
    const scopes = await spec.cache!({ params: input.params, query: input.query, caller });
    const version = pages.version(scopes);
    const reader = caller.kind === 'person' ? `person:${caller.personId}:${caller.isAdmin}` : caller.kind;
    const key = req.originalUrl;
    const etag = pages.etag(key, reader, version);
    if (hasPage(req.headers['if-none-match'], etag)) {
      pageHeaders(res, etag);
      res.status(304).end();
      return;
    }
    const page = { body: Buffer.from(JSON.stringify(await handler(input))), etag, scopes };
    if (caller.kind === 'anonymous' && spec.access === 'public') pages.set(key, page, version);
    sendPage(req, res, page);
  }

  /** A route that changes state and answers 204 No Content. */
  command<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    router: Router,
    spec: Omit<RouteSpec<P, Q, B>, 'status' | 'response'>,
    handler: (input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<void>,
  ): void {
    this.route(router, { ...spec, status: 204 }, async (input) => {
      await handler(input);
      return undefined;
    });
  }

  private cached: ReturnType<OpenApiGeneratorV31['generateDocument']> | undefined;

  /** The OpenAPI 3.1 document for every route declared so far (built once, routes do not change). */
  document(serverUrl: string): ReturnType<OpenApiGeneratorV31['generateDocument']> {
    if (this.cached) return this.cached;
    this.registry.registerComponent('securitySchemes', 'session', {
      type: 'apiKey',
      in: 'cookie',
      name: 'ensemble.sid',
      description: 'Session cookie set by the OIDC sign-in; state-changing requests also send X-CSRF-Token.',
    });
    this.cached = new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'Ensemble API',
        version: '1',
        description:
          'REST API of an Ensemble node. Changes (any method but GET, HEAD, OPTIONS) are limited per person per ' +
          'minute (API_WRITE_RATE_LIMIT, docs/operations.md); past the limit they answer 429 ' +
          '/problems/rate-limited with Retry-After, and nothing is stored.',
      },
      servers: [{ url: serverUrl }],
    });
    return this.cached;
  }
}
