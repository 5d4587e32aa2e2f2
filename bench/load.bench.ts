// Virtual people against a whole node: each holds a socket on the group and, with a think time, reads the
// group's thread page, reads a thread's replies, posts a reply or likes one (bench/load-people.ts, in its own
// process). The same load runs twice in one run: against one app process, then against two app processes on
// the same database with Redis (people split between them, as a load balancer would), so the second is
// compared with the first measured on the same machine at the same time. After each phase the writes are
// counted in the database: every reply and like answered as done must be there, and nothing else.
//
// Run: npm run bench:load   (BENCH_PEOPLE=200, BENCH_SECONDS=300, BENCH_THINK_MS=1000, BENCH_PHASES=1,2)
// A short check: BENCH_SECONDS=30 npm run bench:load
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ObjectId, type Db } from 'mongodb';
import type { DemoPerson } from '../server/auth/dev-idp.js';
import { freePort } from '../server/core/net.js';
import { projectRoot } from '../server/core/paths.js';
import { ApiClient, Browser, signIn } from '../tests/helpers/browser.js';
import { startTestIdp } from '../tests/helpers/idp.js';
import { startRedis } from '../tests/helpers/redis.js';
import type { Action, Person, PlanMessage, Report } from './load-people.js';
import { cpuSeconds, startBenchDatabase, startNodeProcess, writeSection } from './lib.js';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 300);
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 1000);
const PHASES = (process.env.BENCH_PHASES ?? '1,2').split(',').map(Number);
const THREADS = 20;

const percentile = (xs: number[], p: number) =>
  xs.length
    ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
    : 0;
const log = (line: string) => process.stdout.write(`[bench:load] ${line}\n`);

// Whatever was started is stopped, also when the run fails half-way.
const cleanups: (() => Promise<unknown>)[] = [];
const cleanUp = async () => {
  for (const stop of cleanups.reverse()) await stop().catch(() => undefined);
  cleanups.length = 0;
};
// Interrupted (Ctrl-C, a timeout's SIGTERM): stop the servers it started before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanUp().then(() => process.exit(130)));

async function main(): Promise<number> {
  const { uri, pid: databasePid, database, close: closeDatabase } = await startBenchDatabase('load');
  cleanups.push(closeDatabase);
  const { db } = database;
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const cast: DemoPerson[] = Array.from({ length: PEOPLE }, (_, i) => ({
    sub: `p${i}`,
    name: `Person ${i}`,
    email: `p${i}@dept.example`,
    locale: 'en',
    organization: '',
  }));
  // People sign in through the first process; the second is the same node (same PUBLIC_URL, sessions in the
  // database), so their cookies work on both.
  const idp = await startTestIdp({
    id: 'dept',
    nodeUrl: urls[0]!,
    people: cast,
  });
  cleanups.push(() => idp.close());
  const env = (i: number) => ({
    MONGODB_URI: uri,
    MONGODB_DB_NAME: 'load',
    REDIS_URL: redis.url,
    // One node: both processes are the first address to people and to the identity provider.
    PUBLIC_URL: urls[0]!,
    PORT: String(ports[i]),
    OIDC_ISSUERS: JSON.stringify([idp.issuer]),
    AUTH_RATE_LIMIT: '10000',
  });

  // BENCH_LOG_DIR keeps each process's log (warnings and errors) for a look at what went wrong.
  const logFile = (i: number) =>
    process.env.BENCH_LOG_DIR ? { logFile: path.join(process.env.BENCH_LOG_DIR, `node-${i + 1}.log`) } : {};
  const first = await startNodeProcess({ port: ports[0]!, env: env(0), ...logFile(0) });
  const processes = [first];
  cleanups.push(() => Promise.all(processes.map((p) => p.stop())));
  log(`node process 1 at ${first.url}; signing ${PEOPLE} people in`);

  // Every person signs in through the real OIDC flow; the first starts one group per phase with its threads.
  const people: { handle: string; browser: Browser; client: ApiClient }[] = [];
  for (let i = 0; i < PEOPLE; i += 10) {
    const batch = await Promise.all(
      cast.slice(i, i + 10).map(async (p) => {
        const browser = new Browser();
        await signIn(browser, first.url, 'dept', p.sub);
        const client = new ApiClient(browser, first.url);
        await client.token();
        return { handle: p.sub, browser, client };
      }),
    );
    people.push(...batch);
  }
  const owner = people[0]!.client;
  const groups: Record<number, { handle: string; threads: string[] }> = {};
  for (const phase of PHASES) {
    const handle = `load-${phase}`;
    const made = await owner.call('POST', '/groups', {
      handle,
      name: `Load ${phase}`,
      visibility: 'public',
      joinPolicy: 'open',
    });
    if (made.status !== 201) throw new Error(`group: ${made.status} ${JSON.stringify(made.body)}`);
    const threads: string[] = [];
    for (let t = 0; t < THREADS; t++)
      threads.push(
        (await owner.call('POST', `/groups/${handle}/threads`, { title: `Topic ${t}`, body: 'Discuss.' }))
          .body.id,
      );
    for (let i = 1; i < people.length; i += 20)
      await Promise.all(people.slice(i, i + 20).map((p) => p.client.call('POST', `/groups/${handle}/join`)));
    groups[phase] = { handle, threads };
  }

  /** Run the virtual people against these processes, in a child process; its report. */
  async function drive(phase: number): Promise<Report & { generatorCpu: number | null }> {
    const { handle, threads } = groups[phase]!;
    const origin = new URL(first.url).origin;
    const plan: PlanMessage = {
      type: 'plan',
      publicUrl: first.url,
      group: handle,
      threads,
      seconds: SECONDS,
      thinkMs: THINK_MS,
      people: await Promise.all(
        people.map(async (p, i) => {
          const process = phase === 1 ? 1 : (i % 2) + 1;
          return {
            handle: p.handle,
            url: processes[process - 1]!.url,
            process,
            cookie: [...p.browser.cookies(origin)].map(([k, v]) => `${k}=${v}`).join('; '),
            csrf: await p.client.token(),
          } satisfies Person;
        }),
      ),
    };
    const child = fork(path.join(projectRoot, 'bench', 'load-people.ts'), { execArgv: ['--import', 'tsx'] });
    return new Promise((resolve, reject) => {
      child.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'ready') child.send(plan);
        if (m.type === 'connected') log(`phase ${phase}: ${PEOPLE} sockets connected, ${SECONDS} s of load`);
        if (m.type === 'report')
          resolve({ ...(m as unknown as Report), generatorCpu: cpuSeconds(child.pid) });
        if (m.type === 'error') reject(new Error(m.message));
      });
      child.on('exit', (code) => code && reject(new Error(`load generator exited with ${code}`)));
    });
  }

  /** The writes the people were told were done, against the database: missing ones, and ones not asked for. */
  async function countWrites(db: Db, phase: number, report: Report) {
    const { threads } = groups[phase]!;
    const threadIds = threads.map((t) => new ObjectId(t));
    const stored = await db
      .collection('replies')
      .find({ threadId: { $in: threadIds } }, { projection: { _id: 1, likeCount: 1 } })
      .toArray();
    const storedIds = new Set(stored.map((r) => r._id.toHexString()));
    const answered = new Set(report.replies.map((r) => r.id));
    const lostReplies = [...answered].filter((id) => !storedIds.has(id)).length;
    const unaskedReplies = [...storedIds].filter((id) => !answered.has(id)).length;
    // A person's like of a reply counts once, however often it was asked for.
    const expectedLikes = new Map<string, Set<string>>();
    for (const l of report.likes)
      (expectedLikes.get(l.id) ?? expectedLikes.set(l.id, new Set()).get(l.id)!).add(l.handle);
    const mismatched = (docs: typeof stored) =>
      docs.filter((r) => (r.likeCount as number) !== (expectedLikes.get(r._id.toHexString())?.size ?? 0))
        .length;
    // A post's like count is written from its like records after the like is answered (ADR 0035): counts
    // still off are read again for a while, until they settle.
    let likeMismatches = mismatched(stored);
    for (let waited = 0; likeMismatches && waited < 30; waited++) {
      await new Promise((r) => setTimeout(r, 1000));
      likeMismatches = mismatched(
        await db
          .collection('replies')
          .find({ threadId: { $in: threadIds } }, { projection: { _id: 1, likeCount: 1 } })
          .toArray(),
      );
    }
    const threadDocs = await db
      .collection('threads')
      .find({ _id: { $in: threadIds } })
      .toArray();
    const perThread = new Map<string, number>();
    for (const r of report.replies) perThread.set(r.threadId, (perThread.get(r.threadId) ?? 0) + 1);
    // The count people see: positions taken, less those whose reply was never written (thread.repository.ts).
    const replyCountMismatches = threadDocs.filter(
      (t) =>
        t.replyCount - ((t.lostReplies as number[] | undefined)?.length ?? 0) !==
        (perThread.get(t._id.toHexString()) ?? 0),
    ).length;
    return {
      replies: answered.size,
      likes: [...expectedLikes.values()].reduce((n, s) => n + s.size, 0),
      lostReplies,
      unaskedReplies,
      likeMismatches,
      replyCountMismatches,
    };
  }

  interface PhaseResult {
    phase: number;
    report: Report;
    writes: Awaited<ReturnType<typeof countWrites>>;
    actionsPerSecond: number;
    fiveHundreds: number;
    failures: number;
    events: { expected: number; delivered: number; crossProcess: number };
    /** Cores each part kept busy on average over the phase (CPU seconds / wall seconds). */
    cores: Record<string, number | null>;
  }

  const results: PhaseResult[] = [];
  for (const phase of PHASES) {
    if (phase === 2 && processes.length < 2) {
      processes.push(await startNodeProcess({ port: ports[1]!, env: env(1), ...logFile(1) }));
      log(`node process 2 at ${processes[1]!.url}`);
    }
    const parts = (): Record<string, number | null> => ({
      ...Object.fromEntries(processes.map((p, i) => [`node process ${i + 1}`, cpuSeconds(p.child.pid)])),
      FerretDB: cpuSeconds(databasePid),
      Redis: cpuSeconds(redis.pid),
    });
    const before = parts();
    const started = performance.now();
    const report = await drive(phase);
    const wall = (performance.now() - started) / 1000;
    const after = parts();
    const cores = Object.fromEntries(
      [...Object.entries(after), ['load generator', report.generatorCpu] as const].map(([k, v]) => [
        k,
        v === null ? null : Math.round(((v - (before[k] ?? 0)) / wall) * 100) / 100,
      ]),
    );
    const all = Object.values(report.actions);
    const done = all.reduce(
      (n, a) =>
        n +
        Object.entries(a.statuses)
          .filter(([s]) => /^2/.test(s))
          .reduce((m, [, c]) => m + c, 0),
      0,
    );
    const fiveHundreds = all.reduce(
      (n, a) =>
        n +
        Object.entries(a.statuses)
          .filter(([s]) => /^5/.test(s))
          .reduce((m, [, c]) => m + c, 0),
      0,
    );
    const failures = all.reduce(
      (n, a) =>
        n +
        Object.entries(a.statuses)
          .filter(([s]) => !/^[23]/.test(s))
          .reduce((m, [, c]) => m + c, 0),
      0,
    );
    const byProcess = new Map(report.replies.map((r) => [r.id, r.process]));
    let delivered = 0;
    let crossProcess = 0;
    for (const [id, counts] of Object.entries(report.events)) {
      delivered += counts.reduce((a, b) => a + b, 0);
      const from = byProcess.get(id);
      if (from) crossProcess += counts.filter((_, p) => p !== 0 && p !== from).reduce((a, b) => a + b, 0);
    }
    const writes = await countWrites(db, phase, report);
    results.push({
      phase,
      report,
      writes,
      actionsPerSecond: Math.round((done / SECONDS) * 10) / 10,
      fiveHundreds,
      failures,
      events: { expected: report.replies.length * PEOPLE, delivered, crossProcess },
      cores,
    });
    log(`phase ${phase}: ${done} actions done, ${fiveHundreds} 5xx, writes ${JSON.stringify(writes)}`);
  }
  await cleanUp();

  const cpu = os.cpus();
  const rows = results.flatMap((r) =>
    (Object.entries(r.report.actions) as [Action, Report['actions'][Action]][]).map(([action, a]) => {
      const statuses = Object.entries(a.statuses)
        .sort()
        .map(([s, c]) => `${s}: ${c}`)
        .join(', ');
      return `| ${r.phase === 1 ? 'one process' : 'two processes + Redis'} | ${action} | ${a.ms.length} | ${Math.round(percentile(a.ms, 50))} | ${Math.round(percentile(a.ms, 99))} | ${statuses} |`;
    }),
  );
  const one = results.find((r) => r.phase === 1);
  const two = results.find((r) => r.phase === 2);
  const summary = results.map(
    (r) =>
      `| ${r.phase === 1 ? 'one process' : 'two processes + Redis'} | ${r.actionsPerSecond} | ${r.fiveHundreds} | ${r.failures} | ${r.writes.replies} / ${r.writes.lostReplies} / ${r.writes.unaskedReplies} | ${r.writes.likes} / ${r.writes.likeMismatches} | ${r.writes.replyCountMismatches} | ${r.events.delivered} of ${r.events.expected} (${r.events.expected ? Math.round((r.events.delivered / r.events.expected) * 1000) / 10 : 0} %) | ${r.events.crossProcess} | ${r.report.socketDrops} |`,
  );
  const markdown = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, FerretDB 1.24.2 (embedded, SQLite), Redis ${'7'}: ${PEOPLE} people, ${SECONDS} s per phase, think time ${THINK_MS} ms on average (0–${2 * THINK_MS} ms), load generator in its own process, everything on this one machine.`,
    '',
    '| setup | actions/s done | 5xx | other failures | replies answered / lost / not asked for | likes / mismatched counts | thread reply counts off | reply events delivered to sockets | of them across processes | socket drops |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...summary,
    '',
    '| setup | action | count | p50 (ms) | p99 (ms) | answers |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...results.map(
      (r) =>
        `- cores kept busy (${r.phase === 1 ? 'one process' : 'two processes'}): ${Object.entries(r.cores)
          .map(([k, v]) => `${k} ${v ?? 'n/a'}`)
          .join(', ')}; the machine's load average at the end: ${os.loadavg()[0]!.toFixed(1)}`,
    ),
    ...results.flatMap((r) =>
      Object.entries(r.report.problems).map(
        ([detail, count]) =>
          `- 5xx (${r.phase === 1 ? 'one process' : 'two processes'}): ${count} × ${detail}`,
      ),
    ),
    '',
    one && two
      ? `Two processes did ${Math.round((two.actionsPerSecond / Math.max(one.actionsPerSecond, 0.1)) * 100) / 100}× the actions of one (goal: 1.6×).`
      : '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  if (process.env.BENCH_WRITE !== 'false') await writeSection('load', markdown);
  const lost = results.some(
    (r) =>
      r.writes.lostReplies ||
      r.writes.unaskedReplies ||
      r.writes.likeMismatches ||
      r.writes.replyCountMismatches,
  );
  return lost || results.some((r) => r.fiveHundreds) ? 1 : 0;
}

const code = await main().catch(async (err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
});
await cleanUp();
process.exit(code);
