import type { ApiGate, CallInfo } from '../../src/sim/api-gate.js';
import type { Ec2Error } from '../../src/sim/ec2-error.js';

/** One request as the simulated cloud's front door sees it; `extra` replaces fields. */
export const call = (action: string, extra: Partial<CallInfo> = {}): CallInfo => ({ action, dryRun: false, resourceCost: 0, unfiltered: false, ...extra });

/** The EC2 code and status the gate answers with, or 'ok'. */
export function answer(gate: ApiGate, info: CallInfo): string {
  try {
    gate.admit(info);
    return 'ok';
  } catch (err) {
    const e = err as Ec2Error;
    return `${e.code} ${e.status}`;
  }
}
