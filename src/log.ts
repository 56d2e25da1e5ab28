import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { scrubSecrets } from './secrets/scrub.js';

export type { Logger } from 'pino';

/**
 * Fields that hold secrets wherever they appear in a log object (pino redacts
 * by path, so the common nesting depths are listed).
 */
const SECRET_KEYS = [
  'privateKey',
  'private_key',
  'passphrase',
  'password',
  'token',
  'apiToken',
  'secretAccessKey',
  'sessionToken',
  'accessKeyId',
  'credentials',
  'authorization',
  'Authorization',
  // Registry bearer tokens (the token endpoint's answer, and what we keep of it).
  'access_token',
  'refresh_token',
  'bearerToken',
  'registryToken',
];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
];

// A key, token or password pasted into an error message or a command's output is
// not under any field name: scrubSecrets rewrites every line written.
export { scrubSecrets };

export interface LogOptions {
  level: string;
  pretty: boolean;
  /** Where lines go; stdout by default. Tests pass a buffer. */
  destination?: DestinationStream;
}

/** The one root logger of a process; modules take `child({ component })` of it. */
export function createLogger(options: LogOptions): Logger {
  const destination =
    options.destination ??
    (options.pretty
      ? pretty({ colorize: process.stdout.isTTY, translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'", ignore: 'pid,hostname', singleLine: true, sync: true })
      : pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      hooks: { streamWrite: scrubSecrets },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
