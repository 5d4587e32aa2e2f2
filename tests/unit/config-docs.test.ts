import fs from 'node:fs';
import path from 'node:path';
import { configVariables } from '../../server/config.js';
import { projectRoot } from '../../server/core/paths.js';

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

describe('configuration documentation', () => {
  it.each(configVariables)('%s is documented in docs/configuration.md and listed in .env.example', (name) => {
    expect(read('docs/configuration.md')).toContain(`\`${name}\``);
    expect(read('.env.example')).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });
});
