-- The audit log is append-only and hash-chained.
-- keyholder_audit_hash: SHA-256 (hex) over a row's canonical content and the previous row's hash.
-- jsonb prints its keys in a canonical order, and `at` is taken as whole microseconds since the epoch.
CREATE FUNCTION keyholder_audit_hash(
  p_seq bigint, p_prev_hash text, p_at timestamptz, p_action text, p_actor uuid, p_subject text, p_details jsonb
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws(E'\x1f',
    p_seq::text,
    p_prev_hash,
    ((extract(epoch FROM p_at) * 1000000)::bigint)::text,
    p_action,
    coalesce(p_actor::text, ''),
    coalesce(p_subject, ''),
    p_details::text
  ), 'UTF8')), 'hex')
$$;
--> statement-breakpoint
-- Assigns seq, at, prev_hash and hash under one advisory lock (held to commit), so concurrent
-- writers on any instance append in one strict order and each row sees the last committed one.
CREATE FUNCTION keyholder_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(7291006);
  SELECT seq, hash INTO last_seq, last_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
  NEW.at := clock_timestamp();
  NEW.hash := keyholder_audit_hash(NEW.seq, NEW.prev_hash, NEW.at, NEW.action, NEW.actor_id, NEW.subject_id, NEW.details);
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE FUNCTION keyholder_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_chain();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION keyholder_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION keyholder_audit_refuse_change();
