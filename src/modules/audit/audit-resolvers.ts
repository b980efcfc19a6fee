import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { AuditEventRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { type AuditFilter, parseAuditFilter } from './audit-filter.js';

type Ctx = KeyholderContext;

export const auditResolvers = {
  Query: {
    auditEvents: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: AuditFilter | null },
      ctx: Ctx,
    ) => ctx.services.audit.search(args.first, args.after, args.filter),
    verifyAuditLog: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.audit.verify(),
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
