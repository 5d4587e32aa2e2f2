import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../server/core/paths.js';
import { realtimeEvents } from '../../server/realtime/realtime.bridge.js';

describe('docs/realtime.md', () => {
  const doc = fs.readFileSync(path.join(projectRoot, 'docs', 'realtime.md'), 'utf8');
  it.each(realtimeEvents)('documents the %s event with its payload', (event) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${event.replace('.', '\\.')}\``, 'm'));
  });
});
