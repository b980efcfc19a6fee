ALTER TABLE "access_requests" ALTER COLUMN "scope" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "access_requests" ADD COLUMN "group_id" uuid;--> statement-breakpoint
ALTER TABLE "access_requests" ADD COLUMN "membership_id" uuid;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_membership_id_group_members_id_fk" FOREIGN KEY ("membership_id") REFERENCES "public"."group_members"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_requests_pending_group_idx" ON "access_requests" USING btree ("group_id","created_at") WHERE "access_requests"."status" = 'PENDING' and "access_requests"."group_id" is not null;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_scope_or_group_check" CHECK (("access_requests"."scope" is null) <> ("access_requests"."group_id" is null));