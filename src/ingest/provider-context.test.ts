import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderContext } from './provider-context.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('the provider context, against a server on loopback', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];
  let certDir: string;

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'mailtrail-certs-'));
    writeFileSync(join(certDir, 'SimpleNotificationService-local.pem'), 'from the directory');
    server = createServer((request, response) => {
      hits.push(request.url!);
      if (request.url === '/huge') response.end(Buffer.alloc(1 << 20, 'a'));
      else if (request.url === '/redirect') response.writeHead(302, { location: '/cert.pem' }).end();
      else if (request.url === '/slow') setTimeout(() => response.end('late'), 2000);
      else if (request.url!.endsWith('.pem')) response.end(PEM);
      else response.writeHead(404).end('no');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('reads at most 64 KiB of an answer', async () => {
    const { body } = await createProviderContext().fetchText(`${base}/huge`);
    expect(body.length).toBe(64 * 1024);
  });

  it('does not follow redirects', async () => {
    const context = createProviderContext();
    expect((await context.fetchText(`${base}/redirect`)).status).toBe(302);
    await expect(context.certificate(`${base}/redirect`)).rejects.toMatchObject({ code: 'MT_ERR_PROVIDER_UNREACHABLE' });
  });

  it('gives up on a slow host with MT_ERR_PROVIDER_UNREACHABLE', async () => {
    await expect(createProviderContext({ timeoutMs: 200 }).fetchText(`${base}/slow`)).rejects.toMatchObject({ code: 'MT_ERR_PROVIDER_UNREACHABLE' });
  });

  it('caches a certificate, but not a failure', async () => {
    const context = createProviderContext();
    hits.length = 0;
    expect(await context.certificate(`${base}/a.pem`)).toBe(PEM);
    expect(await context.certificate(`${base}/a.pem`)).toBe(PEM);
    expect(hits).toEqual(['/a.pem']);
    // the host says it has no such certificate: not SNS's message (401), and nothing cached
    await expect(context.certificate(`${base}/missing`)).rejects.toMatchObject({ code: 'MT_ERR_SIGNATURE_INVALID' });
    await expect(context.certificate(`${base}/missing`)).rejects.toMatchObject({ code: 'MT_ERR_SIGNATURE_INVALID' });
    expect(hits).toEqual(['/a.pem', '/missing', '/missing']);
  });

  it('reads a certificate from the directory by the last part of its URL, without the network', async () => {
    hits.length = 0;
    const context = createProviderContext({ certDir });
    expect(await context.certificate('https://sns.us-east-1.amazonaws.com/SimpleNotificationService-local.pem')).toBe('from the directory');
    expect(hits).toEqual([]);
  });
});
