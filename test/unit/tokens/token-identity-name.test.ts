import { describe, expect, it } from 'vitest';
import {
  candidateNames,
  nameFromClaim,
} from '../../../src/modules/tokens/create-token-identity.js';
import type { VerifiedToken } from '../../../src/modules/tokens/token-verifier.js';

// Issue 21.9: identities created from tokens get names as valid as those people create.
describe('names of identities created from tokens', () => {
  it('should turn control characters into spaces and lone surrogates into U+FFFD', () => {
    expect(nameFromClaim('  alice\u0000\n\tsmith\u007f ')).toBe('alice smith');
    expect(nameFromClaim('bob \ud800 jones')).toBe('bob \ufffd jones');
    expect(nameFromClaim('\u0001\u0002')).toBe('');
    expect(nameFromClaim('x'.repeat(300))).toHaveLength(160);
  });

  it('should fall back from an unusable claim to the subject, then to a fixed name, made unique', () => {
    const token = (payload: Record<string, unknown>, subject: string) =>
      ({ payload, subject, issuer: 'https://idp.example.com' }) as unknown as VerifiedToken;

    expect(candidateNames(token({ preferred_username: '\u0000' }, 'sub-1'), 'ext')[0]).toBe(
      'sub-1',
    );
    expect(candidateNames(token({}, '\u0007'), 'ext')[0]).toBe('token-user');
    const names = candidateNames(token({ email: 'carol@example.com' }, 's'), 'ext');
    expect(names[0]).toBe('carol@example.com');
    expect(new Set(names).size).toBe(4);
  });
});
