import { describe, expect, it } from 'vitest';
import { BOOT_VERDICTS, classify, isAuthError, isCapacityError, type ErrorKind } from '../../src/errors.js';

/** An error shaped like the AWS SDK's: name = EC2's code, $fault, HTTP status. */
const sdkError = (name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client') =>
  Object.assign(new Error(`${name} happened`), { name, $fault: fault, $metadata: { httpStatusCode: status } });

describe('classify: what an error means for the zone and the pool', () => {
  const rows: [string, unknown, ErrorKind][] = [
    ['capacity (HTTP 400)', sdkError('InsufficientInstanceCapacity', 400), 'zone-fault'],
    ['capacity as EC2 sends it (HTTP 500)', sdkError('InsufficientInstanceCapacity', 500), 'zone-fault'],
    ['no room for the host', sdkError('InsufficientHostCapacity', 400), 'zone-fault'],
    ['subnet out of addresses', sdkError('InsufficientFreeAddressesInSubnet', 400), 'zone-fault'],
    ['instance type not offered in the zone', sdkError('Unsupported', 400), 'zone-fault'],
    // EC2's endpoint is regional: its own 5xx say nothing of one zone.
    ['launch server error', sdkError('InternalError', 500), 'api-fault'],
    ['service unavailable', sdkError('Unavailable', 503), 'api-fault'],
    ['ServiceUnavailable', sdkError('ServiceUnavailable', 503), 'api-fault'],
    ['a server fault without a status', Object.assign(new Error('x'), { $fault: 'server' }), 'api-fault'],
    ['EC2 throttling', sdkError('RequestLimitExceeded', 503), 'throttle'],
    ['generic throttling', sdkError('Throttling', 400), 'throttle'],
    ['bad credentials', sdkError('AuthFailure', 401), 'fatal'],
    ['missing permission', sdkError('UnauthorizedOperation', 403), 'fatal'],
    ['unknown access key', sdkError('InvalidClientTokenId', 403), 'fatal'],
    ['region not opted in', sdkError('OptInRequired', 401), 'fatal'],
    ['malformed image id', sdkError('InvalidAMIID.Malformed', 400), 'fatal'],
    ['unknown image id', sdkError('InvalidAMIID.NotFound', 400), 'fatal'],
    ['unknown key pair', sdkError('InvalidKeyPair.NotFound', 400), 'fatal'],
    ['unknown subnet', sdkError('InvalidSubnetID.NotFound', 400), 'fatal'],
    ['reused client token with other parameters', sdkError('IdempotentParameterMismatch', 400), 'fatal'],
    ['connection refused (no HTTP answer)', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
    ['cloud API guard failing fast', Object.assign(new Error('provider sim is failing'), { name: 'CloudApiUnavailable' }), 'transient'],
    ['anything unknown', new Error('surprise'), 'transient'],
  ];
  it.each(rows)('%s is %s', (_name, err, kind) => expect(classify(err)).toBe(kind));
});

describe('isCapacityError', () => {
  it('is true only for sold-out offerings, the ones another instance type or zone may avoid', () => {
    expect(isCapacityError(sdkError('InsufficientInstanceCapacity', 500))).toBe(true);
    expect(isCapacityError(sdkError('InternalError', 500))).toBe(false);
    expect(isCapacityError(sdkError('RequestLimitExceeded', 503))).toBe(false);
  });
});

describe('isAuthError', () => {
  it.each(['AuthFailure', 'UnauthorizedOperation', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'OptInRequired', 'CredentialsProviderError'])('%s halts the provider', (name) => {
    expect(isAuthError(sdkError(name, 403))).toBe(true);
  });
  it.each([['InvalidAMIID.NotFound', 400], ['InsufficientInstanceCapacity', 500], ['ServiceUnavailable', 503], ['RequestLimitExceeded', 503]] as const)('%s does not', (name, status) => {
    expect(isAuthError(sdkError(name, status))).toBe(false);
  });
});

describe('BOOT_VERDICTS: which ends of a boot count against the zone', () => {
  it.each(Object.entries({
    ready: 'healthy',
    slow: 'zone-fault',
    'boot-timeout': 'zone-fault',
    'ssh-unreachable': 'zone-fault',
    'prepare-timeout': 'zone-fault',
    'instance-lost': 'zone-fault',
    'prepare-failed': 'not-zone',
    'host-key-mismatch': 'not-zone',
    'not-loopback': 'not-zone',
    'launch-failed': 'not-zone',
    'boot-error': 'not-zone',
  }))('%s is %s', (outcome, verdict) => expect(BOOT_VERDICTS[outcome as keyof typeof BOOT_VERDICTS]).toBe(verdict));
});
