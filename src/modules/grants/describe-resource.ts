/** A resource pattern in a sentence: every resource, a prefix, or one id. */
export function describeResource(resource: string | null): string {
  if (resource === null) return 'every resource';
  return resource.endsWith('*')
    ? `resources starting with "${resource.slice(0, -1)}"`
    : `resource "${resource}"`;
}
