import { parseDuration } from '../duration.js';

/**
 * EC2's eventual consistency for new instances: for a while after
 * RunInstances the instance is missing from DescribeInstances and unknown
 * (`InvalidInstanceID.NotFound`) to TerminateInstances and CreateTags. Each
 * instance draws its own delay, uniform in [minMs, maxMs].
 */
export interface DelayRange {
  minMs: number;
  maxMs: number;
}

export const STRONGLY_CONSISTENT: Readonly<DelayRange> = Object.freeze({ minMs: 0, maxMs: 0 });

/**
 * `"0s"` (strongly consistent), `"2s"` (always 2 s), `"0-2s"` or
 * `"500ms-2s"` (a range; a bare lower bound takes the upper one's unit).
 * Undefined when malformed or the bounds are reversed.
 */
export function parseDelayRange(text: string): DelayRange | undefined {
  const parts = text.trim().split('-');
  if (parts.length === 1) {
    const ms = parseDuration(parts[0]!);
    return ms === undefined ? undefined : { minMs: ms, maxMs: ms };
  }
  if (parts.length !== 2) return undefined;
  const [low, high] = parts.map((p) => p.trim()) as [string, string];
  const maxMs = parseDuration(high);
  const unit = /[a-z]+$/.exec(high)?.[0] ?? '';
  const minMs = parseDuration(low) ?? (/^\d+(?:\.\d+)?$/.test(low) ? parseDuration(low + unit) : undefined);
  if (minMs === undefined || maxMs === undefined || minMs > maxMs) return undefined;
  return { minMs, maxMs };
}

/** One instance's delay. A strongly consistent cloud draws nothing, so its random sequence is as before. */
export function drawDelay(range: Readonly<DelayRange>, random: () => number): number {
  if (range.maxMs === 0) return 0;
  return range.minMs + Math.floor(random() * (range.maxMs - range.minMs + 1));
}
