// Writes docs/reference/cli.md from the commands under src/cli/: `npm run docs:cli`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { CLI_REFERENCE_PATH, renderCliReference } from './cli-reference.js';

writeFileSync(join(packageRoot(), CLI_REFERENCE_PATH), renderCliReference());
console.log(`wrote ${CLI_REFERENCE_PATH}`);
