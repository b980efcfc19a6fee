import type { RunningService } from './running-service.js';

/**
 * A process entry point: reads `names` from the environment (exit 2, naming what is missing),
 * starts the service, prints `<title> listening on <url>` and stops it on SIGINT or SIGTERM.
 */
export async function runService<TName extends string>(
  title: string,
  names: readonly TName[],
  start: (env: Record<TName, string>) => Promise<RunningService>,
): Promise<void> {
  const env = {} as Record<TName, string>;
  const missing = names.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    console.error(`${title}: set ${missing.join(', ')} in the environment.`);
    process.exit(2);
  }
  for (const name of names) env[name] = process.env[name] as string;
  const service = await start(env);
  console.log(`${title} listening on ${service.url}`);
  const stop = () => {
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`${title} did not stop cleanly:`, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
