// Records the SHA-256 of every migration in drizzle/ not yet in drizzle/landed.sha256 (appends;
// never rewrites a line). Run once when a new migration is added: `npm run db:seal`.
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../drizzle/', import.meta.url).pathname;
const manifest = join(dir, 'landed.sha256');
const sealed = new Set(
  readFileSync(manifest, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(/\s+/)[1]),
);
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.sql'))
  .sort()) {
  if (sealed.has(file)) continue;
  const hash = createHash('sha256')
    .update(readFileSync(join(dir, file)))
    .digest('hex');
  appendFileSync(manifest, `${hash}  ${file}\n`);
  console.log(`sealed ${file}`);
}
