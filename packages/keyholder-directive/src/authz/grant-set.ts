/**
 * A grant as the decision logic sees it.
 * - `resource` absent or `null`: the grant covers every instance of the scope.
 * - `resource` ending in `*`: it covers every resource id starting with what precedes the `*`.
 * - any other `resource`: it covers that id only.
 * - `expiresAt` (epoch milliseconds, Date or ISO string): the grant covers nothing from that instant.
 */
export interface GrantLike {
  readonly id?: string;
  readonly scope: string;
  readonly resource?: string | null;
  readonly expiresAt?: Date | string | number | null;
}

/**
 * What the enforcement point says about the resource being decided, for conditions: its type and
 * properties (`@requires(properties:)`, AuthZEN's `resource`, `check(resourceType, properties)`).
 */
export interface ResourceFacts {
  readonly type: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/**
 * Decides, per decision, whether a live grant that covers the request may authorize it: the hook
 * conditions (network, time, device, frequency…) plug into. Deny wins: a grant the gate refuses
 * covers nothing for that resource, and the next candidate is tried.
 */
export interface GrantGate<G extends GrantLike> {
  /**
   * Whether `grant` may authorize for `resource` (`null`: every instance), described by `facts`
   * when the decision has them. Must not throw.
   */
  admits(grant: G, resource: string | null, facts?: ResourceFacts): boolean;
  /**
   * Why grants of `scopes` were refused for `resource`, for the `FORBIDDEN` error: a sentence and
   * details for `extensions.conditions`; `null` when no grant of them was refused.
   */
  explain?(
    scopes: readonly string[],
    resource: string | null,
  ): { readonly sentence: string; readonly details: readonly unknown[] } | null;
}

interface ScopeEntry<G> {
  global: G[];
  exact: Map<string, G[]>;
  prefixes: { prefix: string; grant: G }[];
}

function expiryMillis(value: GrantLike['expiresAt']): number {
  if (value === null || value === undefined) return Number.POSITIVE_INFINITY;
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime();
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? Number.NEGATIVE_INFINITY : parsed;
}

/** The index of one list of grants: by scope, then global, exact resource, or prefix. */
interface GrantIndex<G> {
  readonly byScope: ReadonlyMap<string, ScopeEntry<G>>;
  readonly expiry: ReadonlyMap<G, number>;
  readonly size: number;
}

function buildIndex<G extends GrantLike>(grants: Iterable<G>): GrantIndex<G> {
  const byScope = new Map<string, ScopeEntry<G>>();
  const expiry = new Map<G, number>();
  let size = 0;
  for (const grant of grants) {
    size += 1;
    let entry = byScope.get(grant.scope);
    if (entry === undefined) {
      entry = { global: [], exact: new Map(), prefixes: [] };
      byScope.set(grant.scope, entry);
    }
    expiry.set(grant, expiryMillis(grant.expiresAt));
    const resource = grant.resource ?? null;
    if (resource === null || resource === '*') {
      entry.global.push(grant);
    } else if (resource.endsWith('*')) {
      entry.prefixes.push({ prefix: resource.slice(0, -1), grant });
    } else {
      const list = entry.exact.get(resource);
      if (list === undefined) entry.exact.set(resource, [grant]);
      else list.push(grant);
    }
  }
  return { byScope, expiry, size };
}

/**
 * Indexes of frozen grant lists, built on first use and shared by every `GrantSet` over the same
 * list: a cached authentication's grants are indexed once, not once per request. Only a frozen
 * array is kept (it cannot change under its index); the entry goes with the array.
 */
const sharedIndexes = new WeakMap<readonly GrantLike[], GrantIndex<GrantLike>>();

function indexOf<G extends GrantLike>(grants: Iterable<G>): GrantIndex<G> {
  if (!Array.isArray(grants) || !Object.isFrozen(grants)) return buildIndex(grants);
  const list = grants as readonly G[];
  const known = sharedIndexes.get(list) as GrantIndex<G> | undefined;
  if (known !== undefined) return known;
  const built = buildIndex(list);
  sharedIndexes.set(list, built as GrantIndex<GrantLike>);
  return built;
}

/**
 * One caller's grants as a decision reads them: an index (shared while the grant list is the same
 * frozen array, see `sharedIndexes`) and the gate of the operation or decision at hand. Expiry is
 * compared with the time given to each lookup, so a grant stops covering at its `expiresAt`
 * whatever index holds it, even inside a long operation.
 */
export class GrantSet<G extends GrantLike = GrantLike> {
  readonly #byScope: ReadonlyMap<string, ScopeEntry<G>>;
  readonly #expiry: ReadonlyMap<G, number>;
  readonly size: number;
  /** The gate every covering grant must pass, when conditions apply. */
  readonly gate: GrantGate<G> | undefined;

  constructor(grants: Iterable<G>, gate?: GrantGate<G>) {
    this.gate = gate;
    const index = indexOf(grants);
    this.#byScope = index.byScope;
    this.#expiry = index.expiry;
    this.size = index.size;
  }

  /**
   * The live grant of `scope` that covers `resource` and passes the gate, or `null`.
   * - `resource` null: only a grant covering every instance qualifies.
   * - otherwise a global grant is preferred, then an exact one, then the longest prefix.
   */
  covering(scope: string, resource: string | null, now: number, facts?: ResourceFacts): G | null {
    const entry = this.#byScope.get(scope);
    if (entry === undefined) return null;
    const global = this.#firstUsable(entry.global, now, resource, facts);
    if (global !== null || resource === null) return global;
    const exact = entry.exact.get(resource);
    if (exact !== undefined) {
      const usable = this.#firstUsable(exact, now, resource, facts);
      if (usable !== null) return usable;
    }
    let best: { prefix: string; grant: G } | null = null;
    for (const candidate of entry.prefixes) {
      if (!resource.startsWith(candidate.prefix)) continue;
      if (best !== null && candidate.prefix.length <= best.prefix.length) continue;
      if (!this.#isLive(candidate.grant, now)) continue;
      if (this.gate !== undefined && !this.gate.admits(candidate.grant, resource, facts)) continue;
      best = candidate;
    }
    return best === null ? null : best.grant;
  }

  /**
   * Every live grant of `scope` whose resource pattern covers `resource` (`null`: every instance;
   * `x*`: every id starting with `x`; else one id), gate aside, in the order given: what a
   * delegation, revocation, approval or review may rest on (see `grants/grant-authority.ts`).
   */
  coveringAll(scope: string, resource: string | null, now: number): G[] {
    const entry = this.#byScope.get(scope);
    if (entry === undefined) return [];
    const found = new Set<G>();
    for (const grant of entry.global) if (this.#isLive(grant, now)) found.add(grant);
    if (resource !== null) {
      for (const grant of entry.exact.get(resource) ?? []) {
        if (this.#isLive(grant, now)) found.add(grant);
      }
      for (const { prefix, grant } of entry.prefixes) {
        if (resource.startsWith(prefix) && this.#isLive(grant, now)) found.add(grant);
      }
    }
    return [...found];
  }

  /**
   * Whether a grant's resource pattern covers `resource`: one id, or everything another pattern
   * covers (delegation: nobody hands out more than they hold). `null` and `*` mean every instance;
   * `x*` a prefix; anything else one id. The one coverage rule `covering` and `coveringAll` apply.
   */
  static covers(pattern: string | null, resource: string | null): boolean {
    return resourceCovers(pattern, resource);
  }

  /** Whether any live grant of `scope` exists, whatever resource it names (conditions aside). */
  holdsAny(scope: string, now: number): boolean {
    const entry = this.#byScope.get(scope);
    if (entry === undefined) return false;
    if (this.#firstLive(entry.global, now) !== null) return true;
    for (const list of entry.exact.values()) if (this.#firstLive(list, now) !== null) return true;
    return entry.prefixes.some((p) => this.#isLive(p.grant, now));
  }

  #isLive(grant: G, now: number): boolean {
    return (this.#expiry.get(grant) ?? Number.NEGATIVE_INFINITY) > now;
  }

  #firstLive(list: readonly G[], now: number): G | null {
    for (const grant of list) if (this.#isLive(grant, now)) return grant;
    return null;
  }

  #firstUsable(
    list: readonly G[],
    now: number,
    resource: string | null,
    facts: ResourceFacts | undefined,
  ): G | null {
    const gate = this.gate;
    for (const grant of list) {
      if (this.#isLive(grant, now) && (gate === undefined || gate.admits(grant, resource, facts))) {
        return grant;
      }
    }
    return null;
  }
}

/** `GrantSet.covers`; module-private so that coverage has one public definition. */
function resourceCovers(pattern: string | null, resource: string | null): boolean {
  if (pattern === null || pattern === '*') return true;
  if (resource === null) return false;
  if (pattern.endsWith('*')) return resource.startsWith(pattern.slice(0, -1));
  return pattern === resource;
}
