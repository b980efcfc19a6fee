ALTER TABLE "webhooks" ADD COLUMN "sensitive_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- The outbox trigger of 0004, plus one condition: a webhook with sensitive_only receives only the
-- events flagged details.sensitive (grants, access requests and access events of sensitive scopes).
CREATE OR REPLACE FUNCTION keyholder_webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
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
      AND (NOT w.sensitive_only OR n.details -> 'sensitive' = 'true'::jsonb)
    ORDER BY n.seq;
  GET DIAGNOSTICS queued = ROW_COUNT;
  IF queued > 0 THEN
    PERFORM pg_notify('keyholder_webhooks', '');
  END IF;
  RETURN NULL;
END
$$;
