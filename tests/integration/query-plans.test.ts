import type { CommandStartedEvent, Document } from 'mongodb';
import { describeServer } from '../../server/db/client.js';
import type { ApiClient } from '../helpers/browser.js';
import { filesForm } from '../helpers/files.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * Every read the web client and the API make must be served by an index, on MongoDB and on the FerretDB the
 * project builds (docs/adr/0013-index-served-filters.md): a collection scan is fine at ten documents and
 * seconds at a department's size. This drives the REST API and the ActivityPub routes as people do, records
 * each command the node sends to the database while a request runs, asks the database for the plan of every
 * read among them, and fails on a scan of a collection.
 */

/** Collections whose whole reading is by design (one document, or a bounded list of the node's own). */
const BOUNDED: Record<string, string> = {
  meta: 'one document per node',
  organizations:
    'the departments and agencies the node knows, listed whole by the directory (tens to hundreds)',
  fed_hosts: 'one document per server this node delivers to, read by the delivery worker (tens to hundreds)',
};

/**
 * The tables a FerretDB (SQLite) plan reads whole: `SCAN <table>` lines, other than json_each over one
 * document (`je`), the array side tables' full-text lookups (`VIRTUAL TABLE INDEX`) and the walk of an
 * ordered index in a sorted page's order, which stops at the page's end (ADR 0013, "Ordered walks": MongoDB
 * shows the same read as an IXSCAN).
 */
function tableScans(plan: string): string[] {
  return [...plan.matchAll(/detail=SCAN (\S+)( VIRTUAL TABLE| USING INDEX \S+_ordered_\w+)?/g)]
    .filter(([, table, other]) => table !== 'je' && !other)
    .map(([, table]) => table!);
}

interface Read {
  request: string;
  command: string;
  collection: string;
  explain: Document;
}

/** The read a command makes, as an `explain` command (writes are explained as the find of their filter). */
function asExplain(e: CommandStartedEvent): Read | undefined {
  const c = e.command;
  const name = e.commandName;
  const of = (collection: string, explain: Document): Read => ({
    request: '',
    command: `${name} ${collection} ${JSON.stringify(explain)}`.slice(0, 400),
    collection,
    explain,
  });
  switch (name) {
    case 'find':
      return of(c.find as string, {
        find: c.find,
        filter: c.filter ?? {},
        ...(c.sort ? { sort: c.sort } : {}),
        ...(c.limit ? { limit: c.limit } : {}),
        ...(c.skip ? { skip: c.skip } : {}),
      });
    case 'aggregate': {
      const first = (c.pipeline as Document[])[0];
      const match = first && '$match' in first ? (first.$match as Document) : {};
      return of(c.aggregate as string, { find: c.aggregate, filter: match });
    }
    case 'count':
      return of(c.count as string, { find: c.count, filter: c.query ?? {} });
    case 'distinct':
      return of(c.distinct as string, { find: c.distinct, filter: c.query ?? {} });
    case 'update':
      return of(c.update as string, { find: c.update, filter: (c.updates as { q: Document }[])[0]!.q });
    case 'delete':
      return of(c.delete as string, { find: c.delete, filter: (c.deletes as { q: Document }[])[0]!.q });
    case 'findAndModify':
      return of(c.findAndModify as string, {
        find: c.findAndModify,
        filter: c.query ?? {},
        ...(c.sort ? { sort: c.sort } : {}),
      });
    default:
      return undefined;
  }
}

describe('every read the client and the API make is served by an index', () => {
  let w: World;
  let ferret: boolean;
  const reads: Read[] = [];
  let current = '';
  let ids: Record<string, string> = {};

  const recordDuring = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
    current = label;
    try {
      return await run();
    } finally {
      // Background work a request started (notification fan-out, jobs) is recorded too.
      await new Promise((r) => setTimeout(r, 150));
      current = '';
    }
  };
  const get = (who: ApiClient, path: string) =>
    recordDuring(`GET ${path}`, async () => {
      const res = await who.call('GET', path);
      expect(res.status).toBeLessThan(300);
      return res.body as Document;
    });

  beforeAll(async () => {
    w = await startWorld(
      ['olga', 'max', 'mia'],
      { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' },
      {},
      {
        monitorCommands: true,
      },
    );
    ferret = (await describeServer(w.node.database.db)).product === 'FerretDB';
    w.node.database.client.on('commandStarted', (e) => {
      if (!current) return;
      const read = asExplain(e);
      if (read) reads.push({ ...read, request: current });
    });
    // A department's day, through the API: groups, members, threads, replies, likes, files, reports.
    const { olga, max, mia } = w.as as Record<string, ApiClient>;
    await recordDuring('POST /groups', () =>
      olga!.call('POST', '/groups', {
        handle: 'policy',
        name: 'Policy',
        visibility: 'public',
        joinPolicy: 'open',
      }),
    );
    await olga!.call('POST', '/groups', {
      handle: 'closed',
      name: 'Closed',
      visibility: 'members',
      joinPolicy: 'request',
    });
    await recordDuring('POST join', () => max!.call('POST', '/groups/policy/join'));
    await mia!.call('POST', '/groups/policy/join');
    await recordDuring('POST request', () => mia!.call('POST', '/groups/closed/requests'));
    await recordDuring('PUT role', () =>
      olga!.call('PUT', '/groups/policy/members/max/role', { role: 'moderator' }),
    );
    const thread = await recordDuring('POST thread', () =>
      olga!.call('POST', '/groups/policy/threads', {
        title: 'Budget 2027',
        body: 'Draft for @max and @mia.',
      }),
    );
    const reply = await recordDuring('POST reply', () =>
      max!.call('POST', `/threads/${thread.body.id as string}/replies`, { body: 'Looks good, olga.' }),
    );
    await recordDuring('PUT like', () => mia!.call('PUT', `/replies/${reply.body.id as string}/like`));
    await recordDuring('POST report', () =>
      mia!.call('POST', `/replies/${reply.body.id as string}/reports`, { reason: 'off topic' }),
    );
    await recordDuring('POST files', () =>
      max!.call(
        'POST',
        '/groups/policy/files',
        filesForm([{ bytes: Buffer.from('a,b\n1,2\n'), name: 'budget.csv' }]),
      ),
    );
    await recordDuring('POST folder', () => olga!.call('POST', '/groups/policy/folders', { name: 'Drafts' }));
    const empty = await olga!.call('POST', '/groups/policy/folders', { name: 'Empty' });
    await recordDuring('DELETE folder', async () => {
      const res = await olga!.call('DELETE', `/folders/${empty.body.id as string}`);
      expect(res.status).toBe(204);
      return res;
    });
    ids = { thread: thread.body.id as string, reply: reply.body.id as string };
    await new Promise((r) => setTimeout(r, 500)); // notifications are written
  });
  afterAll(() => w?.close());

  it('reads the pages people open, each from an index', async () => {
    const { olga, max, mia } = w.as as Record<string, ApiClient>;
    const pages: [ApiClient, string][] = [
      [mia!, '/me'],
      [mia!, '/groups'],
      [mia!, '/groups/policy'],
      [mia!, '/groups/policy/members'],
      [olga!, '/groups/closed/members?state=requested'],
      [mia!, '/groups/policy/threads'],
      [mia!, `/threads/${ids.thread}`],
      [mia!, `/threads/${ids.thread}/replies`],
      [mia!, `/replies/${ids.reply}`],
      [mia!, '/feed'],
      [mia!, '/search?q=budget'],
      [mia!, '/search/files?q=budget'],
      [mia!, '/people'],
      [mia!, '/people/max'],
      [mia!, '/people/max/memberships'],
      [mia!, '/notifications'],
      [mia!, '/notifications/settings'],
      [mia!, '/groups/policy/subscription'],
      [mia!, '/groups/policy/files'],
      [max!, '/groups/policy/reports'],
      [olga!, '/groups/policy/audit'],
      [mia!, '/organizations'],
      [w.anonymous, '/groups/policy/threads'],
    ];
    for (const [who, path] of pages) await get(who, path);
    for (const path of [
      '/ap/a/g.policy',
      '/ap/a/g.policy/followers',
      '/ap/a/g.policy/outbox',
      '/ap/a/g.policy/moderators',
      '/ap/a/u.max',
      '/.well-known/webfinger?resource=acct:policy@' + new URL(w.node.url).host,
      '/nodeinfo/2.1',
    ])
      await recordDuring(`GET ${path}`, async () => {
        const res = await fetch(`${w.node.url}${path}`, { headers: { accept: 'application/activity+json' } });
        expect(res.status).toBeLessThan(300);
        await res.arrayBuffer();
      });

    const scans: string[] = [];
    const seen = new Set<string>();
    for (const read of reads) {
      if (BOUNDED[read.collection] || seen.has(read.command)) continue;
      // A read of at most one document of a collection, whatever it is (GridFS asks whether a bucket is empty).
      if (Object.keys(read.explain.filter as Document).length === 0 && read.explain.limit === 1) continue;
      seen.add(read.command);
      const plan = JSON.stringify(
        await w.node.database.db.command({ explain: read.explain, verbosity: 'queryPlanner' }),
      );
      const scanned = ferret ? tableScans(plan).length > 0 : /COLLSCAN/.test(plan);
      if (scanned) scans.push(`${read.request}: ${read.command}`);
    }
    expect(reads.length).toBeGreaterThan(50);
    expect(scans).toEqual([]);
  });
});
