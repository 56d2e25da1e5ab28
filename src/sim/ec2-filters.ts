import { Ec2Error, invalidValue } from './ec2-error.js';

/** The fields of an instance that DescribeInstances filters can see. */
export interface Filterable {
  readonly instanceId: string;
  readonly state: string;
  readonly zone: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly privateIp: string;
  readonly clientToken: string | undefined;
  readonly tags: ReadonlyMap<string, string>;
}

export interface Filter {
  name: string;
  values: string[];
}

// Real EC2 limits, enforced so a provider that would trip them on EC2 trips them here first.
export const MAX_FILTER_VALUES = 200;
const MAX_FILTER_VALUE_LENGTH = 255;

const FIELDS: Record<string, (i: Filterable) => string | undefined> = {
  'instance-id': (i) => i.instanceId,
  'instance-state-name': (i) => i.state,
  'availability-zone': (i) => i.zone,
  'image-id': (i) => i.imageId,
  'instance-type': (i) => i.instanceType,
  'private-ip-address': (i) => i.privateIp,
  'client-token': (i) => i.clientToken,
};

/**
 * Compiles EC2 filters into one predicate: filters AND together, the values
 * of one filter OR together, `*` and `?` are wildcards as on EC2.
 */
export function compileFilters(filters: readonly Filter[]): (instance: Filterable) => boolean {
  checkLimits(filters);
  const tests = filters.map(compileFilter);
  return (instance) => tests.every((test) => test(instance));
}

function checkLimits(filters: readonly Filter[]): void {
  const count = filters.reduce((sum, f) => sum + f.values.length, 0);
  if (count > MAX_FILTER_VALUES) {
    throw new Ec2Error('FilterLimitExceeded', `The maximum number of filter values specified on a single call is ${MAX_FILTER_VALUES}`);
  }
  if (filters.some((f) => f.values.some((v) => v.length > MAX_FILTER_VALUE_LENGTH))) {
    throw new Ec2Error('FilterLimitExceeded', `The maximum length for a filter value is ${MAX_FILTER_VALUE_LENGTH} characters`);
  }
}

/** One filter's values as a predicate on a field's value (values OR together, with EC2's wildcards), for any resource. */
export function compileMatcher(filter: Filter): (value: string) => boolean {
  checkLimits([filter]);
  if (filter.values.length === 0) throw invalidValue(`The filter '${filter.name}' requires at least one value`);
  return anyOf(filter.values);
}

function compileFilter(filter: Filter): (instance: Filterable) => boolean {
  const matches = compileMatcher(filter);
  if (filter.name.startsWith('tag:')) {
    const key = filter.name.slice('tag:'.length);
    return (i) => {
      const value = i.tags.get(key);
      return value !== undefined && matches(value);
    };
  }
  if (filter.name === 'tag-key') return (i) => [...i.tags.keys()].some(matches);
  if (filter.name === 'tag-value') return (i) => [...i.tags.values()].some(matches);
  const field = FIELDS[filter.name];
  if (!field) throw invalidValue(`The filter '${filter.name}' is invalid`);
  return (i) => {
    const value = field(i);
    return value !== undefined && matches(value);
  };
}

function anyOf(patterns: readonly string[]): (value: string) => boolean {
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)));
  const wild = patterns.filter((p) => /[*?]/.test(p)).map(wildcard);
  return (value) => exact.has(value) || wild.some((re) => re.test(value));
}

function wildcard(pattern: string): RegExp {
  const body = pattern.replace(/\\([*?\\])|([*?])|([.+^${}()|[\]\\])/g, (_m, escaped: string, wild: string, special: string) => {
    if (escaped) return `\\${escaped}`;
    if (wild) return wild === '*' ? '[\\s\\S]*' : '[\\s\\S]';
    return `\\${special}`;
  });
  return new RegExp(`^${body}$`);
}
