/**
 * Where a `.cpuprofile` (written by `node --cpu-prof`) spent its time: self time by function and
 * by file, the top `TOP` (default 25) of each, as a share of all samples.
 * Usage: node dist/scripts/bench/cpu-profile-summary.js <file.cpuprofile> [TOP]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, top = '25'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: cpu-profile-summary <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

/** A file's short name: the package under node_modules, else the path from `dist/`. */
function fileOf(url: string): string {
  if (url === '') return '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    const name = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    return `${name}/…/${rest.at(-1)}`;
  }
  const dist = url.indexOf('/dist/');
  return dist === -1 ? url.replace('file://', '') : url.slice(dist + 1);
}

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const frame = (byId.get(id) as ProfileNode).callFrame;
  const where = fileOf(frame.url);
  const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byFile.set(where, (byFile.get(where) ?? 0) + us);
  total += us;
}

const print = (title: string, table: Map<string, number>) => {
  console.log(`\n${title} (self time, ${(total / 1e6).toFixed(2)} s sampled)`);
  const rows = [...table].sort((a, b) => b[1] - a[1]).slice(0, Number(top));
  for (const [name, us] of rows) {
    console.log(
      `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
  }
};
print('By function', byFunction);
print('By file', byFile);
