/**
 * CPU time read from Linux's `/proc`, for benchmarks that report CPU per request: of a server
 * process (`/proc/<pid>/stat`) and of the PostgreSQL backends serving it (their pids from
 * `pg_stat_activity`), sampled before and after a stretch of work.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of `utime` and `stime` in `/proc/<pid>/stat` (100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`; 0 if gone. */
export function cpuSeconds(pid: number): number {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
  } catch {
    return 0;
  }
}

/** CPU seconds a run of `work` cost the process `pid` and the database `backends`. */
export interface CpuSpent<T> {
  readonly result: T;
  readonly serverSeconds: number;
  readonly databaseSeconds: number;
}

/**
 * Runs `work`, reading the CPU of `pid` and of the database backends before and after it. The
 * backends are those `backends()` lists before (pool connections are long-lived) plus any it
 * lists after; a backend that exits during the run loses what it spent (a pool that keeps its
 * connections, as Keyholder's does, loses nothing).
 */
export async function measureCpu<T>(
  pid: number,
  backends: () => Promise<number[]>,
  work: () => Promise<T>,
): Promise<CpuSpent<T>> {
  const pgBefore = await backends();
  const sum = (pids: readonly number[]) => pids.reduce((total, p) => total + cpuSeconds(p), 0);
  const serverBefore = cpuSeconds(pid);
  const databaseBefore = sum(pgBefore);
  const result = await work();
  const serverSeconds = cpuSeconds(pid) - serverBefore;
  const pgAfter = [...new Set([...pgBefore, ...(await backends())])];
  return { result, serverSeconds, databaseSeconds: sum(pgAfter) - databaseBefore };
}
