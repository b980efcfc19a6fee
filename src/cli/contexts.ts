import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';

/** One named place to talk to: a Keyholder URL and the credential (an API key) to use there. */
export interface Context {
  readonly url: string;
  readonly token: string;
  /** The private JWK file proving possession of a DPoP-bound key; absent: a bearer key. */
  readonly dpopKey?: string;
}

/** `config.json`: the named contexts and which one commands use when none is named. */
export interface CliConfig {
  readonly current: string | null;
  readonly contexts: Readonly<Record<string, Context>>;
}

/** Where `keyholder` talks to, and with what, for one command. */
export interface Target extends Context {
  /** The context it came from; null when the environment gave both URL and token. */
  readonly context: string | null;
}

/** The URL used when neither a context nor `KEYHOLDER_URL` gives one. */
export const DEFAULT_URL = 'http://127.0.0.1:4000';

/**
 * `$XDG_CONFIG_HOME/keyholder/config.json`, with `XDG_CONFIG_HOME` defaulting to `~/.config` (the
 * XDG Base Directory specification; an empty or relative value is ignored, as it says).
 */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'keyholder', 'config.json');
}

/** The stored contexts; none when the file does not exist yet. */
export function readCliConfig(path = configPath()): CliConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, contexts: {} };
    throw new CliError(ExitCode.USAGE, `Cannot read the CLI configuration "${path}".`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<CliConfig>;
    return { current: parsed.current ?? null, contexts: parsed.contexts ?? {} };
  } catch {
    throw new CliError(ExitCode.USAGE, `The CLI configuration "${path}" is not valid JSON.`);
  }
}

/**
 * Writes the contexts readable by their owner only: the folder 0700, the file 0600 (written to a
 * temporary file of mode 0600 and renamed, so the credential is never readable by others).
 */
export function writeCliConfig(config: CliConfig, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/**
 * Where a command talks to, and with what:
 * - `--context NAME`: that stored context, whatever the environment says;
 * - otherwise `KEYHOLDER_URL` and `KEYHOLDER_TOKEN`, each over the current context's URL and
 *   token (so the environment alone is enough for scripts and CI);
 * - the URL defaults to `DEFAULT_URL`; no token anywhere is exit 3 (`keyholder login` first).
 */
export function resolveTarget(
  contextName: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Target {
  const config = readCliConfig(configPath(env));
  if (contextName !== undefined) {
    const named = config.contexts[contextName];
    if (named === undefined) {
      throw new CliError(
        ExitCode.USAGE,
        `No context named "${contextName}" (known: ${Object.keys(config.contexts).join(', ') || 'none'}).`,
      );
    }
    return { ...named, context: contextName };
  }
  const current = config.current === null ? undefined : config.contexts[config.current];
  const url = env.KEYHOLDER_URL || current?.url || DEFAULT_URL;
  const token = env.KEYHOLDER_TOKEN || current?.token;
  if (token === undefined || token === '') {
    throw new CliError(
      ExitCode.DENIED,
      'Not logged in: run "keyholder login --token <api key>", or set KEYHOLDER_TOKEN.',
      'UNAUTHENTICATED',
    );
  }
  const fromContext = !env.KEYHOLDER_URL || !env.KEYHOLDER_TOKEN;
  const dpopKey = env.KEYHOLDER_DPOP_KEY || (env.KEYHOLDER_TOKEN ? undefined : current?.dpopKey);
  return {
    url: url.replace(/\/+$/, ''),
    token,
    context: fromContext ? config.current : null,
    ...(dpopKey ? { dpopKey } : {}),
  };
}
