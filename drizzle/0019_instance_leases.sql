CREATE TABLE "instance_leases" (
	"id" uuid PRIMARY KEY NOT NULL,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"applied_revision" bigint,
	"process" text NOT NULL
);
--> statement-breakpoint
-- Every advance of the revision is announced on the channel keyholder_revision (payload: the new
-- revision), delivered at commit to every instance LISTENing: how each one learns, without
-- reading revision_head per request, that the authentications it keeps are out of date.
CREATE OR REPLACE FUNCTION keyholder_advance_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  advanced bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE action NOT LIKE 'access.%' AND action <> 'auth.failed') THEN
    UPDATE revision_head SET value = nextval('keyholder_revision_seq') WHERE singleton
      RETURNING value INTO advanced;
    PERFORM pg_notify('keyholder_revision', advanced::text);
  END IF;
  RETURN NULL;
END;
$$;
