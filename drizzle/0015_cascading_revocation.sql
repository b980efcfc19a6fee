ALTER TABLE "grants" ADD COLUMN "authorized_by" uuid[];--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "cascade_revocation" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "grant_usage_last_used_idx" ON "grant_usage" USING btree ("last_used_at","grant_id");--> statement-breakpoint
CREATE INDEX "grants_live_created_idx" ON "grants" USING btree ("created_at","id") WHERE "grants"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "grants_live_authorized_by_idx" ON "grants" USING gin ("authorized_by") WHERE "grants"."revoked_at" is null;--> statement-breakpoint
-- What live grants rested on, as their grant.created events recorded it (authorityGrantIds).
UPDATE "grants" g SET "authorized_by" = e.ids
FROM (
  SELECT ae.subject_id, array(SELECT jsonb_array_elements_text(ae.details->'authorityGrantIds'))::uuid[] AS ids
  FROM "audit_events" ae
  WHERE ae.action = 'grant.created' AND jsonb_typeof(ae.details->'authorityGrantIds') = 'array'
) e
WHERE e.subject_id = g.id::text AND g.revoked_at IS NULL;
