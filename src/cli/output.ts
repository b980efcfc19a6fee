/** Where a command prints; tests and the binary give the process's streams. */
export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The process's own streams. */
export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** A cell as people read it: `-` for nothing (blank for ''), lists joined, objects as JSON. */
export function cell(value: unknown): string {
  if (value === '') return '';
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A connection page as the API returns it. */
export interface Page<T> {
  readonly nodes: readonly T[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

/** A line under a table saying how to get the next page, when there is one. */
export function nextPageHint(page: Page<unknown>): string {
  return page.pageInfo.hasNextPage ? `More: --after ${page.pageInfo.endCursor}\n` : '';
}

/** Rows as an aligned table under upper-case headers; `(none)` when there are no rows. */
export function table(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (rows.length === 0) return '(none)\n';
  const texts = rows.map((row) => columns.map((_, i) => cell(row[i])));
  const headers = columns.map((c) => c.toUpperCase());
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...texts.map((row) => row[i]?.length ?? 0)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...texts.map(line)].join('\n')}\n`;
}

/** `key: value` lines, keys aligned, for one object. */
export function fields(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return `${entries.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${cell(value)}`).join('\n')}\n`;
}

/** Pretty-printed JSON with a final newline: what `--json` prints. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
