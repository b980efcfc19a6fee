CREATE TABLE "dpop_proofs" (
	"jti" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "scopes" jsonb;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "jkt" text;--> statement-breakpoint
CREATE INDEX "dpop_proofs_expires_at_idx" ON "dpop_proofs" USING btree ("expires_at");