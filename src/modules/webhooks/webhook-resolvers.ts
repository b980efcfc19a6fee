import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../db/tables.js';
import type { Resolvers } from '../../generated/resolvers.js';
import { parseId } from '../shared/validate.js';
import { describeWebhookActions } from './webhook-action-filter.js';
import { type DeliveryStatus, deliveriesKey } from './webhook-loaders.js';
import type { CreateWebhookInput } from './webhook-service.js';

type Ctx = KeyholderContext;

export const webhookResolvers = {
  Query: {
    webhooks: (_: unknown, __: unknown, ctx: Ctx) => ctx.services.webhooks.list(),
    webhook: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.loaders.webhooks.webhook.load(parseId(args.id, 'webhook')),
  },
  Mutation: {
    createWebhook: (_: unknown, args: { input: CreateWebhookInput }, ctx: Ctx) =>
      ctx.services.webhooks.create(ctx.caller, args.input),
    disableWebhook: (_: unknown, args: { id: string }, ctx: Ctx) =>
      ctx.services.webhooks.disable(ctx.caller, args.id),
  },
  Webhook: {
    actions: (webhook: WebhookRow) => describeWebhookActions(webhook),
    createdBy: (webhook: WebhookRow, _: unknown, ctx: Ctx) =>
      webhook.createdBy === null ? null : ctx.loaders.identity.load(webhook.createdBy),
    disabledBy: (webhook: WebhookRow, _: unknown, ctx: Ctx) =>
      webhook.disabledBy === null ? null : ctx.loaders.identity.load(webhook.disabledBy),
    ownerId: (webhook: WebhookRow) => webhook.ownerId ?? webhook.createdBy,
    owner: (webhook: WebhookRow, _: unknown, ctx: Ctx) => {
      const owner = webhook.ownerId ?? webhook.createdBy;
      return owner === null ? null : ctx.loaders.identity.load(owner);
    },
    paused: (webhook: WebhookRow) => webhook.pausedAt !== null,
    deliveries: (
      webhook: WebhookRow,
      args: { first?: number | null; after?: string | null; status?: DeliveryStatus | null },
      ctx: Ctx,
    ) => ctx.loaders.webhooks.deliveries.load(deliveriesKey(webhook.id, args)),
  },
  WebhookDelivery: {
    webhook: (delivery: WebhookDeliveryRow, _: unknown, ctx: Ctx) =>
      ctx.loaders.webhooks.webhook.load(delivery.webhookId),
    eventId: (delivery: WebhookDeliveryRow) => String(delivery.eventId),
  },
} satisfies Resolvers;
