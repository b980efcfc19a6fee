import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';
import { contentSecurityPolicy } from '../../../src/server/console-routes.js';

describe('CONSOLE and GRAPHIQL', () => {
  it('should serve the console unless CONSOLE=off', () => {
    expect(readConfig({}).console).toBe(true);
    expect(readConfig({ CONSOLE: '' }).console).toBe(true);
    expect(readConfig({ CONSOLE: 'off' }).console).toBe(false);
  });

  it('should serve GraphiQL outside production, and in production only with GRAPHIQL=on', () => {
    expect(readConfig({}).graphiql).toBe(true);
    expect(readConfig({ GRAPHIQL: 'off' }).graphiql).toBe(false);
    expect(readConfig({ NODE_ENV: 'production' }).graphiql).toBe(false);
    expect(readConfig({ NODE_ENV: 'production', GRAPHIQL: 'on' }).graphiql).toBe(true);
  });

  it('should refuse any other value, naming the ones it takes', () => {
    expect(() => readConfig({ CONSOLE: 'yes' })).toThrow(ConfigError);
    expect(() => readConfig({ CONSOLE: 'yes' })).toThrow(
      'CONSOLE must be "on" or "off"; got "yes".',
    );
    expect(() => readConfig({ GRAPHIQL: 'true' })).toThrow(
      'GRAPHIQL must be "on" or "off"; got "true".',
    );
  });
});

describe('the console content security policy', () => {
  it("should allow this origin only, and this origin's WebSocket", () => {
    expect(contentSecurityPolicy('keyholder.example:8443')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws://keyholder.example:8443 wss://keyholder.example:8443; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(contentSecurityPolicy('[::1]:4000')).toContain('ws://[::1]:4000 wss://[::1]:4000');
  });

  it("should let the console reach the identity providers' token endpoints, and nothing else of theirs", () => {
    const policy = contentSecurityPolicy('kh.example', ['https://login.example.com/oauth2/token']);
    expect(policy).toContain(
      "connect-src 'self' ws://kh.example wss://kh.example https://login.example.com;",
    );
    expect(policy).toContain("script-src 'self';");
  });

  it('should never write a Host header that could add a source into the policy', () => {
    for (const host of ['evil.example; script-src *', 'a b', "x'y", undefined]) {
      expect(contentSecurityPolicy(host)).toContain("connect-src 'self';");
    }
  });
});
