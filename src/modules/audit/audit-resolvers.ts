import type { AuditEventRow } from '../../db/tables.js';
import type { KeyholderContext } from '../../server/context.js';
import type { AuditFilter } from './audit-service.js';

type Ctx = KeyholderContext;

export const auditResolvers = {
  Query: {
    auditEvents: (
      _: unknown,
      args: { first?: number; after?: string; filter?: AuditFilter },
      ctx: Ctx,
    ) => ctx.services.audit.search(args.first, args.after, args.filter),
    verifyAuditLog: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.audit.verify(),
  },
  AuditEvent: {
    id: (event: AuditEventRow) => String(event.id),
    seq: (event: AuditEventRow) => String(event.seq),
    actor: (event: AuditEventRow, _: unknown, ctx: Ctx) =>
      event.actorId === null ? null : ctx.loaders.identity.load(event.actorId),
  },
};
