import type { BootOutcome } from './outcome-counters.js';

/**
 * What an error means for vmpool, decided in one place. A zone fault counts
 * against the zone's health; throttling means back off; fatal means retries
 * cannot help (bad credentials, bad image id); an API fault is the cloud's
 * API endpoint in trouble (a 5xx other than capacity: EC2's endpoint is
 * regional, so it says nothing of one zone; retried, counted by the
 * process's API guard); transient means try again.
 */
export type ErrorKind = 'zone-fault' | 'throttle' | 'fatal' | 'api-fault' | 'transient';

interface ErrorShape {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** The cloud has no room for this instance type in this zone right now: try another type or zone. */
const CAPACITY = /^(InsufficientInstanceCapacity|InsufficientHostCapacity|InsufficientReservedInstanceCapacity|InsufficientFreeAddressesInSubnet|Unsupported|InsufficientCapacity)$/;

/**
 * The account may not make the call (a missing IAM permission, bad or
 * expired credentials, a region not opted in): no zone and no retry can
 * help, and it holds for the whole provider, whichever call met it.
 */
const AUTH = /^(AuthFailure|UnauthorizedOperation|InvalidClientTokenId|SignatureDoesNotMatch|OptInRequired|Blocked|PendingVerification|AccessDenied|AccessDeniedException|UnrecognizedClientException|ExpiredToken|ExpiredTokenException|CredentialsProviderError)$/;

const BY_NAME: ReadonlyArray<[RegExp, ErrorKind]> = [
  [CAPACITY, 'zone-fault'],
  [/^(RequestLimitExceeded|Throttling|ThrottlingException|TooManyRequestsException|RequestThrottled)$/, 'throttle'],
  [AUTH, 'fatal'],
  [/^(InvalidAMIID\..*|InvalidKeyPair\..*|InvalidSubnetID\..*|InvalidParameterValue|InvalidParameterCombination|IdempotentParameterMismatch|InvalidAction)$/, 'fatal'],
];

export function classify(err: unknown): ErrorKind {
  const shape = (err ?? {}) as ErrorShape;
  const name = shape.name ?? shape.code ?? '';
  for (const [pattern, kind] of BY_NAME) if (pattern.test(name)) return kind;
  const status = shape.$metadata?.httpStatusCode ?? 0;
  // Capacity, the one server error that is a zone's, was matched by name above.
  if (shape.$fault === 'server' || status >= 500) return 'api-fault';
  return 'transient';
}

/** An authorization or authentication refusal: halts the provider's launches (see ProviderHalts). */
export function isAuthError(err: unknown): boolean {
  const shape = (err ?? {}) as ErrorShape;
  return AUTH.test(shape.name ?? shape.code ?? '');
}

/** A short, log-safe description: the error's name and message, never its request. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

export function isCapacityError(err: unknown): boolean {
  const shape = (err ?? {}) as ErrorShape;
  return CAPACITY.test(shape.name ?? shape.code ?? '');
}

/** The cloud does not know the instance: gone, or (right after its launch, EC2 being eventually consistent) not visible yet. */
export function isUnknownInstance(err: unknown): boolean {
  const shape = (err ?? {}) as ErrorShape;
  return (shape.name ?? shape.code) === 'InvalidInstanceID.NotFound';
}

/** What one end of a boot says about its zone. */
export type ZoneVerdict = 'healthy' | 'zone-fault' | 'not-zone';

/**
 * The zone's share in each way a boot can end. Faults of the machine's
 * network or host count against the zone; faults of our own config, image
 * content or security checks do not (moving zones cannot fix them).
 */
export const BOOT_VERDICTS: Readonly<Record<BootOutcome, ZoneVerdict>> = {
  ready: 'healthy',
  slow: 'zone-fault',
  'boot-timeout': 'zone-fault',
  'ssh-unreachable': 'zone-fault',
  'prepare-timeout': 'zone-fault',
  'instance-lost': 'zone-fault',
  'prepare-failed': 'not-zone',
  // Every registry failed: the image is missing or the registries are down, which moving zones cannot fix.
  // Only when every attempt timed out does the booter count it against the zone (agent.timeoutsAreZoneFaults).
  'agent-pull-failed': 'not-zone',
  // A value refused before it reached the machine (a tampered tag, a bad stored version): not the zone's doing.
  'invalid-agent-version': 'not-zone',
  'host-key-mismatch': 'not-zone',
  'not-loopback': 'not-zone',
  'launch-failed': 'not-zone',
  'boot-error': 'not-zone',
};
