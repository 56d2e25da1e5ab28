import { Ec2Error } from './ec2-error.js';
import type { Ec2Model, RunRequest } from './ec2-model.js';
import { QueryParams, leaf, responseXml } from './ec2-query.js';
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
      filters: params.members('Filter').map((f) => ({ name: f.required('Name'), values: f.list('Value') })),
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
};

/** Runs one EC2 Query request against the model; returns the XML body or throws an `Ec2Error`. */
export function handleAction(model: Ec2Model, params: QueryParams, requestId: string): { action: string; xml: string } {
  const action = params.get('Action');
  if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action');
  const handler = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
  if (!handler) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
  return { action, xml: responseXml(action, requestId, handler(model, params)) };
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
