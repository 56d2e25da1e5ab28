import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

// A key pasted into an error message or command output is not under any
// field name; scrub the PEM/OpenSSH block itself from every line written.
const KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;
const ESCAPED_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[^"\\]|\\.)*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;

// A bearer token quoted in an error or a command's output (`Authorization: Bearer eyJ...`);
// a challenge's `Bearer realm="..."` is not a token and stays readable.
// (In a JSON line the challenge's quote is escaped: `realm=\"`.)
const BEARER = /(Bearer\s+)(?![A-Za-z]+=\\?")[A-Za-z0-9._~+/-]+=*/gi;

export function scrubSecrets(line: string): string {
  const keys = line.includes('PRIVATE KEY') ? line.replace(ESCAPED_KEY_BLOCK, '[redacted]').replace(KEY_BLOCK, '[redacted]') : line;
  return /bearer/i.test(keys) ? keys.replace(BEARER, '$1[redacted]') : keys;
}

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
