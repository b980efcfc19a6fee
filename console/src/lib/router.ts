import { useSyncExternalStore } from 'react';

/** Where the console lives; every page is a path under it. */
export const BASE = '/console';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener('keyholder:navigate', onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener('keyholder:navigate', onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

/** The current path and query string; components re-render on navigation. */
export function useLocation(): { path: string; search: string } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const mark = current.indexOf('?');
  return mark === -1
    ? { path: current, search: '' }
    : { path: current.slice(0, mark), search: current.slice(mark) };
}

/** Goes to `to` (a path with its query string) without reloading; `replace` keeps history short. */
export function navigate(to: string, replace = false): void {
  if (to === snapshot()) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event('keyholder:navigate'));
}

/** The console page a path names: its first segment under /console, and the rest. */
export function pageOf(path: string): { page: string; rest: string[] } {
  if (path === '/graphql' || path === '/graphql/') return { page: 'graphiql', rest: [] };
  const inside = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  const [page = '', ...rest] = inside.split('/').filter((part) => part !== '');
  return { page, rest: rest.map(decodeURIComponent) };
}
