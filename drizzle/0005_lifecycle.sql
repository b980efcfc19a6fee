CREATE TYPE "public"."access_request_status" AS ENUM('PENDING', 'APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."access_review_decision" AS ENUM('KEEP', 'REVOKE');--> statement-breakpoint
CREATE TYPE "public"."access_review_status" AS ENUM('OPEN', 'CLOSED');--> statement-breakpoint
CREATE TABLE "access_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"requester_id" uuid NOT NULL,
	"identity_id" uuid NOT NULL,
	"scope" text NOT NULL,
	"resource" text,
	"ttl_seconds" integer NOT NULL,
	"reason" text NOT NULL,
	"status" "access_request_status" DEFAULT 'PENDING' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"decided_by" uuid,
	"decision_reason" text,
	"grant_id" uuid,
	CONSTRAINT "access_requests_reason_check" CHECK (length(btrim("access_requests"."reason")) > 0),
	CONSTRAINT "access_requests_ttl_seconds_check" CHECK ("access_requests"."ttl_seconds" > 0)
);
--> statement-breakpoint
CREATE TABLE "access_review_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"review_id" uuid NOT NULL,
	"grant_id" uuid NOT NULL,
	"decision" "access_review_decision",
	"decided_at" timestamp (3) with time zone,
	"decided_by" uuid,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "access_reviews" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"filter" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" "access_review_status" DEFAULT 'OPEN' NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_by" uuid,
	"closed_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "grant_usage" (
	"grant_id" uuid PRIMARY KEY NOT NULL,
	"last_used_at" timestamp (3) with time zone NOT NULL,
	"use_count" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "revision_head" (
	"singleton" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"value" bigint NOT NULL,
	CONSTRAINT "revision_head_singleton_check" CHECK ("revision_head"."singleton")
);
--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "expiry_recorded_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "identities" ADD COLUMN "owner_id" uuid;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "max_ttl_seconds" integer;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "requires_approval" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "sensitive" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "reap_unused_after_seconds" integer;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_requester_id_identities_id_fk" FOREIGN KEY ("requester_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_scope_scopes_name_fk" FOREIGN KEY ("scope") REFERENCES "public"."scopes"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_decided_by_identities_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_grant_id_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_review_id_access_reviews_id_fk" FOREIGN KEY ("review_id") REFERENCES "public"."access_reviews"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_grant_id_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_decided_by_identities_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_created_by_identities_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grant_usage" ADD CONSTRAINT "grant_usage_grant_id_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_requests_pending_scope_idx" ON "access_requests" USING btree ("scope","created_at") WHERE "access_requests"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "access_requests_requester_created_idx" ON "access_requests" USING btree ("requester_id","created_at");--> statement-breakpoint
CREATE INDEX "access_requests_identity_created_idx" ON "access_requests" USING btree ("identity_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "access_review_items_review_grant_key" ON "access_review_items" USING btree ("review_id","grant_id");--> statement-breakpoint
CREATE INDEX "access_reviews_open_due_idx" ON "access_reviews" USING btree ("due_at") WHERE "access_reviews"."status" = 'OPEN';--> statement-breakpoint
CREATE INDEX "access_reviews_created_at_id_idx" ON "access_reviews" USING btree ("created_at","id");--> statement-breakpoint
ALTER TABLE "identities" ADD CONSTRAINT "identities_owner_id_identities_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "grants_expiry_due_idx" ON "grants" USING btree ("expires_at") WHERE "grants"."expires_at" is not null and "grants"."revoked_at" is null and "grants"."expiry_recorded_at" is null;--> statement-breakpoint
CREATE INDEX "identities_owner_id_idx" ON "identities" USING btree ("owner_id") WHERE "identities"."owner_id" is not null;--> statement-breakpoint
ALTER TABLE "scopes" ADD CONSTRAINT "scopes_max_ttl_seconds_check" CHECK ("scopes"."max_ttl_seconds" > 0);--> statement-breakpoint
ALTER TABLE "scopes" ADD CONSTRAINT "scopes_reap_unused_after_seconds_check" CHECK ("scopes"."reap_unused_after_seconds" > 0);--> statement-breakpoint
-- The revision: a sequence value that every change (any audit event other than access.*)
-- advances in its own transaction, published through revision_head so that readers see exactly
-- the revision of the state they read. Change transactions already serialize on the audit chain's
-- lock, which they take before this trigger runs, so the row lock adds no new ordering.
CREATE SEQUENCE keyholder_revision_seq;--> statement-breakpoint
INSERT INTO revision_head (singleton, value) VALUES (true, nextval('keyholder_revision_seq'));--> statement-breakpoint
CREATE FUNCTION keyholder_advance_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE action NOT LIKE 'access.%') THEN
    UPDATE revision_head SET value = nextval('keyholder_revision_seq') WHERE singleton;
  END IF;
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER audit_events_advance_revision AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_advance_revision();--> statement-breakpoint
-- Grants that expired before the sweeper existed have no grant.expired event; mark them so the
-- first sweep does not announce old expiries as news.
UPDATE grants SET expiry_recorded_at = expires_at
  WHERE expires_at IS NOT NULL AND expires_at <= now() AND revoked_at IS NULL;
--> statement-breakpoint
-- Wakes the expiry sweeper of every instance when a committed transaction created a grant with an
-- expiry: LISTEN keyholder_expiry receives how many milliseconds from now (the database's clock)
-- the earliest of them falls due. Notifications are sent at commit, so a rolled-back grant wakes
-- nobody. Grants' expires_at is never changed in place (a grant is revoked and granted again).
CREATE FUNCTION keyholder_announce_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  due timestamptz;
BEGIN
  SELECT min(expires_at) INTO due FROM new_rows
    WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_recorded_at IS NULL;
  IF due IS NOT NULL THEN
    PERFORM pg_notify('keyholder_expiry',
      greatest(0, ceil(extract(epoch FROM due - clock_timestamp()) * 1000))::bigint::text);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER grants_announce_expiry AFTER INSERT ON grants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_announce_expiry();
