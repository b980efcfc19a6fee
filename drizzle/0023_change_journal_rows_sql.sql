-- The change journal as rows: at commit each change writes its row to revision_changes (the
-- notification on keyholder_change now carries only the revision, a wake-up). Instances read the
-- rows rather than trust the notification's text: PostgreSQL lets any role connected to the
-- database notify on any channel, but only Keyholder's role writes this table.
CREATE OR REPLACE FUNCTION keyholder_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head bigint := (SELECT value FROM revision_head WHERE singleton);
  base text := nullif(current_setting('keyholder.revision_base', true), '');
BEGIN
  IF base IS NOT NULL THEN
    INSERT INTO revision_changes (revision, advanced_from, touched)
      VALUES (head, base::bigint, coalesce(current_setting('keyholder.touched', true), ''))
      ON CONFLICT (revision) DO NOTHING;
  END IF;
  PERFORM pg_notify('keyholder_change', head::text);
  RETURN NULL;
END;
$$;
