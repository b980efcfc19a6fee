import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../../src/db/client.js';
import { type RunResult, Scheduler } from '../../../src/workers/scheduler.js';
import { expectEventually } from '../../fixtures/eventually.js';

/** A job body whose runs the spec controls: each run waits until the spec releases it. */
class Gate {
  runs = 0;
  #release: (() => void) | null = null;

  async run(result: RunResult = undefined): Promise<RunResult> {
    this.runs += 1;
    await new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    return result;
  }

  release(): void {
    this.#release?.();
    this.#release = null;
  }

  get waiting(): boolean {
    return this.#release !== null;
  }
}

describe('Scheduler', () => {
  let database: Database;
  const logs: string[] = [];
  let scheduler: Scheduler;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://' });
    return () => database.close();
  });

  afterEach(async () => {
    await scheduler?.stop();
    logs.splice(0);
  });

  const start = async (...definitions: Parameters<Scheduler['add']>[0][]) => {
    scheduler = new Scheduler(database, (message) => logs.push(message));
    const jobs = definitions.map((d) => scheduler.add(d));
    await scheduler.start();
    return jobs;
  };

  it('should run a job at start and again after its interval', async () => {
    let runs = 0;
    await start({
      name: 'tick',
      intervalMs: 20,
      run: async () => {
        runs += 1;
        return undefined;
      },
    });

    await expectEventually(
      async () => runs,
      (n) => n >= 3,
      'three runs',
    );
  });

  it('should wake a job when its channel is notified, with the delay the payload gives', async () => {
    const payloads: string[] = [];
    let runs = 0;
    await start({
      name: 'listener',
      intervalMs: null,
      firstRunMs: null,
      run: async () => {
        runs += 1;
        return undefined;
      },
      wakeOn: {
        channel: 'scheduler_spec',
        delayOf: (payload) => {
          payloads.push(payload);
          return payload === 'ignore' ? null : 0;
        },
      },
    });

    await database.query(`select pg_notify('scheduler_spec', 'ignore')`);
    await expectEventually(
      async () => payloads.length,
      (n) => n === 1,
      'the ignored notification',
    );
    expect(runs).toBe(0);
    await database.query(`select pg_notify('scheduler_spec', 'now')`);

    await expectEventually(
      async () => runs,
      (n) => n === 1,
      'a run woken by NOTIFY',
    );
  });

  it('should back off after failures, logging the first until it recovers, and the recovery', async () => {
    let attempts = 0;
    await start({
      name: 'flaky',
      intervalMs: null,
      retryBaseMs: 10,
      retryMaxMs: 20,
      failure: 'Could not do the flaky thing',
      recovery: 'The flaky thing recovered',
      run: async () => {
        attempts += 1;
        if (attempts <= 2) throw new Error('database unavailable');
        return undefined;
      },
    });

    await expectEventually(
      async () => logs.filter((m) => m.startsWith('The flaky thing recovered')).length,
      (n) => n === 1,
      'the recovery message',
    );
    expect(attempts).toBe(3);
    expect(logs.filter((m) => m.startsWith('Could not do the flaky thing'))).toEqual([
      expect.stringContaining('trying again in'),
    ]);
    expect(scheduler.job('flaky')?.status().failingSince).toBeNull();
  });

  it('should look again after busyRetryMs when another instance holds the job', async () => {
    let runs = 0;
    await start({
      name: 'busy',
      intervalMs: 60_000,
      busyRetryMs: 10,
      run: async () => {
        runs += 1;
        return runs < 3 ? 'busy' : undefined;
      },
    });

    await expectEventually(
      async () => runs,
      (n) => n === 3,
      'a run after two busy ones',
    );
  });

  it('should run once more after a run when woken during it, and only once', async () => {
    const gate = new Gate();
    const [job] = await start({ name: 'gated', intervalMs: null, run: () => gate.run() });
    await expectEventually(async () => gate.waiting, Boolean, 'the first run');

    job?.wake();
    job?.wake();
    gate.release();
    await expectEventually(async () => gate.waiting, Boolean, 'the second run');
    gate.release();
    await expectEventually(
      async () => job?.status().runs,
      (n) => n === 2,
      'the second run to finish',
    );

    expect(gate.runs).toBe(2);
    expect(job?.status().nextRunAt).toBeNull();
  });

  it('should let an earlier wake replace a later one, never the reverse', async () => {
    let runs = 0;
    const [job] = await start({
      name: 'wakes',
      intervalMs: null,
      firstRunMs: null,
      run: async () => {
        runs += 1;
        return undefined;
      },
    });

    job?.wake(60_000);
    const late = job?.status().nextRunAt?.getTime() ?? 0;
    job?.wake(120_000);
    expect(job?.status().nextRunAt?.getTime()).toBe(late);
    job?.wake(0);

    await expectEventually(
      async () => runs,
      (n) => n === 1,
      'the earlier run',
    );
  });

  it('should make runOnce wait for the run in progress, then run', async () => {
    const gate = new Gate();
    const [job] = await start({ name: 'once', intervalMs: null, run: () => gate.run() });
    await expectEventually(async () => gate.waiting, Boolean, 'the first run');

    const once = job?.runOnce();
    gate.release();
    await expectEventually(async () => gate.waiting, Boolean, 'the run asked for');
    gate.release();
    await once;

    expect(gate.runs).toBe(2);
  });

  it('should wait for the run in progress on stop, abort its signal, and run nothing after', async () => {
    let signal: AbortSignal | null = null;
    const gate = new Gate();
    await start({
      name: 'stopping',
      intervalMs: 10,
      run: (job) => {
        signal = job.signal;
        return gate.run();
      },
    });
    await expectEventually(async () => gate.waiting, Boolean, 'the first run');

    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    expect((signal as AbortSignal | null)?.aborted).toBe(true);
    gate.release();
    await stopping;

    expect(gate.runs).toBe(1);
  });
});
