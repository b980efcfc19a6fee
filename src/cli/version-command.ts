import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { packageRoot } from '../package-root.js';
import type { CommandRuntime } from './runtime.js';

/** The installed package's version, from its package.json. */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** `version`: the CLI's version and the Node.js running it. */
export function registerVersionCommand(program: Command, runtime: CommandRuntime): void {
  program
    .command('version')
    .description("Print keyholder's version")
    .action((_options: unknown, command: Command) => {
      const version = { keyholder: cliVersion(), node: process.versions.node };
      runtime.print(command, version, (v) => `keyholder ${v.keyholder} (Node.js ${v.node})\n`);
    });
}
