/**
 * What an auto-approval condition sees (`policy.autoApprove`): the access request being made and
 * who made it. Integers are `bigint`, as CEL's `int` is.
 */
export interface AutoApprovalContext {
  readonly accessRequest: {
    readonly scope: string;
    /** The requested resource, `""` when the request covers every resource. */
    readonly resource: string;
    /** How long the grant would last, from the approval. */
    readonly ttlSeconds: bigint;
    readonly reason: string;
    /** Whether the requester asks for itself (not for an identity it owns). */
    readonly forSelf: boolean;
  };
  /** The identity that made the request (for an owned identity's grant: its owner). */
  readonly requester: {
    readonly id: string;
    readonly kind: string;
    /** `""` when the identity has none. */
    readonly externalId: string;
    readonly attributes: Readonly<Record<string, unknown>>;
    /** The names of the scopes the requester holds live grants of without any condition, sorted, each once. */
    readonly scopes: readonly string[];
  };
}

/** The parts of an access request and its requester a context is built from. */
export interface AutoApprovalFacts {
  readonly request: {
    readonly requesterId: string;
    readonly identityId: string;
    readonly scope: string;
    readonly resource: string | null;
    readonly ttlSeconds: number;
    readonly reason: string;
  };
  readonly requester: {
    readonly id: string;
    readonly kind: string;
    readonly externalId: string | null;
    readonly attributes: Readonly<Record<string, unknown>> | null;
  };
  /** The scopes of the requester's live grants, in any order, repeats allowed. */
  readonly scopes: readonly string[];
}

/** The context an auto-approval condition is evaluated against. */
export function autoApprovalContext(facts: AutoApprovalFacts): AutoApprovalContext {
  const { request, requester } = facts;
  return {
    accessRequest: {
      scope: request.scope,
      resource: request.resource ?? '',
      ttlSeconds: BigInt(request.ttlSeconds),
      reason: request.reason,
      forSelf: request.identityId === request.requesterId,
    },
    requester: {
      id: requester.id,
      kind: requester.kind,
      externalId: requester.externalId ?? '',
      attributes: requester.attributes ?? {},
      scopes: [...new Set(facts.scopes)].sort(),
    },
  };
}
