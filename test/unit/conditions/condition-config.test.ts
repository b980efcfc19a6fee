import { DEFAULT_CONDITION_SETTINGS } from 'keyholder-directive/conditions/condition-settings.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';

const ISSUERS = JSON.stringify([
  {
    issuer: 'https://sso.example.com',
    audience: 'keyholder',
    jwksUrl: 'https://sso.example.com/jwks',
  },
]);

describe('the condition context configuration', () => {
  it('should default to UTC, no proxies, no headers and no device posture', () => {
    expect(readConfig({}).conditions).toEqual(DEFAULT_CONDITION_SETTINGS);
  });

  describe('TRUSTED_PROXIES', () => {
    it('should take CIDR ranges and bare addresses, comma-separated', () => {
      expect(
        readConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1 ,2001:db8::/32,' }).conditions
          ?.trustedProxies,
      ).toEqual(['10.0.0.0/8', '127.0.0.1', '2001:db8::/32']);
    });

    it('should refuse anything that is no address or range, naming it', () => {
      expect(() => readConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(ConfigError);
      expect(() => readConfig({ TRUSTED_PROXIES: '10.0.0.0/8,proxy.local' })).toThrow(
        'TRUSTED_PROXIES: "proxy.local" is not an IP address or CIDR range such as "10.0.0.0/8".',
      );
    });
  });

  describe('CLIENT_IP_HEADER', () => {
    it('should take a header name, lower-cased, with TRUSTED_PROXIES', () => {
      const config = readConfig({
        TRUSTED_PROXIES: '10.0.0.0/8',
        CLIENT_IP_HEADER: 'X-Forwarded-For',
      });
      expect(config.conditions?.clientIpHeader).toBe('x-forwarded-for');
    });

    it('should refuse it without TRUSTED_PROXIES, since nobody could be believed', () => {
      expect(() => readConfig({ CLIENT_IP_HEADER: 'x-forwarded-for' })).toThrow(
        'CLIENT_IP_HEADER needs TRUSTED_PROXIES: "x-forwarded-for" is believed only from a trusted proxy, and none is listed.',
      );
    });

    it('should refuse what is no header name, and credential headers', () => {
      expect(() =>
        readConfig({ TRUSTED_PROXIES: '10.0.0.0/8', CLIENT_IP_HEADER: 'x forwarded' }),
      ).toThrow('CLIENT_IP_HEADER: "x forwarded" is not an HTTP header name.');
      expect(() =>
        readConfig({ TRUSTED_PROXIES: '10.0.0.0/8', CLIENT_IP_HEADER: 'Authorization' }),
      ).toThrow(/CLIENT_IP_HEADER cannot be "authorization": it carries credentials/);
    });
  });

  describe('CONDITION_HEADERS', () => {
    it('should take header names, lower-cased, once each', () => {
      expect(
        readConfig({ CONDITION_HEADERS: 'X-Team, x-region,x-team' }).conditions?.headers,
      ).toEqual(['x-team', 'x-region']);
    });

    it.each(['authorization', 'Cookie', 'proxy-authorization', 'set-cookie'])(
      'should refuse the credential header %s, saying why',
      (header) => {
        expect(() => readConfig({ CONDITION_HEADERS: `x-team,${header}` })).toThrow(
          `CONDITION_HEADERS cannot be "${header.toLowerCase()}": it carries credentials, which must never reach conditions, explanations or the audit log.`,
        );
      },
    );

    it('should refuse the CLIENT_IP_HEADER, which conditions read as request.ip', () => {
      expect(() =>
        readConfig({
          TRUSTED_PROXIES: '10.0.0.0/8',
          CLIENT_IP_HEADER: 'x-forwarded-for',
          CONDITION_HEADERS: 'x-team,X-Forwarded-For',
        }),
      ).toThrow(
        'CONDITION_HEADERS cannot list "x-forwarded-for", the CLIENT_IP_HEADER: any client can send it, so conditions read it as request.ip, which believes it only from a trusted proxy.',
      );
    });

    it('should refuse the DEVICE_HEADER, which conditions read as device', () => {
      expect(() =>
        readConfig({
          TRUSTED_PROXIES: '10.0.0.0/8',
          DEVICE_HEADER: 'x-device',
          CONDITION_HEADERS: 'x-device',
        }),
      ).toThrow(/CONDITION_HEADERS cannot list "x-device", the DEVICE_HEADER/);
    });

    it('should refuse malformed names and more than 50 headers', () => {
      expect(() => readConfig({ CONDITION_HEADERS: 'x-team,x:region' })).toThrow(
        'CONDITION_HEADERS: "x:region" is not an HTTP header name.',
      );
      const many = Array.from({ length: 51 }, (_, i) => `x-h${i}`).join(',');
      expect(() => readConfig({ CONDITION_HEADERS: many })).toThrow(
        'CONDITION_HEADERS may list at most 50 headers.',
      );
    });
  });

  describe('CONDITION_TIME_ZONE', () => {
    it('should take an IANA time zone', () => {
      expect(readConfig({ CONDITION_TIME_ZONE: 'Europe/Berlin' }).conditions?.timeZone).toBe(
        'Europe/Berlin',
      );
      expect(readConfig({ CONDITION_TIME_ZONE: '' }).conditions?.timeZone).toBe('UTC');
    });

    it('should refuse a name Intl does not know', () => {
      expect(() => readConfig({ CONDITION_TIME_ZONE: 'Mars/Olympus_Mons' })).toThrow(
        'CONDITION_TIME_ZONE: "Mars/Olympus_Mons" is not an IANA time zone such as "Europe/Berlin" or "UTC".',
      );
    });
  });

  describe('DEVICE_HEADER', () => {
    it('should take a header name with TRUSTED_PROXIES', () => {
      expect(
        readConfig({ TRUSTED_PROXIES: '10.0.0.0/8', DEVICE_HEADER: 'X-Device-Posture' }).conditions
          ?.deviceHeader,
      ).toBe('x-device-posture');
    });

    it('should refuse it without TRUSTED_PROXIES, as a credential header, or as the CLIENT_IP_HEADER', () => {
      expect(() => readConfig({ DEVICE_HEADER: 'x-device-posture' })).toThrow(
        'DEVICE_HEADER needs TRUSTED_PROXIES: "x-device-posture" is believed only from a trusted proxy, and none is listed.',
      );
      expect(() => readConfig({ TRUSTED_PROXIES: '10.0.0.0/8', DEVICE_HEADER: 'cookie' })).toThrow(
        /DEVICE_HEADER cannot be "cookie": it carries credentials/,
      );
      expect(() =>
        readConfig({
          TRUSTED_PROXIES: '10.0.0.0/8',
          CLIENT_IP_HEADER: 'x-real-ip',
          DEVICE_HEADER: 'x-real-ip',
        }),
      ).toThrow('DEVICE_HEADER and CLIENT_IP_HEADER cannot both be "x-real-ip".');
    });
  });

  describe('DEVICE_CLAIM', () => {
    it('should take a claim name when identity providers are configured', () => {
      expect(
        readConfig({ OIDC_ISSUERS: ISSUERS, DEVICE_CLAIM: 'device' }).conditions?.deviceClaim,
      ).toBe('device');
    });

    it('should refuse it without OIDC_ISSUERS, and refuse a name with spaces', () => {
      expect(() => readConfig({ DEVICE_CLAIM: 'device' })).toThrow(
        'DEVICE_CLAIM names the claim "device" of identity-provider tokens, but OIDC_ISSUERS lists no identity provider.',
      );
      expect(() => readConfig({ OIDC_ISSUERS: ISSUERS, DEVICE_CLAIM: 'dev ice' })).toThrow(
        'DEVICE_CLAIM: "dev ice" is not a claim name.',
      );
    });
  });
});
