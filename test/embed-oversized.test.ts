import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailtrail } from '../src/index.js';
import { startEmbedded } from './helpers/embedded.js';
import { postOversized } from './helpers/oversized.js';
import { RESEND_SECRET, signResend } from './helpers/signers.js';
import type { TestStore } from './helpers/stores.js';

// Mounted in a host app, Mailtrail answers a body over its limit as its own server does: the 413 reaches a sender
// that is still writing the body (the rest is read and dropped), instead of a reset half a second later.

const LIMIT = 1024 * 1024;
/** More than loopback buffers hold between sender and server, so the sender is still writing when the 413 is ready. */
const STILL_ON_ITS_WAY = 6 * 1024 * 1024;
const TRIES = 10;

describe('an oversized body posted to Mailtrail mounted in a host app', () => {
  let storage: TestStore;
  let mailtrail: Mailtrail;
  let server: Server;
  let fastify: FastifyInstance;
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    ({ mailtrail, storage } = await startEmbedded({ resend: { signingKey: RESEND_SECRET } }, { bodyLimit: LIMIT }));
    const app = express();
    app.use('/api', mailtrail.middleware());
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls.Express = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fastify = Fastify();
    await fastify.register(mailtrail.fastifyPlugin, { prefix: '/api' });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    urls.Fastify = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await fastify.close();
    await mailtrail.close();
    await storage.cleanup();
  });

  for (const framework of ['Express', 'Fastify']) {
    for (const framing of ['length', 'chunked'] as const) {
      it(`${framework}, ${framing === 'length' ? 'declared in Content-Length' : 'chunked'}: every sender reads the 413`, async () => {
        const headers = signResend('{}', 'msg_svix_oversized');
        const outcomes = [];
        for (let i = 0; i < TRIES; i++) outcomes.push(await postOversized(urls[framework]!, '/api/track/webhook/resend', headers, STILL_ON_ITS_WAY, framing));
        expect(outcomes.filter((outcome) => outcome.status !== 413)).toEqual([]);
        expect(JSON.parse(outcomes[0]!.body)).toMatchObject({ error: { code: 'MT_ERR_BODY_TOO_LARGE' } });
      });
    }
  }
});
