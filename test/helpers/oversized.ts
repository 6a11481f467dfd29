import { connect } from 'node:net';

// A sender that writes a whole oversized request before it reads the answer, as providers' HTTP clients do: the
// answer (a 413) must reach it although it is still writing when the answer is ready.

/** The size of each write. */
export const CHUNK = 64 * 1024;

export interface Outcome {
  status: number | null;
  body: string;
  /** Why no complete response was read: a socket error code, or a premature close. */
  failure: string | null;
}

/**
 * Posts `size` bytes over a raw socket as fast as the kernel takes them (the next chunk goes as soon as the last is
 * handed over), and looks at the response once the whole body is written, as a client that sends its whole request
 * before it reads the answer does: a reset while it is still writing loses the answer.
 */
export function postOversized(url: string, path: string, headers: Record<string, string>, size: number, framing: 'length' | 'chunked'): Promise<Outcome> {
  const { hostname, port } = new URL(url);
  const head = [
    `POST ${path} HTTP/1.1`,
    `host: ${hostname}:${port}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    framing === 'length' ? `content-length: ${size}` : 'transfer-encoding: chunked',
    '',
    '',
  ].join('\r\n');
  const filler = Buffer.alloc(CHUNK, 'x');
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let written = false;
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const settleIfAnswered = () => {
      const response = parseResponse(received);
      if (written && response) settle({ ...response, failure: null });
    };
    const timer = setTimeout(() => settle({ status: null, body: '', failure: 'no response within 10 s' }), 10_000);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const chunk = filler.subarray(0, Math.min(CHUNK, size - sent));
        sent += chunk.length;
        const framed = framing === 'length' ? chunk : Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
        if (!socket.write(framed)) return void socket.once('drain', pump);
      }
      socket.write(framing === 'length' ? '' : '0\r\n\r\n', () => {
        written = true;
        settleIfAnswered();
      });
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      settleIfAnswered();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => settle({ status: null, body: '', failure: `${error.code ?? error.message} after ${sent} bytes` }));
    socket.on('close', () => settle({ status: null, body: '', failure: `closed before a complete response, after ${sent} bytes` }));
  });
}

/** A complete HTTP/1.1 response with a Content-Length body, or null while more is needed. */
export function parseResponse(bytes: Buffer): { status: number; body: string } | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = bytes.subarray(0, end).toString('latin1');
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
  if (!Number.isFinite(length) || bytes.length < end + 4 + length) return null;
  return { status: Number(head.split(' ')[1]), body: bytes.subarray(end + 4, end + 4 + length).toString('utf8') };
}

