import { badUserInput } from 'keyholder-directive/errors.js';
import { requireText, truncate } from '../shared/validate.js';

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * A webhook URL, normalised: absolute `http:` or `https:`, at most 2,048 characters, with no
 * user name or password in it (a secret in a URL ends up in logs). Anything else is
 * `BAD_USER_INPUT` naming the problem. Where it points is checked by `WebhookTargets`.
 */
export function parseWebhookUrl(raw: string): string {
  const text = requireText(raw, 'url', MAX_WEBHOOK_URL_LENGTH);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badUserInput(`"${truncate(text)}" is not an absolute URL.`, { field: 'url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badUserInput(
      `A webhook URL must use http or https; "${truncate(text)}" uses ${url.protocol.slice(0, -1)}.`,
      { field: 'url' },
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw badUserInput(
      'A webhook URL must not contain a user name or password; deliveries are signed instead.',
      { field: 'url' },
    );
  }
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) {
    throw badUserInput(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters.`, {
      field: 'url',
    });
  }
  return url.href;
}
