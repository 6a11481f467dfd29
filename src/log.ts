import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON logs on stdout (stderr for CLI commands that print results). Secrets are redacted wherever they appear. */
export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'mailtrail' },
      redact: {
        paths: ['*.authorization', '*.signingKey', '*.apiKey', '*.secret', 'headers.authorization', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination(destination),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
