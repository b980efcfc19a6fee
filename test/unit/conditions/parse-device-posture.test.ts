import { describe, expect, it } from 'vitest';
import {
  MAX_DEVICE_HEADER_BYTES,
  parseDevicePosture,
} from '../../../src/conditions/parse-device-posture.js';

describe('parseDevicePosture', () => {
  it('should read a JSON object', () => {
    expect(parseDevicePosture('{"managed":true,"os":"macos"}')).toEqual({
      managed: true,
      os: 'macos',
    });
  });

  it('should give {} for a missing, malformed or non-object value', () => {
    for (const value of [undefined, '', '{"managed":', 'true', '[1,2]', 'null', '"managed"']) {
      expect(parseDevicePosture(value)).toEqual({});
    }
  });

  it('should give {} for a value over 4 KiB, even a valid object', () => {
    const big = JSON.stringify({ managed: true, padding: 'x'.repeat(MAX_DEVICE_HEADER_BYTES) });
    const fits = JSON.stringify({ managed: true, padding: 'x'.repeat(4_000) });

    expect(parseDevicePosture(big)).toEqual({});
    expect(parseDevicePosture(fits)).toMatchObject({ managed: true });
  });
});
