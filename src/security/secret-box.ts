import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * Seals secrets at rest with AES-256-GCM under a key derived from the master secret. The context (for example
 * an integration id) is bound as associated data, so a sealed value copied onto another row does not open.
 */
export class SecretBox {
  private readonly key: Buffer;
  /** A short fingerprint of the key, safe to log, to tell which master secret sealed a database. */
  readonly fingerprint: string;

  constructor(masterSecret: string) {
    if (masterSecret.length < 32) throw new Error('the master secret must be at least 32 characters');
    this.key = Buffer.from(hkdfSync('sha256', masterSecret, 'mailtrail', 'mailtrail secret box v1', 32));
    this.fingerprint = createHash('sha256').update(this.key).digest('hex').slice(0, 12);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed Mailtrail secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}

export function generateMasterSecret(): string {
  return randomBytes(32).toString('base64url');
}
