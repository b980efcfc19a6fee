import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config.js';

describe('FEDERATION', () => {
  it('should serve the plain schema unless FEDERATION=subgraph', () => {
    expect(readConfig({}).federation).toBe('off');
    expect(readConfig({ FEDERATION: '' }).federation).toBe('off');
    expect(readConfig({ FEDERATION: 'off' }).federation).toBe('off');
    expect(readConfig({ FEDERATION: 'subgraph' }).federation).toBe('subgraph');
  });

  it('should refuse any other value, naming the ones it takes', () => {
    expect(() => readConfig({ FEDERATION: 'supergraph' })).toThrow(ConfigError);
    expect(() => readConfig({ FEDERATION: 'yes' })).toThrow(
      'FEDERATION must be "off" or "subgraph"; got "yes".',
    );
  });
});
