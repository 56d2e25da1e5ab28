/**
 * An error the simulated cloud answers with, in EC2's vocabulary: the SDK
 * turns `code` into the thrown error's `name`, so vmpool's error classifier
 * sees exactly what it would see from EC2.
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** 400 for the caller's mistakes; 500/503 for the cloud's own failures (the SDK retries those). */
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
