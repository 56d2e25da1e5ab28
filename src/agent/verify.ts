import type { RegistryConfig } from '../config.js';
import { describeError } from '../errors.js';
import { fetchManifest, type ManifestOptions } from './registry-client.js';

/** One registry's answer for one image tag. */
export interface RegistryCheck {
  registry: string;
  url: string;
  image: string;
  present: boolean;
  digest?: string;
  /** The registry could not be asked: present is false, but it may hold the tag. */
  error?: string;
}

export interface VerifyReport {
  version: string;
  checks: RegistryCheck[];
  /** True when every registry has the tag and they agree on its digest. */
  ok: boolean;
  /** One line per reason it is not ok. */
  problems: string[];
}

/** What to ask: each image at each of its registries (pools may pull different images). */
export interface VerifyTarget {
  image: string;
  registries: readonly RegistryConfig[];
}

/**
 * Asks every registry whether `image:version` exists (HEAD on its manifest,
 * in parallel) before a version is rolled out or back to: the Travis
 * incident's rollback went to a tag one registry lacked.
 */
export async function verifyVersion(targets: readonly VerifyTarget[], version: string, options: ManifestOptions = {}): Promise<VerifyReport> {
  const asks = targets.flatMap((target) => target.registries.map((registry) => ({ image: target.image, registry })));
  const checks = await Promise.all(asks.map(({ image, registry }) => check(registry, image, version, options)));
  const problems = judgeChecks(checks, version);
  return { version, checks, ok: problems.length === 0, problems };
}

async function check(registry: RegistryConfig, image: string, version: string, options: ManifestOptions): Promise<RegistryCheck> {
  const base = { registry: registry.name, url: registry.url, image };
  try {
    const answer = await fetchManifest(registry.url, image, version, { ...options, method: 'HEAD' });
    return answer.present ? { ...base, present: true, ...(answer.digest ? { digest: answer.digest } : {}) } : { ...base, present: false };
  } catch (err) {
    return { ...base, present: false, error: describeError(err) };
  }
}

/** Why the checks reject the version: a registry lacking it or not answering, or digests that differ. Pure. */
export function judgeChecks(checks: readonly RegistryCheck[], version: string): string[] {
  const problems: string[] = [];
  for (const c of checks) {
    if (c.error) problems.push(`${c.registry}: could not check ${c.image}:${version}: ${c.error}`);
    else if (!c.present) problems.push(`${c.registry}: has no ${c.image}:${version}`);
  }
  const byImage = new Map<string, RegistryCheck[]>();
  for (const c of checks) if (c.present) byImage.set(c.image, [...(byImage.get(c.image) ?? []), c]);
  for (const [image, present] of byImage) {
    const digests = new Set(present.map((c) => c.digest ?? 'unknown'));
    if (digests.size > 1) problems.push(`${image}:${version} differs between registries: ${present.map((c) => `${c.registry} ${c.digest ?? 'unknown'}`).join(', ')}`);
  }
  return problems;
}

/** The report as an aligned table: REGISTRY, IMAGE, PRESENT, DIGEST. */
export function formatReport(report: VerifyReport): string {
  const rows = report.checks.map((c) => [c.registry, `${c.image}:${report.version}`, c.error ? 'error' : c.present ? 'yes' : 'no', c.digest ?? (c.error ? c.error : '-')]);
  const header = ['REGISTRY', 'IMAGE', 'PRESENT', 'DIGEST'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const table = [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  return [...table, ...(report.ok ? [`${report.version}: present everywhere, one digest`] : report.problems.map((p) => `problem: ${p}`))].join('\n');
}

/** The pools' images and registries, each (image, registry) once. */
export function verifyTargets(pools: readonly { prepare: { agent: { image: string; registries: readonly string[] } | null } }[], registries: readonly RegistryConfig[]): VerifyTarget[] {
  const byName = new Map(registries.map((r) => [r.name, r]));
  const byImage = new Map<string, Map<string, RegistryConfig>>();
  for (const pool of pools) {
    const agent = pool.prepare.agent;
    if (!agent) continue;
    const found = byImage.get(agent.image) ?? new Map<string, RegistryConfig>();
    for (const name of agent.registries) if (byName.has(name)) found.set(name, byName.get(name)!);
    byImage.set(agent.image, found);
  }
  return [...byImage].map(([image, found]) => ({ image, registries: [...found.values()] }));
}
