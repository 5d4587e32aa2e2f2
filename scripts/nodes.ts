/**
 * Start several Ensemble nodes on this machine, one per demo department, each on its own loopback address
 * with its own database and development identity provider (server/ops/launcher.ts). Ctrl-C stops them.
 *
 *   npm run nodes                                  two nodes: digital-services, natural-resources
 *   npm run nodes -- --departments digital-services,natural-resources,environment
 *   npm run nodes -- --data data/nodes --port 3000 --env test
 *
 * Data is kept in `--data` (default data/nodes/<name>), so a second run finds what the first made.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoDepartmentSlugs } from '../server/auth/demo.cast.js';
import { projectRoot } from '../server/core/paths.js';
import { launchNodes } from '../server/ops/launcher.js';

const { values } = parseArgs({
  options: {
    departments: { type: 'string', default: 'digital-services,natural-resources' },
    data: { type: 'string', default: path.join(projectRoot, 'data', 'nodes') },
    port: { type: 'string' },
    env: { type: 'string', default: 'development' },
    'log-level': { type: 'string', default: 'info' },
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
  nodeEnv: values.env,
  logLevel: values['log-level'],
});

process.stdout.write('\nEnsemble nodes running (Ctrl-C stops them):\n');
for (const node of launched.nodes)
  process.stdout.write(`  ${node.name}  ${node.url}  ${node.department ?? ''}  sign in: ${node.url}/\n`);
process.stdout.write('\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('stopping...\n');
  void launched.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
