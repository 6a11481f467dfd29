import { describe, expect, it } from 'vitest';
import { stripPrefix } from './node-handler.js';

describe('stripPrefix', () => {
  it('removes the prefix from a path under it, keeping the query', () => {
    expect(stripPrefix('/api/v1/messages?limit=2', '/api')).toBe('/v1/messages?limit=2');
  });

  it('makes the prefix itself the root', () => {
    expect(stripPrefix('/api', '/api')).toBe('/');
    expect(stripPrefix('/api?x=1', '/api')).toBe('/?x=1');
  });

  it('leaves a path outside the prefix whole, so Mailtrail answers it 404', () => {
    expect(stripPrefix('/apix/v1', '/api')).toBe('/apix/v1');
    expect(stripPrefix('/other', '/api')).toBe('/other');
  });
});
