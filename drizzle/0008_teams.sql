CREATE TYPE "public"."membership_source" AS ENUM('MANUAL', 'SCIM', 'TOKEN');--> statement-breakpoint
CREATE TABLE "group_members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"group_id" uuid NOT NULL,
	"member_identity_id" uuid,
	"member_group_id" uuid,
	"reason" text NOT NULL,
	"source" "membership_source" DEFAULT 'MANUAL' NOT NULL,
	"added_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"added_by" uuid,
	"expires_at" timestamp (3) with time zone,
	"removed_at" timestamp (3) with time zone,
	"removed_by" uuid,
	"remove_reason" text,
	CONSTRAINT "group_members_one_member_check" CHECK (("group_members"."member_identity_id" is null) <> ("group_members"."member_group_id" is null)),
	CONSTRAINT "group_members_not_itself_check" CHECK ("group_members"."member_group_id" is distinct from "group_members"."group_id"),
	CONSTRAINT "group_members_reason_check" CHECK (length(btrim("group_members"."reason")) > 0)
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"external_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_by" uuid,
	"deleted_at" timestamp (3) with time zone,
	"deleted_by" uuid
);
--> statement-breakpoint
CREATE TABLE "role_scopes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"role" text NOT NULL,
	"scope" text NOT NULL,
	"resource" text
);
--> statement-breakpoint
CREATE TABLE "roles" (
	"name" text PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_by" uuid,
	"deleted_at" timestamp (3) with time zone,
	"deleted_by" uuid
);
--> statement-breakpoint
ALTER TABLE "grants" ALTER COLUMN "identity_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ALTER COLUMN "scope" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "group_id" uuid;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "role" text;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_member_identity_id_identities_id_fk" FOREIGN KEY ("member_identity_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_member_group_id_groups_id_fk" FOREIGN KEY ("member_group_id") REFERENCES "public"."groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_added_by_identities_id_fk" FOREIGN KEY ("added_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_removed_by_identities_id_fk" FOREIGN KEY ("removed_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_created_by_identities_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_deleted_by_identities_id_fk" FOREIGN KEY ("deleted_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_scopes" ADD CONSTRAINT "role_scopes_role_roles_name_fk" FOREIGN KEY ("role") REFERENCES "public"."roles"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_scopes" ADD CONSTRAINT "role_scopes_scope_scopes_name_fk" FOREIGN KEY ("scope") REFERENCES "public"."scopes"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "roles" ADD CONSTRAINT "roles_created_by_identities_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "roles" ADD CONSTRAINT "roles_deleted_by_identities_id_fk" FOREIGN KEY ("deleted_by") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "group_members_live_identity_key" ON "group_members" USING btree ("group_id","member_identity_id") WHERE "group_members"."removed_at" is null and "group_members"."member_identity_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "group_members_live_group_key" ON "group_members" USING btree ("group_id","member_group_id") WHERE "group_members"."removed_at" is null and "group_members"."member_group_id" is not null;--> statement-breakpoint
CREATE INDEX "group_members_identity_idx" ON "group_members" USING btree ("member_identity_id") WHERE "group_members"."removed_at" is null and "group_members"."member_identity_id" is not null;--> statement-breakpoint
CREATE INDEX "group_members_group_idx" ON "group_members" USING btree ("member_group_id") WHERE "group_members"."removed_at" is null and "group_members"."member_group_id" is not null;--> statement-breakpoint
CREATE INDEX "group_members_group_added_idx" ON "group_members" USING btree ("group_id","added_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_live_name_key" ON "groups" USING btree ("name") WHERE "groups"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "groups_live_external_id_key" ON "groups" USING btree ("external_id") WHERE "groups"."deleted_at" is null and "groups"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "groups_created_at_id_idx" ON "groups" USING btree ("created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "role_scopes_role_scope_resource_key" ON "role_scopes" USING btree ("role","scope",coalesce("resource", ''));--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_role_roles_name_fk" FOREIGN KEY ("role") REFERENCES "public"."roles"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "grants_live_group_idx" ON "grants" USING btree ("group_id") WHERE "grants"."revoked_at" is null and "grants"."group_id" is not null;--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_one_holder_check" CHECK (("grants"."identity_id" is null) <> ("grants"."group_id" is null));--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_scope_or_role_check" CHECK (("grants"."scope" is null) <> ("grants"."role" is null));