CREATE TABLE "audit_checkpoints" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"count" bigint NOT NULL,
	"signed_at" timestamp (3) with time zone NOT NULL,
	"key_id" text NOT NULL,
	"payload" text NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_seals" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"mac" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "audit_seq" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "audit_seq" bigint;--> statement-breakpoint
ALTER TABLE "group_members" ADD COLUMN "audit_seq" bigint;--> statement-breakpoint
ALTER TABLE "identities" ADD COLUMN "audit_seq" bigint;--> statement-breakpoint
CREATE INDEX "api_keys_unrecorded_idx" ON "api_keys" USING btree ("id") WHERE "api_keys"."audit_seq" is null;--> statement-breakpoint
CREATE INDEX "audit_event_scopes_seq_idx" ON "audit_event_scopes" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "grants_unrecorded_idx" ON "grants" USING btree ("id") WHERE "grants"."audit_seq" is null;--> statement-breakpoint
CREATE INDEX "group_members_unrecorded_idx" ON "group_members" USING btree ("id") WHERE "group_members"."audit_seq" is null;--> statement-breakpoint
CREATE INDEX "identities_unrecorded_idx" ON "identities" USING btree ("id") WHERE "identities"."audit_seq" is null;
--> statement-breakpoint
-- Seals and checkpoints are append-only, like the log they prove.
CREATE TRIGGER audit_seals_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_seals
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
-- Rows written before this migration are matched to the event that created them (the first event
-- of its creating action about them); a row with none stays unrecorded and authorizes nothing.
UPDATE identities r SET audit_seq = (SELECT min(e.seq) FROM audit_events e
  WHERE e.subject_id = r.id::text AND e.action = 'identity.created');
--> statement-breakpoint
UPDATE api_keys r SET audit_seq = (SELECT min(e.seq) FROM audit_events e
  WHERE e.subject_id = r.id::text AND e.action = 'apikey.created');
--> statement-breakpoint
UPDATE grants r SET audit_seq = (SELECT min(e.seq) FROM audit_events e
  WHERE e.subject_id = r.id::text AND e.action = 'grant.created');
--> statement-breakpoint
UPDATE group_members r SET audit_seq = (SELECT min(e.seq) FROM audit_events e
  WHERE e.subject_id = r.id::text AND e.action = 'group.member_added');
