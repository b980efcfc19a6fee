ALTER TABLE "access_review_items" ALTER COLUMN "grant_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD COLUMN "membership_id" uuid;--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "token_issuer" text;--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "token_fed_by" uuid;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_membership_id_group_members_id_fk" FOREIGN KEY ("membership_id") REFERENCES "public"."group_members"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_token_fed_by_identities_id_fk" FOREIGN KEY ("token_fed_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "access_review_items_review_membership_key" ON "access_review_items" USING btree ("review_id","membership_id") WHERE "access_review_items"."membership_id" is not null;--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_one_subject_check" CHECK (("access_review_items"."grant_id" is null) <> ("access_review_items"."membership_id" is null));--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_token_feed_check" CHECK (("groups"."token_issuer" is null) = ("groups"."token_fed_by" is null) and ("groups"."token_issuer" is null or "groups"."external_id" is not null));