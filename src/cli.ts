#!/usr/bin/env node
import { processOutput } from './cli/output.js';
import { runCli } from './cli/run-cli.js';

// A reader that stops early (`keyholder audit tail -f | head -1`) ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await runCli(process.argv.slice(2), processOutput);
if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = code;
