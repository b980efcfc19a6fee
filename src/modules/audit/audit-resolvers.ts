import { badUserInput } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AuditEventRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import type { CheckpointFile, SignedCheckpoint } from './audit-checkpoints.js';
import { type AuditFilter, parseAuditFilter } from './audit-filter.js';
import type { ChainEntry } from './audit-verifier.js';

type Ctx = KeyholderContext;

function seqArgument(text: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw badUserInput(`"afterSeq" must be a seq (a whole number); got "${text}".`, {
      field: 'afterSeq',
    });
  }
  return Number(text);
}

function boundedFirst(first: number | null | undefined, fallback: number, max: number): number {
  const value = first ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw badUserInput(`"first" must be from 1 to ${max}; got ${value}.`, { field: 'first' });
  }
  return value;
}

/** A checkpoint file's JSON text, as `verifyAuditLog(checkpoints:)` takes it. */
function checkpointFileOf(text: string, index: number): CheckpointFile {
  try {
    const file = JSON.parse(text) as unknown;
    if (file !== null && typeof file === 'object') return file as CheckpointFile;
  } catch {
    // Answered below.
  }
  throw badUserInput(`Checkpoint ${index + 1} is not the JSON of a checkpoint file.`, {
    field: 'checkpoints',
  });
}

export const auditResolvers = {
  Query: {
    auditEvents: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: AuditFilter | null },
      ctx: Ctx,
    ) => ctx.services.audit.search(args.first, args.after, args.filter),
    verifyAuditLog: (_: unknown, args: { checkpoints?: readonly string[] | null }, ctx: Ctx) =>
      ctx.services.auditVerifier.verify((args.checkpoints ?? []).map(checkpointFileOf)),
    auditVerificationRun: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.auditVerifier.run(),
    auditChain: (_: unknown, args: { afterSeq?: string | null; first?: number | null }, ctx: Ctx) =>
      ctx.services.auditVerifier.chain(
        seqArgument(args.afterSeq ?? '0'),
        boundedFirst(args.first, 1000, 5000),
      ),
    auditCheckpoints: (_: unknown, args: { first?: number | null }, ctx: Ctx) =>
      ctx.services.auditVerifier.storedCheckpoints(boundedFirst(args.first, 100, 1000)),
  },
  Mutation: {
    startAuditVerification: (_: unknown, __: unknown, ctx: Ctx) =>
      ctx.services.auditVerifier.startFull(),
  },
  AuditChainEntry: {
    atMicros: (entry: ChainEntry) => entry.atUs,
  },
  AuditCheckpoint: {
    seq: (checkpoint: SignedCheckpoint) => String(checkpoint.seq),
  },
  Subscription: {
    auditEvents: {
      subscribe: (_: unknown, args: { filter?: AuditFilter | null }, ctx: Ctx) =>
        ctx.services.auditFeed.subscribe(parseAuditFilter(args.filter)),
      resolve: (event: AuditEventRow) => event,
    },
  },
  AuditEvent: {
    id: (event: AuditEventRow) => String(event.id),
    seq: (event: AuditEventRow) => String(event.seq),
    actor: (event: AuditEventRow, _: unknown, ctx: Ctx) =>
      event.actorId === null ? null : ctx.loaders.identity.load(event.actorId),
  },
} satisfies Resolvers;
