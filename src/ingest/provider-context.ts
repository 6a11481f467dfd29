import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MailtrailError } from '../core/errors.js';
import type { ProviderContext } from '../providers/types.js';

export interface ProviderContextOptions {
  /** A directory of PEM certificates named as the last segment of their URL (MAILTRAIL_SNS_CERT_DIR). */
  certDir?: string | undefined;
  /** The fetch used for calls to providers; tests and proxies replace it. */
  fetch?: typeof fetch | undefined;
  timeoutMs?: number | undefined;
}

/** A certificate is ~2 KB and a confirmation answer less: nothing a provider sends here is larger. */
const MAX_RESPONSE = 64 * 1024;
const MAX_CERTIFICATES = 100;
const CERT_FILE = /^[\w.-]+\.pem$/;

/**
 * Calls to providers' own hosts, which adapters make while verifying (SNS certificates) or answering a handshake
 * (SNS subscription confirmation). The adapter checks each URL's host first; redirects are never followed, so a
 * provider URL cannot lead anywhere else. Certificates are cached for the life of the process.
 */
export function createProviderContext(options: ProviderContextOptions = {}): ProviderContext {
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const certificates = new Map<string, Promise<string>>();

  async function fetchText(url: string): Promise<{ status: number; body: string }> {
    try {
      const response = await fetchImpl(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      return { status: response.status, body: await readCapped(response) };
    } catch (error) {
      throw new MailtrailError('MT_ERR_PROVIDER_UNREACHABLE', `could not reach ${new URL(url).host}`, { cause: error });
    }
  }

  async function loadCertificate(url: string): Promise<string> {
    const file = new URL(url).pathname.split('/').pop() ?? '';
    if (options.certDir && CERT_FILE.test(file)) {
      const local = await readFile(join(options.certDir, file), 'utf8').catch(() => null);
      if (local !== null) return local;
    }
    const { status, body } = await fetchText(url);
    // The host answered that it has no such certificate: the message is not SNS's. A failure of the host is ours
    // to retry (502), and SNS retries too.
    if (status >= 400 && status < 500) throw new MailtrailError('MT_ERR_SIGNATURE_INVALID', `SNS has no signing certificate at ${url} (HTTP ${status})`);
    if (status !== 200 || !body.includes('-----BEGIN CERTIFICATE-----')) {
      throw new MailtrailError('MT_ERR_PROVIDER_UNREACHABLE', `the signing certificate at ${url} could not be fetched (HTTP ${status})`);
    }
    return body;
  }

  return {
    fetchText,
    certificate(url) {
      let pending = certificates.get(url);
      if (!pending) {
        pending = loadCertificate(url);
        // A failed download is not cached: the provider's retry tries again.
        pending.catch(() => certificates.delete(url));
        // SNS uses a handful of certificates: past the limit the oldest entry goes, not the ones in use.
        if (certificates.size >= MAX_CERTIFICATES) certificates.delete(certificates.keys().next().value!);
        certificates.set(url, pending);
      } else {
        certificates.delete(url);
        certificates.set(url, pending);
      }
      return pending;
    },
  };
}

/** The body as text, reading no more than MAX_RESPONSE bytes of it. */
async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_RESPONSE) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE).toString('utf8');
}
