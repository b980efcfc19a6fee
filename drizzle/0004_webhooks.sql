CREATE TYPE "public"."webhook_delivery_status" AS ENUM('PENDING', 'DELIVERED', 'FAILED');--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"webhook_id" uuid NOT NULL,
	"event_id" bigint NOT NULL,
	"action" text NOT NULL,
	"status" "webhook_delivery_status" DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now(),
	"last_attempt_at" timestamp (3) with time zone,
	"delivered_at" timestamp (3) with time zone,
	"last_status_code" integer,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"actions" text[] NOT NULL,
	"action_prefixes" text[] NOT NULL,
	"scopes" text[],
	"description" text,
	"secret" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_by" uuid,
	"disabled_at" timestamp (3) with time zone,
	"disabled_by" uuid
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_webhooks_id_fk" FOREIGN KEY ("webhook_id") REFERENCES "public"."webhooks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_created_by_identities_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_disabled_by_identities_id_fk" FOREIGN KEY ("disabled_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_webhook_event_key" ON "webhook_deliveries" USING btree ("webhook_id","event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhooks_created_at_id_idx" ON "webhooks" USING btree ("created_at","id");--> statement-breakpoint
-- The webhook outbox: each audit event queues one delivery per active webhook whose filter it
-- passes, in the transaction that writes the event, so a delivery exists exactly when its change
-- committed. An action matches an exact name or starts with a prefix; `scopes` (when set) needs
-- the event's details.scopes to name one of them. When something was queued, dispatchers on
-- every instance are woken at commit (LISTEN keyholder_webhooks); events no webhook wants wake nobody.
-- Statement-level (transition table): a batch of access events costs one call, and none at all
-- beyond an existence check while no webhook is active.
CREATE FUNCTION keyholder_webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  queued integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_deliveries (webhook_id, event_id, action)
    SELECT w.id, n.id, n.action FROM new_rows n JOIN webhooks w ON w.active
    WHERE (n.action = ANY (w.actions)
           OR EXISTS (SELECT 1 FROM unnest(w.action_prefixes) AS p WHERE left(n.action, length(p)) = p))
      AND (w.scopes IS NULL
           OR (jsonb_typeof(n.details -> 'scopes') = 'array' AND (n.details -> 'scopes') ?| w.scopes))
    ORDER BY n.seq;
  GET DIAGNOSTICS queued = ROW_COUNT;
  IF queued > 0 THEN
    PERFORM pg_notify('keyholder_webhooks', '');
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_webhook_enqueue AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_webhook_enqueue();
