import type { Command } from 'commander';
import { resolveTarget, type Target } from './contexts.js';
import { DpopSigner } from './dpop-signer.js';
import { usageError } from './exit-codes.js';
import { GraphQLClient } from './graphql-client.js';
import { json, type Output } from './output.js';

/** The options every command takes (declared once, on the program). */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly context?: string;
}

/** What command groups share: where to print, the environment, the API client. */
export interface CommandRuntime {
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  /**
   * A client of the target `--context`, `KEYHOLDER_URL`/`KEYHOLDER_TOKEN` or the current context
   * names; a nested field it may not read is a warning on stderr, the rest is printed.
   */
  client(command: Command): GraphQLClient;
  /** Where `client` talks to, and the context that said so. */
  target(command: Command): Target;
  /** Whether `--json` was given. */
  wantsJson(command: Command): boolean;
  /** Prints `data` as JSON with `--json`, otherwise what `human(data)` makes of it. */
  print<T>(command: Command, data: T, human: (data: T) => string): void;
}

export function createRuntime(out: Output, env: NodeJS.ProcessEnv): CommandRuntime {
  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  return {
    out,
    env,
    client(command) {
      const target = resolveTarget(globals(command).context, env);
      const { dpopKey } = target;
      return new GraphQLClient(
        target.url,
        target.token,
        (error) =>
          out.stderr(`keyholder: warning: ${error.message} (${error.code ?? 'no code'})\n`),
        dpopKey === undefined ? undefined : once(() => DpopSigner.fromFile(dpopKey)),
      );
    },
    target: (command) => resolveTarget(globals(command).context, env),
    wantsJson: (command) => globals(command).json === true,
    print(command, data, human) {
      out.stdout(globals(command).json === true ? json(data) : human(data));
    },
  };
}

/** A whole number for `--first`, `--ttl`…: a usage error otherwise. */
export function integer(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw usageError(`${flag} must be a whole number, not "${value}".`);
    return Number(value);
  };
}

/** One of `choices`, upper-cased (USER, SERVICE…): a usage error otherwise. */
export function oneOf(flag: string, choices: readonly string[]): (value: string) => string {
  return (value) => {
    const upper = value.toUpperCase();
    if (!choices.includes(upper)) {
      throw usageError(`${flag} must be one of ${choices.join(', ')}, not "${value}".`);
    }
    return upper;
  };
}

/** `{ key: value }` without the keys whose value is undefined (GraphQL input objects). */
export function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/** `load`, called at most once (its promise shared). */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}
