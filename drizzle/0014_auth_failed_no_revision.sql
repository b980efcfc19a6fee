-- auth.failed events (refused credentials) change nothing anyone holds: like access.* events they
-- must not advance the revision, or every refused key would make every cached authentication miss.
CREATE OR REPLACE FUNCTION keyholder_advance_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE action NOT LIKE 'access.%' AND action <> 'auth.failed') THEN
    UPDATE revision_head SET value = nextval('keyholder_revision_seq') WHERE singleton;
  END IF;
  RETURN NULL;
END;
$$;
