import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  describeWebhookActions,
  parseWebhookActions,
} from '../../../src/modules/webhooks/webhook-action-filter.js';
import {
  generateWebhookSecret,
  signStandardWebhook,
  signWebhook,
} from '../../../src/modules/webhooks/webhook-signature.js';
import { parseWebhookUrl } from '../../../src/modules/webhooks/webhook-url.js';

describe('parseWebhookActions', () => {
  it('should split exact actions from prefixes ending in "." or "*"', () => {
    const filter = parseWebhookActions(['grant.created', 'identity.', 'apikey*', 'grant.created']);

    expect(filter).toEqual({ actions: ['grant.created'], actionPrefixes: ['identity.', 'apikey'] });
    expect(describeWebhookActions(filter)).toEqual(['grant.created', 'identity.', 'apikey*']);
  });

  it('should take "*" as every action', () => {
    expect(parseWebhookActions(['*'])).toEqual({ actions: [], actionPrefixes: [''] });
  });

  it.each([
    [[], 'at least one'],
    [['grant.creatd'], 'Action "grant.creatd" matches no audited action'],
    [['grant'], 'Action "grant" matches no audited action'],
    [['payroll.*'], 'Action "payroll.*" matches no audited action'],
  ])('should refuse %j', (entries, message) => {
    expect(() => parseWebhookActions(entries)).toThrow(message);
  });
});

describe('parseWebhookUrl', () => {
  it('should accept absolute http and https URLs, normalised', () => {
    expect(parseWebhookUrl(' https://Hooks.Example.com/a?b=1 ')).toBe(
      'https://hooks.example.com/a?b=1',
    );
    expect(parseWebhookUrl('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080/x');
  });

  it.each([
    ['example.com/x', 'is not an absolute URL'],
    ['file:///etc/passwd', 'must use http or https'],
    ['https://a:b@example.com/', 'must not contain a user name or password'],
    ['https://example.com/\u0000', 'control characters'],
  ])('should refuse %j', (url, message) => {
    expect(() => parseWebhookUrl(url)).toThrow(message);
  });
});

describe('signWebhook', () => {
  it('should be the hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret', () => {
    // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    expect(signWebhook('whsec_test', '1700000000', '{"a":1}')).toBe(
      'sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789',
    );
  });
});

describe('signStandardWebhook', () => {
  const at = new Date(1_700_000_000_000);

  it('should sign as the Standard Webhooks library does, given the secret as shown', () => {
    const secret = generateWebhookSecret();

    expect(signStandardWebhook(secret, 'msg_1', '1700000000', '{"a":1}')).toBe(
      new Webhook(secret).sign('msg_1', at, '{"a":1}'),
    );
  });

  it('should sign a pre-standard base64url secret so it verifies once mapped to base64', () => {
    const legacy = `whsec_-_-_${'A'.repeat(39)}`;
    const mapped = `whsec_${legacy.slice(6).replaceAll('-', '+').replaceAll('_', '/')}=`;

    expect(signStandardWebhook(legacy, 'msg_1', '1700000000', '{"a":1}')).toBe(
      new Webhook(mapped).sign('msg_1', at, '{"a":1}'),
    );
  });
});
