import { Ec2Error, capacityError } from './ec2-error.js';

/**
 * What is wrong with one zone of the simulated cloud, as an operator sets it
 * (`vmpool sim fault`, `PUT /v1/sim/zones/:zone/faults`). Every field is
 * optional; an empty object means healthy. Probabilities are from 0 to 1.
 */
export interface ZoneFaults {
  /** RunInstances fails with `InsufficientInstanceCapacity` (HTTP 500: a server error, as on EC2). */
  capacityError?: number;
  /** RunInstances fails with `InternalError` (HTTP 500): a cloud API in trouble. */
  launchError?: number;
  /** The instance dies at its boot time: terminated with `Server.InternalError`, never answering SSH. */
  bootFail?: number;
  /** The instance runs but its sshd is wedged: TCP connects, no SSH banner ever comes. */
  sshHang?: number;
  /** Added to every boot: a slow zone. */
  slowBootMs?: number;
}

/**
 * One instance's fate, drawn once at RunInstances. A fault set later does not
 * touch instances already launched, and a fault cleared later does not heal
 * them: a bad host stays bad.
 */
export interface InstanceFate {
  bootFail: boolean;
  sshHang: boolean;
  slowBootMs: number;
}

export const HEALTHY: Readonly<InstanceFate> = Object.freeze({ bootFail: false, sshHang: false, slowBootMs: 0 });

const PROBABILITIES = ['capacityError', 'launchError', 'bootFail', 'sshHang'] as const;

/**
 * True with probability `p`: fails exactly the draws below `p`. A zone
 * without the fault draws nothing, so a healthy cloud's random sequence (zone
 * and address picks) is the same as before faults existed.
 */
function strikes(p: number | undefined, random: () => number): boolean {
  return p !== undefined && p > 0 && random() < p;
}

/** The error RunInstances into `zone` answers with, if its faults strike; capacity is drawn first. */
export function launchFailure(faults: Readonly<ZoneFaults>, where: { zone: string; instanceType: string; zones: readonly string[] }, random: () => number): Ec2Error | undefined {
  const { zone, instanceType: type } = where;
  if (strikes(faults.capacityError, random)) {
    const otherZones = where.zones.filter((z) => z !== zone);
    // EC2's own wording, so log lines and error classifiers see what production sees.
    const elsewhere = otherZones.length > 0 ? ` You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing ${otherZones.join(', ')}.` : '';
    const message = `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity.${elsewhere}`;
    return capacityError('InsufficientInstanceCapacity', message);
  }
  if (strikes(faults.launchError, random)) return new Ec2Error('InternalError', 'An internal error has occurred', 500);
  return undefined;
}

/** Draws one instance's fate from its zone's faults at launch. */
export function drawFate(faults: Readonly<ZoneFaults>, random: () => number): InstanceFate {
  const bootFail = strikes(faults.bootFail, random);
  // A machine that never boots cannot also hang; skipping the draw keeps the sequence obvious in tests.
  const sshHang = !bootFail && strikes(faults.sshHang, random);
  return { bootFail, sshHang, slowBootMs: faults.slowBootMs ?? 0 };
}

/**
 * The per-zone fault table the simulated cloud consults at every launch.
 * Written by the fault API while everything runs; read by the model.
 */
export class FaultTable {
  private readonly zones = new Map<string, ZoneFaults>();

  /** The faults of `zone`; an empty object when the zone is healthy. */
  forZone(zone: string): Readonly<ZoneFaults> {
    return this.zones.get(zone) ?? {};
  }

  /** Replaces the zone's faults. Zero and absent fields are dropped, so `{}` (or all zeros) heals. */
  set(zone: string, faults: Readonly<ZoneFaults>): void {
    const kept = normalize(faults);
    if (Object.keys(kept).length === 0) this.zones.delete(zone);
    else this.zones.set(zone, kept);
  }

  /** Heals one zone, or every zone when none is named. */
  clear(zone?: string): void {
    if (zone === undefined) this.zones.clear();
    else this.zones.delete(zone);
  }

  /** Every zone with a fault, by name; healthy zones are not listed. */
  all(): { zone: string; faults: Readonly<ZoneFaults> }[] {
    return [...this.zones].sort(([a], [b]) => a.localeCompare(b)).map(([zone, faults]) => ({ zone, faults: { ...faults } }));
  }
}

// The API validates too; this keeps a programmatic caller (a test, a script) from storing nonsense.
function normalize(faults: Readonly<ZoneFaults>): ZoneFaults {
  const kept: ZoneFaults = {};
  for (const key of PROBABILITIES) {
    const p = faults[key];
    if (p === undefined || p === 0) continue;
    if (!(p > 0 && p <= 1)) throw new RangeError(`${key}: expected a probability from 0 to 1, got ${p}`);
    kept[key] = p;
  }
  const slow = faults.slowBootMs;
  if (slow !== undefined && slow !== 0) {
    if (!(Number.isFinite(slow) && slow > 0)) throw new RangeError(`slowBootMs: expected milliseconds >= 0, got ${slow}`);
    kept.slowBootMs = slow;
  }
  return kept;
}
