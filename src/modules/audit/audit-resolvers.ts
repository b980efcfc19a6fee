import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AuditEventRow } from '../../db/tables.js';
import { badUserInput } from '../../errors.js';
import type { Resolvers } from '../../generated/resolvers.js';
import type { CheckpointFile, SignedCheckpoint } from './audit-checkpoints.js';
import { type AuditFilter, parseAuditFilter } from './audit-filter.js';

type Ctx = KeyholderContext;

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
  },
  Mutation: {
    startAuditVerification: (_: unknown, __: unknown, ctx: Ctx) =>
      ctx.services.auditVerifier.startFull(),
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
