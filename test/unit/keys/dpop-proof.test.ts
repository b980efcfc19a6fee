import { createSign, generateKeyPairSync, KeyObject } from 'node:crypto';
import { generateKeyPair as dpopKeyPair, generateProof } from 'dpop';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  authenticateChallenge,
  credentialHash,
  proofUrl,
  thumbprintOf,
  verifyDpopProof,
} from '../../../src/modules/keys/dpop-proof.js';

const URL_ = 'https://keys.example/graphql';
const target = { method: 'POST', url: URL_, credential: 'kh_abc_secret' };

describe('thumbprintOf', () => {
  it.each(['ES256', 'EdDSA', 'RS256'] as const)(
    'should compute the RFC 7638 thumbprint jose computes, for %s keys',
    async (alg) => {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(publicKey);
      expect(thumbprintOf({ ...jwk, kid: 'ignored', use: 'sig' })).toBe(
        await calculateJwkThumbprint(jwk, 'sha256'),
      );
    },
  );

  it('should refuse a key of another type, or missing a member', () => {
    expect(() => thumbprintOf({ kty: 'oct', k: 'x' })).toThrow(/not an EC, OKP or RSA/);
    expect(() => thumbprintOf({ kty: 'EC', crv: 'P-256', x: 'a' })).toThrow(/has no "y"/);
  });
});

describe('verifyDpopProof', () => {
  it('should return the thumbprint and jti of a valid proof', async () => {
    const pair = await dpopKeyPair('ES256');
    const proof = await generateProof(
      pair,
      `${URL_}?ignored=1`,
      'POST',
      undefined,
      'kh_abc_secret',
    );

    const verified = await verifyDpopProof(proof, target);

    expect(verified.jkt).toBe(await calculateJwkThumbprint(await exportJWK(pair.publicKey)));
    expect(verified.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(verified.forgetAt.getTime()).toBeGreaterThan(Date.now() + 60_000);
  });

  it('should refuse a wrong typ, a private jwk, a symmetric alg and a future iat', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const claims = {
      htm: 'POST',
      htu: URL_,
      jti: 'j1',
      ath: credentialHash('kh_abc_secret'),
    };
    const sign = (header: Record<string, unknown>, iat = Math.floor(Date.now() / 1000)) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header })
        .setIssuedAt(iat)
        .sign(privateKey);

    await expect(verifyDpopProof(await sign({ typ: 'JWT' }), target)).rejects.toThrow(
      /"typ" header must be "dpop\+jwt"/,
    );
    await expect(
      verifyDpopProof(await sign({ jwk: { ...(await exportJWK(privateKey)) } }), target),
    ).rejects.toThrow(/must be a public key/);
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
      .setIssuedAt()
      .sign(new Uint8Array(32));
    await expect(verifyDpopProof(hs, target)).rejects.toThrow(/algorithm is not accepted/);
    await expect(
      verifyDpopProof(await sign({}, Math.floor(Date.now() / 1000) + 3600), target),
    ).rejects.toThrow(/"iat"/);
    await expect(verifyDpopProof(await sign({}), target)).resolves.toMatchObject({ jti: 'j1' });
  });

  it('should refuse a proof missing a claim, too old, expired, or not yet valid', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({
        htm: 'POST',
        htu: URL_,
        jti: 'j2',
        iat: now,
        ath: credentialHash('kh_abc_secret'),
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey);

    for (const claim of ['iat', 'jti', 'htm', 'htu']) {
      await expect(verifyDpopProof(await sign({ [claim]: undefined }), target)).rejects.toThrow(
        `has no "${claim}" claim`,
      );
    }
    await expect(verifyDpopProof(await sign({ iat: now - 66 }), target)).rejects.toThrow(
      /older than 60 seconds/,
    );
    await expect(verifyDpopProof(await sign({ iat: String(now) }), target)).rejects.toThrow(
      /"iat" claim is not valid/,
    );
    await expect(verifyDpopProof(await sign({ exp: now - 10 }), target)).rejects.toThrow(/"exp"/);
    await expect(verifyDpopProof(await sign({ nbf: now + 60 }), target)).rejects.toThrow(/"nbf"/);
    await expect(verifyDpopProof(await sign({ iat: now - 60 }), target)).resolves.toMatchObject({
      jti: 'j2',
    });
  });

  it("should refuse a proof whose signature is not its own key's", async () => {
    const pair = await dpopKeyPair('ES256');
    const [header, payload] = (
      await generateProof(pair, URL_, 'POST', undefined, 'kh_abc_secret')
    ).split('.');
    const other = (await generateProof(pair, URL_, 'GET', undefined, 'kh_abc_secret')).split('.');

    await expect(verifyDpopProof(`${header}.${payload}.${other[2]}`, target)).rejects.toThrow(
      /signature does not verify/,
    );
  });
});

/** A JWS segment: the base64url of a JSON value. */
function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('verifyDpopProof signatures', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({
    htm: 'POST',
    htu: URL_,
    jti: crypto.randomUUID(),
    iat: now(),
    ath: credentialHash('kh_abc_secret'),
  });

  it.each([
    ['ES256', 'ES256'],
    ['EdDSA', 'Ed25519'],
    ['Ed25519', 'Ed25519'],
    ['RS256', 'RS256'],
    ['PS256', 'PS256'],
  ] as const)('should verify a %s proof signed by jose', async (alg, keyAlg) => {
    const { privateKey, publicKey } = await generateKeyPair(keyAlg, { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT(claims())
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
      .sign(privateKey);

    await expect(verifyDpopProof(proof, target)).resolves.toMatchObject({
      jkt: await calculateJwkThumbprint(jwk),
    });
    // Any change to the signed bytes breaks the signature.
    const [header, payload, signature] = proof.split('.') as [string, string, string];
    const forged = segment({ ...claims(), jti: 'forged' });
    await expect(verifyDpopProof(`${header}.${forged}.${signature}`, target)).rejects.toThrow(
      /signature does not verify/,
    );
    await expect(verifyDpopProof(`${header}.${payload}.${signature}x`, target)).rejects.toThrow(
      /signature does not verify|not a well-formed JWT/,
    );
  });

  it('should refuse a key that does not fit the algorithm, or an RSA key under 2048 bits', async () => {
    const ed = await generateKeyPair('Ed25519', { extractable: true });
    const edJwk = await exportJWK(ed.publicKey);
    const mismatched = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: edJwk })
      .sign((await generateKeyPair('ES256')).privateKey);
    await expect(verifyDpopProof(mismatched, target)).rejects.toThrow(
      /"jwk" is not a valid ES256 public key/,
    );

    // jose will not make a short RSA key: node:crypto does, and signs the proof.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const header = segment({
      alg: 'RS256',
      typ: 'dpop+jwt',
      jwk: weak.publicKey.export({ format: 'jwk' }),
    });
    const payload = segment(claims());
    const signature = createSign('sha256').update(`${header}.${payload}`).sign(weak.privateKey);
    await expect(
      verifyDpopProof(`${header}.${payload}.${signature.toString('base64url')}`, target),
    ).rejects.toThrow(/shorter than 2048 bits/);
  });

  it('should refuse a DER-encoded ECDSA signature, a crit header and malformed segments', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const header = segment({ alg: 'ES256', typ: 'dpop+jwt', jwk });
    const payload = segment(claims());
    const der = createSign('sha256')
      .update(`${header}.${payload}`)
      .sign(KeyObject.from(privateKey))
      .toString('base64url');
    await expect(verifyDpopProof(`${header}.${payload}.${der}`, target)).rejects.toThrow(
      /signature does not verify/,
    );

    const critical = segment({ alg: 'ES256', typ: 'dpop+jwt', jwk, crit: ['exp'] });
    const p1363 = createSign('sha256')
      .update(`${critical}.${payload}`)
      .sign({ key: KeyObject.from(privateKey), dsaEncoding: 'ieee-p1363' })
      .toString('base64url');
    await expect(verifyDpopProof(`${critical}.${payload}.${p1363}`, target)).rejects.toThrow(
      /not understood/,
    );
    await expect(verifyDpopProof(`${header}.${payload}.`, target)).rejects.toThrow(
      /signature does not verify/,
    );
    for (const malformed of [
      '',
      'a.b',
      'a.b.c.d',
      `.${payload}.${der}`,
      `${header}.${payload}.a=`,
    ]) {
      await expect(verifyDpopProof(malformed, target)).rejects.toThrow(/not a well-formed JWT/);
    }
  });
});

describe('the DPoP challenge and URL', () => {
  it('should challenge a refused proof with invalid_dpop_proof, anything else with both schemes', () => {
    const refused = Object.assign(new Error('The "DPoP" proof is old.'), {
      extensions: { reason: 'INVALID_DPOP_PROOF' },
    });
    expect(authenticateChallenge(refused)).toBe(
      `DPoP error="invalid_dpop_proof", error_description="The 'DPoP' proof is old.", algs="ES256 EdDSA Ed25519 RS256 PS256"`,
    );
    expect(authenticateChallenge(new Error('x'))).toMatch(/^Bearer, DPoP algs="/);
  });

  it('should compare URLs without query and fragment', () => {
    expect(proofUrl('https://a.example/graphql?x=1#f')).toBe('https://a.example/graphql');
    expect(proofUrl('https://a.example/graphql#f')).toBe('https://a.example/graphql');
  });
});
