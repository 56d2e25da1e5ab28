import type { CallInfo } from './api-gate.js';
import type { Ec2Catalog } from './ec2-catalog.js';
import { imagesXml, offeringsXml } from './ec2-catalog-xml.js';
import { Ec2Error, invalidValue } from './ec2-error.js';
import { isNonMutating } from '../providers/ec2-limits.js';
import type { Ec2Model, RunRequest } from './ec2-model.js';
import { QueryParams, leaf, responseXml } from './ec2-query.js';
import { decodePageToken, encodePageToken } from './ec2-rules.js';
import { reservationSetXml, reservationXml, stateChangesXml, zonesXml } from './ec2-xml.js';

type Action = (model: Ec2Model, params: QueryParams) => string;

// Only the subset vmpool calls: anything else answers as EC2 does to a typo.
const ACTIONS: Record<string, Action> = {
  DescribeAvailabilityZones: (model) => zonesXml(model.zones()),
  RunInstances: (model, params) => {
    const { reservation } = model.run(runRequest(params));
    return reservationXml(reservation.reservationId, reservation.instances);
  },
  DescribeInstances: (model, params) => {
    const page = model.describe({
      instanceIds: params.list('InstanceId'),
      filters: filtersOf(params),
      maxResults: params.integer('MaxResults'),
      nextToken: params.get('NextToken') || undefined,
    });
    return reservationSetXml(page.instances) + leaf('nextToken', page.nextToken);
  },
  TerminateInstances: (model, params) => stateChangesXml(model.terminate(params.list('InstanceId'))),
  CreateTags: (model, params) => {
    model.createTags(params.list('ResourceId'), params.pairs('Tag'));
    return leaf('return', true);
  },
  DescribeImages: (model, params) => {
    if (params.members('Filter').length > 0) throw invalidValue('The simulated cloud answers DescribeImages by ImageId only');
    return imagesXml(catalogOf(model).describeImages(params.list('ImageId')));
  },
  DescribeInstanceTypeOfferings: (model, params) => {
    const offerings = catalogOf(model).offerings(params.get('LocationType'), filtersOf(params));
    const maxResults = params.integer('MaxResults');
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
      throw invalidValue(`Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
    }
    // The token is an offset into the (stable) offering list.
    const start = params.get('NextToken') ? decodePageToken(params.get('NextToken')!) : 0;
    const end = maxResults === undefined ? offerings.length : start + maxResults;
    return offeringsXml(offerings.slice(start, end)) + leaf('nextToken', end < offerings.length ? encodePageToken(end) : undefined);
  },
};

function filtersOf(params: QueryParams): { name: string; values: string[] }[] {
  return params.members('Filter').map((f) => ({ name: f.required('Name'), values: f.list('Value') }));
}

// A model built without a catalog (unit tests of other rules) answers these actions as a region that lacks them.
function catalogOf(model: Ec2Model): Ec2Catalog {
  if (!model.catalog) throw new Ec2Error('InvalidAction', 'The action is not valid for this web service.');
  return model.catalog;
}

/** The actions the simulated cloud answers, in EC2's spelling. */
export const SUPPORTED_ACTIONS: readonly string[] = Object.keys(ACTIONS).sort();

/** Runs one EC2 Query request against the model; returns the XML body or throws an `Ec2Error`. */
export function handleAction(model: Ec2Model, params: QueryParams, requestId: string): { action: string; xml: string } {
  const action = knownAction(params);
  return { action, xml: responseXml(action, requestId, ACTIONS[action]!(model, params)) };
}

/** What the front door (throttling, IAM, DryRun) judges a request by; throws EC2's answer to a missing or unknown action. */
export function callInfo(params: QueryParams): CallInfo {
  const action = knownAction(params);
  const has = (prefix: string) => params.list(prefix).length > 0 || params.members(prefix).length > 0;
  const unfiltered = isNonMutating(action) && !has('Filter') && !has('InstanceId') && !has('ImageId') && params.get('MaxResults') === undefined;
  return { action, dryRun: params.get('DryRun') === 'true', resourceCost: resourceCost(action, params), unfiltered };
}

function knownAction(params: QueryParams): string {
  const action = params.get('Action');
  if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action');
  if (!Object.hasOwn(ACTIONS, action)) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
  return action;
}

// Instances the call would launch or end; a malformed count is left for the action itself to refuse.
function resourceCost(action: string, params: QueryParams): number {
  if (action === 'TerminateInstances') return new Set(params.list('InstanceId')).size;
  if (action !== 'RunInstances') return 0;
  const max = Number(params.get('MaxCount'));
  return Number.isInteger(max) && max > 0 ? max : 0;
}

function runRequest(params: QueryParams): RunRequest {
  return {
    imageId: params.required('ImageId'),
    // EC2's documented default when no type is named.
    instanceType: params.get('InstanceType') ?? 'm1.small',
    minCount: params.requiredInteger('MinCount'),
    maxCount: params.requiredInteger('MaxCount'),
    availabilityZone: params.get('Placement.AvailabilityZone'),
    subnetId: params.get('SubnetId'),
    keyName: params.get('KeyName'),
    clientToken: params.get('ClientToken'),
    tags: params
      .members('TagSpecification')
      .filter((spec) => spec.get('ResourceType') === 'instance')
      .flatMap((spec) => spec.pairs('Tag')),
  };
}
