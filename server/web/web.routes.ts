import fs from 'node:fs';
import path from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import type { Caller } from '../core/caller.js';
import { DomainError, NotFoundError } from '../core/errors.js';
import { asyncHandler } from '../core/http.js';

/**
 * The web client's addresses (docs/adr/0014-web-client.md). The same URL is a page for a browser and an
 * ActivityPub document for a server (content negotiation, `Vary: Accept`): `/groups/<handle>`,
 * `/groups/<handle>/threads/<id>` and `/people/<handle>` send ActivityPub clients to the caller or object
 * IRI under `/ap/` (docs/federation.md), which renders it. A browser gets the client's page; an address
 * that names nothing this viewer may see gets it with status 404 (the client then shows its not-found
 * page), exactly as the REST API answers, so a hidden group's existence does not leak.
 */

class NotAcceptableError extends DomainError {
  readonly status = 406;
  readonly slug = 'not-acceptable';
  readonly title = 'Not acceptable';
}

class ClientNotBuiltError extends DomainError {
  readonly status = 503;
  readonly slug = 'client-not-built';
  readonly title = 'The web client is not built';
}

/** ActivityPub's media types (an Accept with the ActivityStreams profile only matches an offer that has it). */
const AS_TYPES = [
  'application/activity+json',
  'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
  'application/ld+json',
];
/** Paths that are never the client's pages (their own routers answer, or the problem+json 404 does). */
const NOT_PAGES = /^\/(api|ap|auth|dev-idp|dev|mail|socket\.io|\.well-known|nodeinfo|healthz|readyz)(\/|$)/;

export interface WebDeps {
  /** The built client (client/dist: index.html, assets/, gcds/). */
  clientDir: string;
  callerOf: (req: Request) => Caller;
  /** Whether `/ap/...` documents are served (FEDERATION_ENABLED). */
  federation: boolean;
  /** Each answers NotFoundError when the caller may not see the thing (the services' own rules). */
  exists: {
    group(caller: Caller, handle: string): Promise<unknown>;
    person(caller: Caller, handle: string): Promise<unknown>;
    /** The thread's group handle. */
    thread(caller: Caller, id: string): Promise<{ group: string }>;
  };
}

type Wanted = 'html' | 'activity';

/** What the client prefers: the page, an ActivityPub document, or neither (406). `*\/*` gets the page. */
function wanted(req: Request): Wanted {
  const type = req.accepts(['text/html', ...AS_TYPES]);
  if (type === 'text/html') return 'html';
  if (type) return 'activity';
  throw new NotAcceptableError('This address is a web page (text/html) or an ActivityPub document.');
}

export function webRoutes(deps: WebDeps): Router {
  const router = Router();
  const indexFile = path.join(deps.clientDir, 'index.html');
  let shell: { mtimeMs: number; html: string } | null = null;

  /** The client's page, read again when a new build replaced it. */
  const page = (): string => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(indexFile);
    } catch {
      throw new ClientNotBuiltError('Build it with `node scripts/build-client.mjs` (npm run build does).');
    }
    if (!shell || shell.mtimeMs !== stat.mtimeMs)
      shell = { mtimeMs: stat.mtimeMs, html: fs.readFileSync(indexFile, 'utf8') };
    return shell.html;
  };
  const sendPage = (res: Response, status = 200) => {
    res.status(status).type('html').set('Cache-Control', 'no-cache').set('Vary', 'Accept').send(page());
  };

  // Hashed bundles never change; the design system's files change only with its version.
  router.use(
    '/assets',
    express.static(path.join(deps.clientDir, 'assets'), { immutable: true, maxAge: '365d', index: false }),
  );
  router.use('/gcds', express.static(path.join(deps.clientDir, 'gcds'), { maxAge: '1d', index: false }));
  router.get('/styles.css', (req, res, next) =>
    res.sendFile('styles.css', { root: deps.clientDir, maxAge: '1h' }, (err) => err && next()),
  );

  /** A page whose address names something: 404 unless this viewer may see it. */
  const entityPage = (check: (req: Request) => Promise<void>, activityIri?: (req: Request) => string) =>
    asyncHandler(async (req, res) => {
      if (wanted(req) === 'activity') {
        if (!activityIri || !deps.federation)
          throw new NotFoundError('There is no ActivityPub document at this address.');
        res.set('Vary', 'Accept').redirect(303, activityIri(req));
        return;
      }
      try {
        await check(req);
      } catch (err) {
        if (err instanceof NotFoundError) return sendPage(res, 404);
        throw err;
      }
      sendPage(res);
    });
  const plainPage = asyncHandler(async (req, res) => {
    wanted(req);
    sendPage(res);
  });
  const caller = (req: Request) => deps.callerOf(req);
  const param = (req: Request, name: string) => req.params[name]!;

  for (const p of ['/', '/signin', '/search', '/people', '/notifications', '/admin'])
    router.get(p, plainPage);
  router.get('/admin/:section(people|organizations|federation|settings)', plainPage);

  const group = async (req: Request) => {
    await deps.exists.group(caller(req), param(req, 'handle'));
  };
  router.get(
    '/groups/:handle',
    entityPage(group, (req) => `/ap/a/g.${encodeURIComponent(param(req, 'handle'))}`),
  );
  router.get('/groups/:handle/:tab(files|members|settings|reports|audit)', entityPage(group));
  router.get(
    '/groups/:handle/threads/:id([0-9a-f]{24})',
    entityPage(
      async (req) => {
        const thread = await deps.exists.thread(caller(req), param(req, 'id'));
        if (thread.group !== param(req, 'handle')) throw new NotFoundError('No such thread in this group.');
      },
      (req) => `/ap/threads/${encodeURIComponent(param(req, 'id'))}`,
    ),
  );
  // The address the client used before it had real ones; it leads to the thread's own address.
  router.get(
    '/threads/:id([0-9a-f]{24})',
    asyncHandler(async (req, res) => {
      wanted(req);
      try {
        const { group: handle } = await deps.exists.thread(caller(req), param(req, 'id'));
        res.redirect(
          301,
          `/groups/${encodeURIComponent(handle)}/threads/${encodeURIComponent(param(req, 'id'))}`,
        );
      } catch (err) {
        if (err instanceof NotFoundError) return sendPage(res, 404);
        throw err;
      }
    }),
  );
  const person = async (req: Request) => {
    await deps.exists.person(caller(req), param(req, 'handle'));
  };
  router.get(
    '/people/:handle',
    entityPage(person, (req) => `/ap/a/u.${encodeURIComponent(param(req, 'handle'))}`),
  );
  router.get('/people/:handle/edit', entityPage(person));

  // Anything else a browser asks for is the not-found page; other clients get problem+json.
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_PAGES.test(req.path)) return next();
    if (req.accepts(['text/html', 'application/json', ...AS_TYPES]) !== 'text/html') return next();
    try {
      sendPage(res, 404);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
