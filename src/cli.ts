#!/usr/bin/env node
import { processOutput } from './cli/output.js';
import { runCli } from './cli/run-cli.js';

const code = await runCli(process.argv.slice(2), processOutput);
if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = code;
