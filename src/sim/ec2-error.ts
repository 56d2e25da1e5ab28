/**
 * An error the simulated cloud answers with, in EC2's vocabulary: the SDK
 * turns `code` into the thrown error's `name`, so vmpool's error classifier
 * sees exactly what it would see from EC2.
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** 4xx for the caller's mistakes; 5xx for EC2's "server errors" (capacity, throttling, its own failures: the SDK retries those). */
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Error';
  }
}

/** EC2 lists every unknown id in one message and fails the whole call. */
export function instancesNotFound(ids: readonly string[]): Ec2Error {
  const message =
    ids.length === 1
      ? `The instance ID '${ids[0]}' does not exist`
      : `The instance IDs '${ids.join(', ')}' do not exist`;
  return new Ec2Error('InvalidInstanceID.NotFound', message);
}

/**
 * EC2's capacity family: listed among its server errors, so the wire answer
 * is a 500 (and the SDK's standard retry would repeat the call unless told not to).
 */
export const CAPACITY_CODES = ['InsufficientInstanceCapacity', 'InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity', 'InsufficientCapacity', 'InsufficientAddressCapacity'] as const;
export type CapacityCode = (typeof CAPACITY_CODES)[number];

export function capacityError(code: CapacityCode, message: string): Ec2Error {
  return new Ec2Error(code, message, 500);
}

/** A token bucket of the action is empty: EC2 answers 503, and the SDK backs off and retries. */
export function requestLimitExceeded(): Ec2Error {
  return new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
}

/** IAM refused the action (EC2 adds an encoded authorization message; the simulated cloud has no IAM to encode). */
export function unauthorizedOperation(): Ec2Error {
  return new Ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
}

/** EC2's answer to an allowed request sent with `DryRun=true`: an error by design, with status 412. */
export function dryRunOperation(): Ec2Error {
  return new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

export function malformedInstanceId(id: string): Ec2Error {
  return new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
}

export function invalidValue(message: string): Ec2Error {
  return new Ec2Error('InvalidParameterValue', message);
}

export function missingParameter(name: string): Ec2Error {
  return new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
}

const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

/** Rejects ids that could never name an instance, as EC2 does before looking anything up. */
export function checkInstanceIds(ids: readonly string[]): void {
  const bad = ids.find((id) => !INSTANCE_ID.test(id));
  if (bad !== undefined) throw malformedInstanceId(bad);
}
