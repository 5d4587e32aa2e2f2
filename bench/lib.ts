import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import * as prettier from 'prettier';
import { projectRoot } from '../server/core/paths.js';

export interface LoadResult {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * Load one URL from a separate process (autocannon's CLI), so the load generator does not share the
 * event loop of the server it measures. Loopback only, bounded in time.
 */
export async function load(
  name: string,
  url: string,
  options: { seconds?: number; connections?: number } = {},
): Promise<LoadResult> {
  const cli = path.join(projectRoot, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [
    cli,
    '--json',
    '-c',
    String(options.connections ?? 20),
    '-d',
    String(options.seconds ?? 5),
    url,
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
  const result = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
  };
  return {
    name,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

export function table(rows: LoadResult[]): string {
  const lines = ['| case | requests/s | p50 (ms) | p99 (ms) | errors |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows)
    lines.push(`| ${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} |`);
  return lines.join('\n');
}

/** Replace the section between `<!-- bench:ID -->` markers in docs/performance.md (then format it). */
export async function writeSection(id: string, markdown: string): Promise<void> {
  const file = path.join(projectRoot, 'docs', 'performance.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`docs/performance.md has no ${start} … ${end} section`);
  const updated = `${text.slice(0, from + start.length)}\n${markdown}\n${text.slice(to)}`;
  const options = (await prettier.resolveConfig(file)) ?? {};
  fs.writeFileSync(file, await prettier.format(updated, { ...options, filepath: file }));
}
