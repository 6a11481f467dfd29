import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMachineRanges } from '../src/engagement/machine-ranges.js';
import { startServer, type TestServer } from './helpers/server.js';

// An operator's own address ranges (MAILTRAIL_MACHINE_RANGES, or tracking.machineRanges in the library) replace the
// shipped ones in the verdicts of stored hits. The test's hits come from 127.0.0.1, a gateway only in the custom file.
const BROWSER = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  accept: 'image/avif,image/webp,*/*',
  'accept-language': 'en-GB,en;q=0.9',
};
const LOOPBACK_GATEWAY = parseMachineRanges({
  updatedAt: '2026-12-03',
  ranges: [{ cidr: '127.0.0.0/8', role: 'security-gateway', owner: 'the test', what: 'a mail gateway on loopback', source: 'test/tracking-ranges.test.ts' }],
});

describe('machine ranges chosen by the operator', () => {
  let shipped: TestServer;
  let custom: TestServer;
  beforeAll(async () => {
    [shipped, custom] = await Promise.all([startServer('sqlite'), startServer('sqlite', { tracking: { machineRanges: LOOPBACK_GATEWAY } })]);
  });
  afterAll(() => Promise.all([shipped?.stop(), custom?.stop()]));

  async function register(server: TestServer): Promise<string> {
    const integrationId = (await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } })).body.id;
    const registered = await server.api('/v1/messages', { body: { integrationId, id: 'ranges-1', to: 'ada@example.com', html: '<p>Hi</p>' } });
    return /https:\/\/mailtrail\.example\.com(\/track\/open\/[\w-]+)/.exec(registered.body.html as string)![1]!;
  }
  async function openFrom(server: TestServer, pixel: string): Promise<{ machine: boolean; machineKind: string | null }> {
    expect((await fetch(server.url + pixel, { headers: BROWSER })).status).toBe(200);
    const [event] = (await server.api('/v1/events?messageId=ranges-1')).body.data as { machine: boolean; machineKind: string | null }[];
    return event!;
  }

  it('counts a browser open as a person from an address the shipped file does not list, and as a link scanner when the operator lists it', async () => {
    const [shippedPixel, customPixel] = await Promise.all([register(shipped), register(custom)]);
    // past the seconds after sending in which any fetch is a prefetch
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await openFrom(shipped, shippedPixel)).toMatchObject({ machine: false, machineKind: null });
    expect(await openFrom(custom, customPixel)).toMatchObject({ machine: true, machineKind: 'link-scanner' });
  });
});
