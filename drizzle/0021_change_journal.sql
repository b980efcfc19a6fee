-- The change journal: each committed change announces, besides its revision, the revision it
-- advanced from and which identities it touched, so that an instance can keep answering from an
-- authentication that no change since touched (src/modules/revision/revision-feed.ts).
--
-- keyholder.touched (a transaction-local setting) collects what the transaction's rows touched:
-- a comma-terminated list of identity ids, or '*' for anything an authentication may read beyond
-- its identities' rows (groups, memberships, roles, scopes), a grant to a group, or more ids than
-- a notification carries. Empty: nothing any authentication reads.
CREATE FUNCTION keyholder_touch(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  touched text := coalesce(current_setting('keyholder.touched', true), '');
  member text;
BEGIN
  IF touched = '*' THEN
    RETURN;
  END IF;
  FOREACH member IN ARRAY ids LOOP
    IF member IS NULL THEN
      touched := '*';
      EXIT;
    END IF;
    IF position(member IN touched) = 0 THEN
      touched := touched || member || ',';
    END IF;
  END LOOP;
  IF length(touched) > 7000 THEN
    touched := '*';
  END IF;
  PERFORM set_config('keyholder.touched', touched, true);
END;
$$;
--> statement-breakpoint
CREATE FUNCTION keyholder_touch_everything() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('keyholder.touched', '*', true);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A grant or a key touches its identity; a group's grant (identity_id null) touches everything.
CREATE FUNCTION keyholder_touch_holders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM keyholder_touch(ARRAY(SELECT DISTINCT identity_id::text FROM old_rows));
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM keyholder_touch(ARRAY(SELECT DISTINCT identity_id::text FROM new_rows));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE FUNCTION keyholder_touch_identities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM keyholder_touch(ARRAY(SELECT DISTINCT id::text FROM old_rows));
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM keyholder_touch(ARRAY(SELECT DISTINCT id::text FROM new_rows));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER grants_touch_insert AFTER INSERT ON grants
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER grants_touch_update AFTER UPDATE ON grants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER grants_touch_delete AFTER DELETE ON grants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER grants_touch_truncate AFTER TRUNCATE ON grants
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER api_keys_touch_insert AFTER INSERT ON api_keys
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER api_keys_touch_update AFTER UPDATE ON api_keys
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER api_keys_touch_delete AFTER DELETE ON api_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_holders();--> statement-breakpoint
CREATE TRIGGER api_keys_touch_truncate AFTER TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER identities_touch_insert AFTER INSERT ON identities
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_identities();--> statement-breakpoint
CREATE TRIGGER identities_touch_update AFTER UPDATE ON identities
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_identities();--> statement-breakpoint
CREATE TRIGGER identities_touch_delete AFTER DELETE ON identities
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_identities();--> statement-breakpoint
CREATE TRIGGER identities_touch_truncate AFTER TRUNCATE ON identities
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
-- What an authentication reads beyond its identities' rows: any change touches everything.
CREATE TRIGGER scopes_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scopes
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER scope_aliases_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scope_aliases
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER groups_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER group_members_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER roles_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
CREATE TRIGGER role_scopes_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_scopes
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_touch_everything();--> statement-breakpoint
-- The first advance of a transaction records the revision it advanced from (the head is locked
-- from here to commit, so no other change commits in between); the notification on
-- keyholder_revision stays as it was, for instances of an earlier version.
CREATE OR REPLACE FUNCTION keyholder_advance_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  base bigint;
  advanced bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE action NOT LIKE 'access.%' AND action <> 'auth.failed') THEN
    SELECT value INTO base FROM revision_head WHERE singleton FOR UPDATE;
    UPDATE revision_head SET value = nextval('keyholder_revision_seq') WHERE singleton
      RETURNING value INTO advanced;
    IF coalesce(current_setting('keyholder.revision_base', true), '') = '' THEN
      PERFORM set_config('keyholder.revision_base', base::text, true);
    END IF;
    PERFORM pg_notify('keyholder_revision', advanced::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- At commit, once every row of the transaction is written: "<revision>:<advanced from>:<touched>"
-- on keyholder_change. Every advance of one transaction sends the same text, which PostgreSQL
-- delivers once.
CREATE FUNCTION keyholder_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keyholder_change', concat(
    (SELECT value::text FROM revision_head WHERE singleton), ':',
    current_setting('keyholder.revision_base', true), ':',
    coalesce(current_setting('keyholder.touched', true), '')));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER revision_head_announce_change AFTER UPDATE ON revision_head
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION keyholder_announce_change();
