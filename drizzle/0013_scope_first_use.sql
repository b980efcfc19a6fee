ALTER TABLE "scopes" ADD COLUMN "first_used_at" timestamp (3) with time zone;--> statement-breakpoint
-- Scopes whose grants were already used somewhere that reports: by a grant of the scope, or of a role bundling it.
UPDATE "scopes" s SET "first_used_at" = used.first FROM (
  SELECT coalesce(g."scope", rs."scope") AS "scope", min(gu."last_used_at") AS first
  FROM "grant_usage" gu
  JOIN "grants" g ON g."id" = gu."grant_id"
  LEFT JOIN "role_scopes" rs ON rs."role" = g."role"
  GROUP BY 1
) used WHERE used."scope" = s."name";
