CREATE TABLE "scope_aliases" (
	"alias" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "scope_aliases" ADD CONSTRAINT "scope_aliases_scope_scopes_name_fk" FOREIGN KEY ("scope") REFERENCES "public"."scopes"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "scope_aliases_scope_idx" ON "scope_aliases" USING btree ("scope","alias");