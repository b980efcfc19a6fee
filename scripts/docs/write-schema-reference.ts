// Writes docs/reference/schema.md from schema/*.graphql: `npm run docs:schema`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { renderSchemaReference, SCHEMA_REFERENCE_PATH } from './schema-reference.js';

writeFileSync(join(packageRoot(), SCHEMA_REFERENCE_PATH), renderSchemaReference());
console.log(`wrote ${SCHEMA_REFERENCE_PATH}`);
