/**
 * The signed-in person's API key: in this tab's sessionStorage only (never a cookie, never the
 * URL), gone when the tab closes or the person signs out.
 */
const KEY = 'keyholder.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** The Authorization header value for `key`. */
export function bearer(key: string): string {
  return `Bearer ${key}`;
}
