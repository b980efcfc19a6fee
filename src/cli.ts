#!/usr/bin/env node
import { runCommand } from './lint/run-lint-command.js';

process.exitCode = runCommand(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
