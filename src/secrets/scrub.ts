/**
 * Secrets removed from free text: every log line (log.ts) and everything
 * stored from a VM (step and pull output, failure details), which the API
 * serves. A step that printed `env`, an `Authorization` header or a key file
 * must not put them in Redis for anyone reading `GET /v1/machines/:id`.
 * Patterns work on raw text and on JSON-escaped text (a log line is JSON).
 */

const REDACTED = '[redacted]';

// PEM and OpenSSH private key blocks, whole: raw, and inside a JSON string (newlines escaped).
const KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;
const ESCAPED_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[^"\\]|\\.)*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;
// A block cut short (by the output's tail limit) still hides what is left of it, up to the end of its JSON string.
const KEY_BLOCK_START = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[^"\\]|\\.)*/g;
// ...and a tail that starts inside one, from the start of the text (or of its JSON string) to the END line.
const KEY_BLOCK_END = /(^|")(?:[^"\\]|\\.)*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;

// `Authorization: Bearer eyJ...`; a challenge's `Bearer realm="..."` is not a token and stays readable
// (in a JSON line the challenge's quote is escaped: `realm=\"`).
const BEARER = /(Bearer\s+)(?![A-Za-z]+=\\?")[A-Za-z0-9._~+/-]+=*/gi;

// AWS access key ids (long-term AKIA, temporary ASIA).
const AWS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;

// `password=...`, `token: ...`, `"secret": "..."`, `AWS_SECRET_ACCESS_KEY=...`, `\"api_key\":\"...\"`:
// the name (any word containing one of these), its closing quote, `=` or `:`, then the value, quoted or bare.
// The lookbehind starts a name only at a word's start, so a long line costs linear time.
const NAME = String.raw`(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{0,40}?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|credentials?)[A-Za-z0-9_.-]{0,40}`;
const VALUE = String.raw`\\"(?:[^"\\]|\\[^"])*\\"|"[^"]*"|'[^']*'|[^\s"'\\,;&[\]{}()<>]+`;
const ASSIGNMENT = new RegExp(String.raw`(${NAME}(?:\\?["'])?[ \t]*[:=][ \t]*)(${VALUE})`, 'gi');
// A 40-character AWS secret after such a name with only spaces between (`aws_secret_access_key  wJalr...`).
const SPACED_SECRET = new RegExp(String.raw`(${NAME}[ \t]+)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])`, 'gi');

// `https://user:pass@host`: the user and password go, the host stays.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:"'\\]+:[^\s/@"'\\]*@/gi;

export function scrubSecrets(text: string): string {
  let out = text;
  if (out.includes('PRIVATE KEY')) out = out.replace(ESCAPED_KEY_BLOCK, REDACTED).replace(KEY_BLOCK, REDACTED).replace(KEY_BLOCK_START, REDACTED).replace(KEY_BLOCK_END, `$1${REDACTED}`);
  if (/bearer/i.test(out)) out = out.replace(BEARER, `$1${REDACTED}`);
  out = out.replace(AWS_KEY_ID, REDACTED);
  out = out.replace(ASSIGNMENT, (_, name: string, value: string) => `${name}${quoted(value, REDACTED)}`);
  out = out.replace(SPACED_SECRET, `$1${REDACTED}`);
  if (out.includes('://')) out = out.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  return out;
}

/** The replacement inside the value's own quotes, so JSON stays JSON. */
function quoted(value: string, replacement: string): string {
  if (value.startsWith('\\"')) return `\\"${replacement}\\"`;
  const quote = value[0];
  return quote === '"' || quote === "'" ? `${quote}${replacement}${quote}` : replacement;
}
