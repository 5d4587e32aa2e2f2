// Child process of bench/load.bench.ts: the virtual people. Each holds a Socket.IO connection (Engine.IO v4
// over WebSocket, spoken directly with `ws` as in bench/socket-clients.ts, so the generator stays light) to the
// process it is given, following the group; and in a loop, with a think time, reads the group's thread page,
// reads a thread's replies, posts a reply or likes a reply. It reports every action's latency and status,
// what it wrote, and the events its socket received.
import WebSocket from 'ws';

export interface Person {
  handle: string;
  /** The process this person's browser talks to (a load balancer's choice). */
  url: string;
  process: number;
  cookie: string;
  csrf: string;
}

export interface PlanMessage {
  type: 'plan';
  /** The node's address: browsers send it as Origin on every socket, whichever process answers. */
  publicUrl: string;
  people: Person[];
  group: string;
  threads: string[];
  seconds: number;
  thinkMs: number;
}

export type Action = 'read group page' | 'read replies' | 'post reply' | 'like reply';

export interface Report {
  type: 'report';
  actions: Record<Action, { ms: number[]; statuses: Record<string, number> }>;
  /** Replies answered 201: id, the process that answered. */
  replies: { id: string; threadId: string; process: number }[];
  /** Likes answered 200: reply id and who. */
  likes: { id: string; handle: string }[];
  /** reply.created events received, per reply: how many sockets got it on each process (index 1, 2). */
  events: Record<string, number[]>;
  socketDrops: number;
  seconds: number;
  /** What 5xx answers said (`detail` of their problem+json), and how often. */
  problems: Record<string, number>;
}

const MIX: [Action, number][] = [
  ['read group page', 0.35],
  ['read replies', 0.35],
  ['post reply', 0.2],
  ['like reply', 0.1],
];

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function action(): Action {
  let r = Math.random();
  for (const [a, p] of MIX) if ((r -= p) < 0) return a;
  return 'read group page';
}

async function run(plan: PlanMessage): Promise<Report> {
  const report: Report = {
    type: 'report',
    actions: Object.fromEntries(
      MIX.map(([a]) => [a, { ms: [], statuses: {} }]),
    ) as unknown as Report['actions'],
    replies: [],
    likes: [],
    events: {},
    socketDrops: 0,
    seconds: plan.seconds,
    problems: {},
  };
  // Reply ids known so far, per thread (from pages read and replies posted): what people like.
  const known = new Map<string, string[]>(plan.threads.map((t) => [t, []]));
  const learn = (threadId: string, ids: string[]) => {
    const list = known.get(threadId)!;
    for (const id of ids) if (list.length < 500 && !list.includes(id)) list.push(id);
  };
  let stopping = false;

  const sockets: WebSocket[] = [];
  const connect = (person: Person): Promise<void> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${person.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
        headers: { cookie: person.cookie, origin: plan.publicUrl },
      });
      sockets.push(ws);
      ws.on('error', reject);
      ws.on('close', () => {
        if (!stopping) report.socketDrops++;
      });
      ws.on('message', (data) => {
        const frame = data.toString();
        if (frame === '2') ws.send('3');
        else if (frame.startsWith('0')) ws.send('40');
        else if (frame.startsWith('40'))
          ws.send(`421${JSON.stringify(['subscribe', { room: { kind: 'group', group: plan.group } }])}`);
        else if (frame.startsWith('431')) {
          if (frame.includes('"ok":true')) resolve();
          else reject(new Error(`subscribe refused: ${frame}`));
        } else if (frame.startsWith('42["reply.created"')) {
          const m = /"replyId":"([0-9a-f]{24})"/.exec(frame);
          if (m) {
            const counts = (report.events[m[1]!] ??= [0, 0, 0]);
            counts[person.process] = (counts[person.process] ?? 0) + 1;
          }
        }
      });
    });
  for (let i = 0; i < plan.people.length; i += 50)
    await Promise.all(plan.people.slice(i, i + 50).map(connect));
  process.send!({ type: 'connected' });

  const until = Date.now() + plan.seconds * 1000;
  const act = async (person: Person) => {
    const kind = action();
    const threadId = pick(plan.threads);
    const headers: Record<string, string> = { cookie: person.cookie, accept: 'application/json' };
    let url = `${person.url}/api/v1/groups/${plan.group}/threads?limit=20`;
    let init: RequestInit = { headers };
    if (kind === 'read replies') url = `${person.url}/api/v1/threads/${threadId}/replies?limit=20`;
    if (kind === 'post reply') {
      url = `${person.url}/api/v1/threads/${threadId}/replies`;
      init = {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'x-csrf-token': person.csrf },
        body: JSON.stringify({ body: `A reply from ${person.handle} at ${new Date().toISOString()}` }),
      };
    }
    let likeId: string | undefined;
    if (kind === 'like reply') {
      const ids = known.get(threadId)!;
      if (!ids.length) return;
      likeId = pick(ids);
      url = `${person.url}/api/v1/replies/${likeId}/like`;
      init = { method: 'PUT', headers: { ...headers, 'x-csrf-token': person.csrf } };
    }
    const started = performance.now();
    let status: string;
    let body: unknown;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
      const text = await res.text();
      status = String(res.status);
      body = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
      if (res.status >= 500) {
        const detail = `${kind}: ${res.status} ${(body as { detail?: string })?.detail ?? ''}`;
        report.problems[detail] = (report.problems[detail] ?? 0) + 1;
      }
    } catch (err) {
      status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network-error';
    }
    const entry = report.actions[kind];
    entry.ms.push(performance.now() - started);
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
    if (kind === 'post reply' && status === '201') {
      const id = (body as { id: string }).id;
      report.replies.push({ id, threadId, process: person.process });
      learn(threadId, [id]);
    }
    if (kind === 'read replies' && status === '200')
      learn(
        threadId,
        (body as { items: { id: string }[] }).items.map((r) => r.id),
      );
    if (kind === 'like reply' && status === '200') report.likes.push({ id: likeId!, handle: person.handle });
  };
  const live = async (person: Person) => {
    // People arrive spread over the first think time, not all at once.
    await new Promise((r) => setTimeout(r, Math.random() * plan.thinkMs));
    while (Date.now() < until) {
      await act(person);
      await new Promise((r) => setTimeout(r, Math.random() * 2 * plan.thinkMs));
    }
  };
  await Promise.all(plan.people.map(live));
  // Events still on their way for the last replies.
  await new Promise((r) => setTimeout(r, 2000));
  stopping = true;
  for (const ws of sockets) ws.close();
  return report;
}

process.on('message', (m: PlanMessage) => {
  if (m.type !== 'plan') return;
  run(m).then(
    (report) => {
      process.send!(report, () => process.exit(0));
    },
    (err: unknown) => {
      process.send!({ type: 'error', message: (err as Error).stack ?? String(err) }, () => process.exit(1));
    },
  );
});
process.send!({ type: 'ready' });
