/**
 * What a condition adds to one decision, in one process, against the same decision through an
 * unconditional grant measured alongside it.
 *
 * Each iteration is one operation's decision as the server makes it: a fresh `GrantConditions`
 * (the per-operation gate), the request's context built on first need, then
 * `GrantSet.covering(scope, null, now)`, whose gate evaluates the grant's compiled condition.
 * The unconditional variant runs the same steps with a grant that carries none (the gate answers
 * at once). The difference of the medians is what a condition costs per decision: measured for
 * the first decision of an operation (which builds the request's context) and for each further
 * decision (another resource in the same operation: the gate remembers each grant's outcome for the
 * operation, and evaluates again per resource only conditions that read `resource`).
 *
 * Run with `npm run build && npm run bench:conditions` (options: `--rounds N`, `--iterations N`).
 */
import { performance } from 'node:perf_hooks';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { compileCondition } from 'keyholder-directive/conditions/compile-condition.js';
import { conditionContextOf } from 'keyholder-directive/conditions/condition-context-of.js';
import { GrantConditions } from 'keyholder-directive/conditions/grant-conditions.js';
import { UsageWindows } from 'keyholder-directive/conditions/usage-windows.js';

interface BenchGrant {
  readonly id: string;
  readonly scope: string;
  readonly resource: null;
  readonly expiresAt: null;
  readonly condition: string | null;
}

/** The README's five conditions, then all five at once. */
const CONDITIONS: readonly [string, string][] = [
  ['office network', 'cidr(request.ip, ["10.0.0.0/8", "192.168.0.0/16"])'],
  [
    'working hours',
    'request.weekday >= 1 && request.weekday <= 5 && request.hour >= 9 && request.hour < 18',
  ],
  ['managed device', 'device.managed == true && device.os in ["macos", "windows"]'],
  ['rate limit', 'usage.lastMinute < 60 && usage.lastHour < 1000'],
  ['MFA in SSO token', '"mfa" in token.claims.amr'],
];
const ALL = CONDITIONS.map(([, text]) => `(${text})`).join(' && ');

const SCOPE = 'payroll:read';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The grant every variant decides on, under `condition`. */
function benchGrant(condition: string | null): BenchGrant {
  return { id: 'grant-1', scope: SCOPE, resource: null, expiresAt: null, condition };
}

/** The request every decision is for: an office address at 10:00 UTC, a managed Mac, MFA. */
function benchContext() {
  return conditionContextOf({
    ip: '10.1.2.3',
    time: new Date(Date.UTC(2026, 10, 25, 10)),
    device: { managed: true, os: 'macos' },
    token: { claims: { amr: ['pwd', 'mfa'] } },
  });
}

/** Microseconds per decision over `iterations` decisions, each a fresh operation. */
function timeDecisions(condition: string | null, iterations: number, usage: UsageWindows): number {
  const grant = benchGrant(condition);
  const other: BenchGrant = { ...grant, id: 'grant-0', scope: 'orders:read', condition: null };
  const list = [other, grant];
  let allowed = 0;
  let gate: GrantConditions<BenchGrant> | undefined;
  const started = performance.now();
  for (let i = 0; i < iterations; i += 1) {
    gate = new GrantConditions<BenchGrant>(() => undefined, benchContext, usage);
    const set = new GrantSet<BenchGrant>(list, gate);
    if (set.covering(SCOPE, 'order-0', 1) !== null) allowed += 1;
  }
  const took = performance.now() - started;
  if (allowed !== iterations) {
    const why = gate?.refusals([SCOPE], 'order-0').map((o) => o.error ?? o.result);
    throw new Error(
      `Expected every decision to allow; ${allowed} of ${iterations} did (${String(why)}).`,
    );
  }
  return (took * 1000) / iterations;
}

/**
 * Microseconds per decision when the operation's context already exists: one gate, `iterations`
 * decisions on distinct resources (each evaluated afresh; the gate remembers per resource).
 */
function timeFurtherDecisions(
  condition: string | null,
  iterations: number,
  usage: UsageWindows,
): number {
  const grant = benchGrant(condition);
  const resources = Array.from({ length: iterations }, (_, i) => `order-${i}`);
  const context = benchContext();
  const gate = new GrantConditions<BenchGrant>(
    () => undefined,
    () => context,
    usage,
  );
  const set = new GrantSet<BenchGrant>([grant], gate);
  let allowed = 0;
  const started = performance.now();
  for (const resource of resources) if (set.covering(SCOPE, resource, 1) !== null) allowed += 1;
  const took = performance.now() - started;
  if (allowed !== iterations) throw new Error(`Expected every decision to allow; ${allowed} did.`);
  return (took * 1000) / iterations;
}

function main(): void {
  const rounds = option('rounds', 15);
  const iterations = option('iterations', 20_000);
  const usage = new UsageWindows();
  for (const [, text] of CONDITIONS) compileCondition(text, 'grant');
  compileCondition(ALL, 'grant');
  compileCondition('resource.startsWith("order-")', 'grant');
  const variants: [string, string | null][] = [
    ['no condition (baseline)', null],
    ...CONDITIONS.map(([label, text]): [string, string] => [label, text]),
    ['all five together', ALL],
    // The one kind a further decision evaluates again: it reads the resource decided on.
    ['resource prefix', 'resource.startsWith("order-")'],
  ];
  const first = new Map<string, number[]>(variants.map(([label]) => [label, []]));
  const further = new Map<string, number[]>(variants.map(([label]) => [label, []]));
  for (const [, condition] of variants) {
    timeDecisions(condition, iterations, usage);
    timeFurtherDecisions(condition, iterations, usage);
  }
  for (let round = 0; round < rounds; round += 1) {
    // Rotate the order each round so drift on a shared machine hits every variant alike.
    for (let k = 0; k < variants.length; k += 1) {
      const [label, condition] = variants[(round + k) % variants.length] as [string, string | null];
      first.get(label)?.push(timeDecisions(condition, iterations, usage));
      further.get(label)?.push(timeFurtherDecisions(condition, iterations, usage));
    }
  }
  console.log(
    `node ${process.version}; ${rounds} rounds x ${iterations} decisions per variant and kind, order rotated each round`,
  );
  const worst = { first: 0, further: 0 };
  const kinds = [
    ['first', 'First decision of an operation (builds the request context once)', first],
    [
      'further',
      'Each further decision of the operation, on another resource (remembered per grant; evaluated again only when the condition reads resource)',
      further,
    ],
  ] as const;
  for (const [key, title, samples] of kinds) {
    const baseline = median(samples.get('no condition (baseline)') ?? []);
    console.log(`\n${title}`);
    console.log('variant                       median µs/decision   added µs   x baseline');
    for (const [label] of variants) {
      const value = median(samples.get(label) ?? []);
      console.log(
        `${label.padEnd(30)}${value.toFixed(3).padStart(12)}${(value - baseline).toFixed(3).padStart(18)}${`${(value / baseline).toFixed(2)}x`.padStart(13)}`,
      );
      if (label !== 'no condition (baseline)') worst[key] = Math.max(worst[key], value - baseline);
    }
  }
  console.log(
    `\nTarget: evaluation adds < 5 µs per decision. Worst added: ${worst.further.toFixed(3)} µs per further decision, ${worst.first.toFixed(3)} µs for an operation's first (context included).`,
  );
}

main();
