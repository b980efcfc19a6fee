ALTER TABLE "access_requests" ADD COLUMN "approved_by_policy" text;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "condition" text;--> statement-breakpoint
ALTER TABLE "identities" ADD COLUMN "attributes" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "condition" text;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "auto_approve_condition" text;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "auto_approve_set_by" uuid;--> statement-breakpoint
ALTER TABLE "scopes" ADD CONSTRAINT "scopes_auto_approve_set_by_identities_id_fk" FOREIGN KEY ("auto_approve_set_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "scopes_conditional_idx" ON "scopes" USING btree ("name") WHERE "scopes"."condition" is not null;