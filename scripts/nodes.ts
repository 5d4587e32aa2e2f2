/**
 * Start several Ensemble nodes on this machine, one per demo department, each on its own loopback address
 * with its own database and development identity provider (server/ops/launcher.ts), and print each node's
 * address and the demo people who sign in on it. Ctrl-C stops them. README.md, "Try two departments on one
 * machine", walks through it, and tests/federation/two-departments.test.ts follows that walkthrough
 * against this command's own output, so the two cannot drift apart.
 *
 *   npm run nodes                                  two nodes: digital-services, natural-resources
 *   npm run nodes -- --departments digital-services,natural-resources,environment
 *   npm run nodes -- --data data/nodes --port 3000 --env test
 *
 * Data is kept in `--data` (default data/nodes/<name>), so a second run finds what the first made, at the
 * same addresses (port 3000 on each node's own address the first time, when it is free).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoCast, demoDepartmentSlugs } from '../server/auth/demo.cast.js';
import { projectRoot } from '../server/core/paths.js';
import { launchNodes } from '../server/ops/launcher.js';

const { values } = parseArgs({
  options: {
    departments: { type: 'string', default: 'digital-services,natural-resources' },
    data: { type: 'string', default: path.join(projectRoot, 'data', 'nodes') },
    port: { type: 'string' },
    env: { type: 'string', default: 'development' },
    // Warnings and errors only, so that the addresses printed at the end stay in view.
    'log-level': { type: 'string', default: 'warn' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run nodes -- [--departments a,b,c] [--data folder] [--port n] [--env development|test]\n' +
      `Departments: ${demoDepartmentSlugs.join(', ')}\n`,
  );
  process.exit(0);
}

const departments = values.departments.split(',').filter(Boolean);
for (const d of departments)
  if (!(demoDepartmentSlugs as readonly string[]).includes(d)) {
    process.stderr.write(`Unknown department ${d}; known: ${demoDepartmentSlugs.join(', ')}\n`);
    process.exit(64);
  }
if (values.env !== 'development' && values.env !== 'test') {
  process.stderr.write('--env is development or test\n');
  process.exit(64);
}

const letters = 'abcdefghij';
const launched = await launchNodes({
  nodes: departments.map((department, i) => ({
    name: letters[i]!,
    department,
    ...(values.port ? { port: Number(values.port) } : {}),
  })),
  dataRoot: path.resolve(projectRoot, values.data),
  preferredPort: 3000,
  nodeEnv: values.env,
  logLevel: values['log-level'],
});

// The summary a person reads (and tests/federation/two-departments.test.ts parses): one block per node.
const lines = [
  '',
  `Ensemble: ${launched.nodes.length} departments running on this machine (Ctrl-C stops them)`,
  '',
];
for (const node of launched.nodes) {
  const cast = demoCast(node.department);
  const name = cast.departments[0]?.name.en ?? 'every demo department';
  lines.push(`  ${node.name.toUpperCase()}  ${node.url}  ${name}`);
  const people = cast.people.map((p, i) => `${p.sub} (${p.name}${i === 0 ? ', administrator' : ''})`);
  lines.push(`     sign in as: ${people.join(', ')}`);
}
lines.push(
  '',
  'Open an address, choose Sign in, then a demo person (development identity provider: no password).',
  'Walkthrough: README.md, "Try two departments on one machine".',
  '',
);
process.stdout.write(lines.join('\n') + '\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('stopping...\n');
  void launched.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
