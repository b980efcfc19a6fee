import { type ReactNode, useEffect, useId, useState } from 'react';
import { graphql } from '../gql';
import { type ApiError, offeredTtlSeconds, type RequestAccessHint } from '../lib/errors';
import { type Capability, useMutation } from '../lib/session-context';
import { duration, exactTime, relativeTime } from '../lib/time';

/** A relative time ("3 minutes ago"), the exact instant on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), 30_000);
    return () => window.clearInterval(timer);
  }, []);
  if (!at) return <span>—</span>;
  const date = new Date(at);
  return (
    <time dateTime={exactTime(date)} title={exactTime(date)}>
      {relativeTime(date, now)}
    </time>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

const RequestAccess = graphql(`
  mutation RequestAccess($input: RequestAccessInput!) {
    requestAccess(input: $input) {
      id
      status
    }
  }
`);

/** A denial's way in: asks for a reason, then sends `requestAccess` with the denial's hint. */
export function RequestAccessButton({ hint }: { hint: RequestAccessHint }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const request = useMutation(RequestAccess);
  const reasonId = useId();
  const ttl = offeredTtlSeconds(hint);
  if (sent !== null) return <p role="status">{sent}</p>;
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Request access to {hint.scope}
        {hint.autoApproved ? ' (approved at once)' : ''}
      </button>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={async (event) => {
        event.preventDefault();
        const result = await request.run({
          input: { scope: hint.scope, resource: hint.resource, ttlSeconds: ttl, reason },
        });
        const made = result.data?.requestAccess;
        if (made) setSent(`Request ${made.id} is ${made.status.toLowerCase()}.`);
      }}
    >
      <label htmlFor={reasonId}>
        Why do you need {hint.scope}
        {hint.resource ? ` on ${hint.resource}` : ''} for {duration(ttl)}?
      </label>
      <input id={reasonId} required value={reason} onChange={(e) => setReason(e.target.value)} />
      <button type="submit" disabled={request.running}>
        Send request
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorList errors={request.errors} />
    </form>
  );
}

/** Errors as Keyholder gave them; a denial that says how to ask offers to ask. */
export function ErrorList({ errors }: { errors: readonly ApiError[] }) {
  if (errors.length === 0) return null;
  return (
    <div className="errors" role="alert">
      {errors.map((error, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: errors have no identity of their own.
        <div key={index} className={error.code === 'FORBIDDEN' ? 'denied' : 'error'}>
          <p>
            {error.code ? <strong>{error.code}: </strong> : null}
            {error.message}
          </p>
          {error.requestAccess ? <RequestAccessButton hint={error.requestAccess} /> : null}
        </div>
      ))}
    </div>
  );
}

/**
 * An action that needs a reason: a button that opens a form asking for it. Disabled, with
 * Keyholder's reason beside it, when `capability` says the person may not.
 */
export function ReasonAction({
  label,
  capability,
  onSubmit,
  reasonRequired = true,
  reasonLabel = 'Reason',
  askReason = true,
}: {
  label: string;
  capability?: Capability;
  onSubmit: (reason: string) => Promise<readonly ApiError[]>;
  reasonRequired?: boolean;
  reasonLabel?: string;
  /** False for a mutation that records no reason: the form only asks to confirm. */
  askReason?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [running, setRunning] = useState(false);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const id = useId();
  if (capability && !capability.allowed)
    return <DisabledAction label={label} capability={capability} />;
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        {label}
      </button>
    );
  }
  return (
    <form
      className="inline-form"
      aria-label={label}
      onSubmit={async (event) => {
        event.preventDefault();
        setRunning(true);
        const found = await onSubmit(reason);
        setRunning(false);
        setErrors(found);
        if (found.length === 0) {
          setOpen(false);
          setReason('');
        }
      }}
    >
      {askReason ? (
        <>
          <label htmlFor={id}>{reasonLabel}</label>
          <input
            id={id}
            required={reasonRequired}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </>
      ) : null}
      <button type="submit" disabled={running}>
        Confirm: {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorList errors={errors} />
    </form>
  );
}

/** A labelled text input bound to `value`. */
export function Field({
  label,
  value,
  onChange,
  type = 'text',
  placeholder,
  required,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: string;
  placeholder?: string;
  required?: boolean;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        value={value}
        placeholder={placeholder}
        required={required}
        onChange={(e) => onChange(e.target.value)}
      />
    </div>
  );
}

/** A table that scrolls sideways on its own (keyboard-reachable) rather than widening the page. */
export function ScrollTable({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard.
    <section className="table-scroll" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </section>
  );
}

/**
 * An action the person may not take: disabled, with Keyholder's reason beside it, and the way in
 * (a request for the missing scope).
 */
export function DisabledAction({ label, capability }: { label: string; capability: Capability }) {
  const id = useId();
  return (
    <span className="disabled-action">
      <button type="button" disabled aria-describedby={id}>
        {label}
      </button>
      <small id={id} className="muted">
        {capability.reason}
      </small>
      <RequestAccessButton
        hint={{ scope: capability.scope, resource: null, ttlSeconds: null, autoApproved: false }}
      />
    </span>
  );
}
