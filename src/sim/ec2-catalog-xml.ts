import type { InstanceTypeOffering } from './ec2-catalog.js';
import { itemSet, leaf, node } from './ec2-query.js';
import { OWNER_ID } from './ec2-xml.js';

/** When every simulated image was "registered": a fixed date, so answers do not change from run to run. */
const CREATED = '2026-01-01T00:00:00.000Z';

/** DescribeImages' `imagesSet`: each image available, owned by the simulated account, in the field order EC2 uses. */
export function imagesXml(imageIds: readonly string[]): string {
  return itemSet(
    'imagesSet',
    imageIds.map((imageId) =>
      [
        leaf('imageId', imageId),
        leaf('imageLocation', `${OWNER_ID}/${imageId}`),
        leaf('imageState', 'available'),
        leaf('imageOwnerId', OWNER_ID),
        leaf('creationDate', CREATED),
        leaf('isPublic', false),
        leaf('architecture', 'x86_64'),
        leaf('imageType', 'machine'),
        leaf('name', imageId),
        leaf('rootDeviceType', 'ebs'),
        leaf('rootDeviceName', '/dev/xvda'),
        node('blockDeviceMapping'),
        leaf('virtualizationType', 'hvm'),
        leaf('hypervisor', 'xen'),
      ].join(''),
    ),
  );
}

/** DescribeInstanceTypeOfferings' `instanceTypeOfferingSet`. */
export function offeringsXml(offerings: readonly InstanceTypeOffering[]): string {
  return itemSet(
    'instanceTypeOfferingSet',
    offerings.map((o) => leaf('instanceType', o.instanceType) + leaf('locationType', o.locationType) + leaf('location', o.location)),
  );
}
