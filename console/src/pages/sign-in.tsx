import { useId, useState } from 'react';
import { beginSignIn, providerName, signInProviders } from '../lib/oidc';

/** Sign in with an API key; it is kept in this tab's sessionStorage only. */
export function SignIn({ onSignIn }: { onSignIn: (key: string) => Promise<void> }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <section className="sign-in">
      <h1>Keyholder console</h1>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          await onSignIn(key.trim());
          setBusy(false);
          setKey('');
        }}
      >
        <label htmlFor={id}>API key</label>
        <input
          id={id}
          type="password"
          autoComplete="off"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {signInProviders(document).map((provider) => (
        <p key={provider.issuer}>
          <button
            type="button"
            onClick={async () => {
              const here = window.location.pathname + window.location.search;
              window.location.assign(
                await beginSignIn(provider, window.location.origin, here, sessionStorage),
              );
            }}
          >
            Sign in with {providerName(provider.issuer)}
          </button>
        </p>
      ))}
      <p className="muted">
        Your key (or your identity provider's token) stays in this browser tab (sessionStorage) and
        is sent only to this Keyholder, as the Authorization header. Closing the tab or signing out
        forgets it.
      </p>
    </section>
  );
}
