import { createHmac, randomBytes } from 'node:crypto';

/**
 * A new signing secret: `whsec_` and 32 random bytes (256 bits) in standard base64 — the form the
 * Standard Webhooks libraries take as is.
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `x-keyholder-signature` of a delivery: `sha256=` and the hex HMAC-SHA256, keyed with the
 * webhook's secret, of `<timestamp>.<body>` (the `x-keyholder-timestamp` header, a dot, the raw body).
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The `webhook-signature` of a delivery, the Standard Webhooks way: `v1,` and the base64
 * HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the bytes the secret's part
 * after `whsec_` decodes to. Secrets made before the standard form were base64url; Node decodes
 * both alphabets, so those deliveries verify once a receiver maps `-`→`+` and `_`→`/`.
 */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
