CREATE TABLE "audit_event_scopes" (
	"scope" text NOT NULL,
	"seq" bigint NOT NULL,
	"action" text NOT NULL,
	CONSTRAINT "audit_event_scopes_scope_seq_pk" PRIMARY KEY("scope","seq")
);
--> statement-breakpoint
DROP INDEX "audit_events_at_idx";--> statement-breakpoint
CREATE INDEX "audit_event_scopes_scope_action_seq_idx" ON "audit_event_scopes" USING btree ("scope","action","seq");--> statement-breakpoint
CREATE INDEX "audit_events_at_seq_idx" ON "audit_events" USING btree ("at","seq");
--> statement-breakpoint
-- `at` never goes backwards along the chain (a clock stepped back repeats the last instant), so a
-- time range is a contiguous range of `seq` and search can bound its index scans by it.
CREATE OR REPLACE FUNCTION keyholder_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  last_at timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(7291006);
  SELECT seq, hash, at INTO last_seq, last_hash, last_at FROM audit_events ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
  NEW.at := greatest(clock_timestamp(), last_at);
  NEW.hash := keyholder_audit_hash(NEW.seq, NEW.prev_hash, NEW.at, NEW.action, NEW.actor_id, NEW.subject_id, NEW.details);
  RETURN NEW;
END
$$;
--> statement-breakpoint
-- Indexes each event under the scopes it names in details.scopes (search by scope). Statement-level
-- with a transition table, so a batch of access events costs one trigger call, not one per row.
CREATE FUNCTION keyholder_audit_index_scopes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_event_scopes (scope, seq, action)
    SELECT DISTINCT s, n.seq, n.action FROM new_rows n, jsonb_array_elements_text(n.details -> 'scopes') AS s
    WHERE jsonb_typeof(n.details -> 'scopes') = 'array';
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_index_scopes AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_index_scopes();
--> statement-breakpoint
-- Announcements become one per statement (per 500 rows): a comma-separated list of ids, well under
-- NOTIFY's 8000-byte payload limit.
DROP TRIGGER audit_events_notify ON audit_events;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION keyholder_audit_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keyholder_audit', ids)
    FROM (
      SELECT string_agg(id::text, ',' ORDER BY id) AS ids
      FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 500 AS chunk FROM new_rows) numbered
      GROUP BY chunk
    ) chunks;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_notify AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_notify();
--> statement-breakpoint
CREATE TRIGGER audit_event_scopes_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_event_scopes
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_event_scopes_no_truncate BEFORE TRUNCATE ON audit_event_scopes
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
-- Events written before details.scopes existed name their scope in after/before (grants) or as
-- their subject (scope.defined).
INSERT INTO audit_event_scopes (scope, seq, action)
  SELECT DISTINCT s, seq, action FROM (
    SELECT seq, action, coalesce(details -> 'after' ->> 'scope', details -> 'before' ->> 'scope') AS s
      FROM audit_events WHERE action LIKE 'grant.%'
    UNION ALL
    SELECT seq, action, subject_id FROM audit_events WHERE action = 'scope.defined'
  ) named WHERE s IS NOT NULL;
