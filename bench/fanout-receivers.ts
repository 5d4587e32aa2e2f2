// Child process of bench:federation-fanout: BENCH_HOSTS other nodes (one loopback port each, so each is
// its own host), each with one person whose actor document and key are served (so signatures verify when
// the node fetches them), inboxes answering 202 after BENCH_DELAY_MS. On `join`, every person follows
// BENCH_GROUP (signed, 8 at a time); on `watch`, reports when every host has received an activity that
// matches (the plain activity by id; a thread's `Announce(Create)` and `Announce(Page)` by a token).
import { FakeServer } from '../tests/helpers/fediverse.js';
import { postSigned } from '../tests/helpers/fediverse.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const DELAY = Number(process.env.BENCH_DELAY_MS ?? 50);
const AS = 'https://www.w3.org/ns/activitystreams';
const now = () => performance.timeOrigin + performance.now();

type Json = Record<string, unknown>;
/** What each host received, with when it answered. */
const arrivals: { host: number; activity: Json; text: string; at: number }[] = [];
let onArrival: (() => void) | undefined;

const servers = await Promise.all(Array.from({ length: HOSTS }, () => new FakeServer().start()));
const people = servers.map((server, host) => {
  server.delayMs = DELAY;
  server.status = (_req, body) => {
    try {
      const text = body.toString('utf8');
      arrivals.push({ host, activity: JSON.parse(text) as Json, text, at: now() });
      onArrival?.();
    } catch {
      // not JSON: counted nowhere
    }
    return 202;
  };
  return server.actor('member');
});

const kindOf = (a: Json, text: string, token: string): 'create' | 'page' | null => {
  if (a.type !== 'Announce' || !text.includes(token)) return null;
  const object = a.object as Json | string;
  const type = typeof object === 'object' && object ? object.type : null;
  return type === 'Create' ? 'create' : type === 'Page' ? 'page' : null;
};

process.on('message', (m: { type: string; group?: string; id?: string; token?: string; since?: number }) => {
  void (async () => {
    if (m.type === 'join') {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < people.length) {
            const i = next++;
            const follow = {
              '@context': AS,
              id: `${servers[i]!.url}/activities/follow`,
              type: 'Follow',
              actor: people[i]!.id,
              object: m.group,
            };
            const res = await postSigned(`${m.group}/inbox`, follow, people[i]!);
            if (res.status !== 202) throw new Error(`a Follow was answered ${res.status}: ${res.body}`);
          }
        }),
      );
      process.send!({ type: 'joined', inboxes: servers.map((s) => `${s.url}/inbox`) });
    }
    if (m.type === 'watch') {
      // Until every host has it: the plain activity (by id), or both Announces of a thread (by its token).
      const since = m.since ?? 0;
      const last: Record<string, Map<number, number>> = {
        plain: new Map(),
        create: new Map(),
        page: new Map(),
      };
      // Each arrival is looked at once (the same small cost per arrival for both cases: a check that went
      // over every arrival again delayed the later ones of the larger Announces, not the plain activity's).
      let seen = 0;
      const check = () => {
        for (; seen < arrivals.length; seen++) {
          const a = arrivals[seen]!;
          if (a.at < since) continue;
          const kind = m.id
            ? a.activity.id === m.id
              ? 'plain'
              : null
            : kindOf(a.activity, a.text, m.token!);
          if (kind && !last[kind]!.has(a.host)) last[kind]!.set(a.host, a.at);
        }
        const done = m.id
          ? last.plain!.size === HOSTS
          : last.create!.size === HOSTS && last.page!.size === HOSTS;
        if (!done) return false;
        const max = (k: string) => Math.max(...last[k]!.values());
        process.send!(
          m.id
            ? { type: 'seen', last: max('plain') }
            : { type: 'seen', last: max('create'), lastPage: max('page') },
        );
        return true;
      };
      arrivals.splice(0, arrivals.findIndex((a) => a.at >= since) >>> 0);
      if (check()) return;
      onArrival = () => {
        if (check()) onArrival = undefined;
      };
    }
    if (m.type === 'stop') {
      await Promise.all(servers.map((s) => s.close()));
      process.exit(0);
    }
  })().catch((err: unknown) => {
    process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
});
// Stops with the benchmark, whatever happens to it.
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
