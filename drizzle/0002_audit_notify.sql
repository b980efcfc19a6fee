-- Announces each committed audit row to every instance: LISTEN keyholder_audit receives its id
-- (ids only: NOTIFY payloads are limited to 8000 bytes; listeners read the rows).
CREATE FUNCTION keyholder_audit_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keyholder_audit', NEW.id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_notify AFTER INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_notify();
