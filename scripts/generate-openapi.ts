// Writes docs/api/openapi.json from the route definitions (the same document the server serves at
// /api/v1/openapi.json). A test fails when the committed copy is out of date: run `npm run docs:openapi`.
import fs from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument } from '../server/openapi.js';
import { projectRoot } from '../server/core/paths.js';

const file = path.join(projectRoot, 'docs', 'api', 'openapi.json');
fs.writeFileSync(file, `${JSON.stringify(await buildOpenApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${path.relative(projectRoot, file)}\n`);
