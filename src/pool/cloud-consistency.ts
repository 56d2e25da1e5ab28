import type { Machine } from '../machines/machine.js';

/**
 * EC2 is eventually consistent: for a while after RunInstances, the new
 * instance may be missing from DescribeInstances and unknown to
 * TerminateInstances and CreateTags ("does not mean the instance does not
 * exist"). So the cloud saying it does not know a machine's instance, or a
 * tag lookup finding none, means gone only once the machine's launch is older
 * than `reaper.consistencyGrace`; before that it means "not yet, ask again".
 */
export function cloudHasSettled(machine: Pick<Machine, 'launchedAt' | 'stateSince'>, now: number, grace: number): boolean {
  return now - launchReference(machine) > grace;
}

/**
 * When the machine's instance came to be, as far as its record knows: the
 * provider's launch time; without one (never recorded: a crash mid-launch, a
 * launch still in flight when the machine was ended), the start of its
 * current state, the latest moment a launch could still have been under way
 * (a terminating machine is never launched again).
 */
function launchReference(machine: Pick<Machine, 'launchedAt' | 'stateSince'>): number {
  return machine.launchedAt ?? machine.stateSince;
}
