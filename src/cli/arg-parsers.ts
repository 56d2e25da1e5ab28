import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../duration.js';

/** Option parsers shared by the CLI's commands: they refuse a bad value before any request is made. */

export function probability(value: string): number {
  const p = Number(value);
  if (value.trim() === '' || !(p >= 0 && p <= 1)) throw new InvalidArgumentError(`expected a probability from 0 to 1, got "${value}"`);
  return p;
}

export function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like "20s" or "2m", got "${value}"`);
  return ms;
}
