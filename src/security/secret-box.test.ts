import { describe, expect, it } from 'vitest';
import { SecretBox, generateMasterSecret } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(generateMasterSecret());

  it('opens what it sealed, and the sealed text does not contain the secret', () => {
    const sealed = box.seal('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE', 'int_1');
    expect(sealed).not.toContain('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE');
    expect(box.open(sealed, 'int_1')).toBe('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE');
  });
  it('does not open under another context', () => {
    expect(() => box.open(box.seal('secret', 'int_1'), 'int_2')).toThrow();
  });
  it('does not open under another master secret', () => {
    expect(() => new SecretBox(generateMasterSecret()).open(box.seal('secret', 'int_1'), 'int_1')).toThrow();
  });
  it('does not open a tampered value', () => {
    const sealed = box.seal('secret', 'int_1');
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => box.open(tampered, 'int_1')).toThrow();
  });
  it('refuses a short master secret', () => {
    expect(() => new SecretBox('short')).toThrow(/32 characters/);
  });
});
