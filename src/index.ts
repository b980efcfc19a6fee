/** The library's API, re-exported so existing imports of the server package keep working. */
export * from 'keyholder-directive';
