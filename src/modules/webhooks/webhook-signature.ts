import { createHmac, randomBytes } from 'node:crypto';

/** A new signing secret: `whsec_` and 32 random bytes (256 bits), base64url. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * The `x-keyholder-signature` of a delivery: `sha256=` and the hex HMAC-SHA256, keyed with the
 * webhook's secret, of `<timestamp>.<body>` (the `x-keyholder-timestamp` header, a dot, the raw body).
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
