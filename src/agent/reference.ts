/**
 * Image names and tags as the Docker Registry HTTP API v2 spells them. A
 * version ends up in a shell command on the machine (the pull command) and in
 * a URL, so anything outside this grammar is refused wherever it comes in:
 * config, the API, the CLI.
 */

// distribution/reference: path components of lower-case alphanumerics joined by separators.
const IMAGE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isImageName(value: string): boolean {
  return value.length <= 255 && IMAGE.test(value);
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** `vmpool/build-agent:1.5.0` split at its last colon; undefined unless both halves are valid. */
export function parseReference(text: string): { image: string; tag: string } | undefined {
  const at = text.lastIndexOf(':');
  if (at <= 0) return undefined;
  const image = text.slice(0, at);
  const tag = text.slice(at + 1);
  return isImageName(image) && isTag(tag) ? { image, tag } : undefined;
}

/** Quotes a value for /bin/sh unless it is made only of characters the shell leaves alone. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._:/@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
