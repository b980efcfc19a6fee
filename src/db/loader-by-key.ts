import DataLoader from 'dataloader';

/**
 * A per-request loader of rows by one unique key (an id, a name): one statement for every key
 * asked for in the same tick, `null` for a key no row has. `load` reads the rows of `keys`;
 * `keyOf` says which key a row answers.
 */
export function loaderByKey<R>(
  load: (keys: string[]) => Promise<R[]>,
  keyOf: (row: R) => string,
): DataLoader<string, R | null> {
  return new DataLoader<string, R | null>(async (keys) => {
    const found = new Map((await load([...keys])).map((row) => [keyOf(row), row]));
    return keys.map((key) => found.get(key) ?? null);
  });
}
