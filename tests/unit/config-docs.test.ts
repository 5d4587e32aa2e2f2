import fs from 'node:fs';
import path from 'node:path';
import { configVariables, loadConfig } from '../../server/config.js';
import { projectRoot } from '../../server/core/paths.js';

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

describe('configuration documentation', () => {
  it.each(configVariables)('%s is documented in docs/configuration.md and listed in .env.example', (name) => {
    expect(read('docs/configuration.md')).toContain(`\`${name}\``);
    expect(read('.env.example')).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });
});

describe('.env.example', () => {
  // `# NAME=value`: a department that uncomments a line as it stands changes nothing.
  const shown = [...read('.env.example').matchAll(/^# ([A-Z][A-Z0-9_]*)=(.+)$/gm)].map((m) => [m[1]!, m[2]!]);

  it.each(shown)('shows the default of %s (%s)', (name, value) => {
    expect(loadConfig({ [name]: value })).toEqual(loadConfig({}));
  });
});
