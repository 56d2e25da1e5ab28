import { Ec2Error, invalidValue } from './ec2-error.js';
import { compileMatcher, type Filter } from './ec2-filters.js';
import { zoneInfo } from './ec2-rules.js';

export interface Ec2CatalogOptions {
  region: string;
  zones: readonly string[];
  /** Image ids that exist in the region (`sim.images`). */
  images: readonly string[];
  /** Instance types each zone offers; `*` for every zone not named (`sim.offerings`). */
  offerings: Readonly<Record<string, readonly string[]>>;
}

export interface InstanceTypeOffering {
  instanceType: string;
  locationType: LocationType;
  location: string;
}

export type LocationType = 'region' | 'availability-zone' | 'availability-zone-id';
const LOCATION_TYPES: readonly string[] = ['region', 'availability-zone', 'availability-zone-id'];

const IMAGE_ID = /^ami-[a-z0-9-]+$/;

/**
 * What the simulated region has to offer, as EC2 tells it: which images
 * exist (DescribeImages) and which instance types each zone offers
 * (DescribeInstanceTypeOfferings). RunInstances asks it too, so a launch of
 * an image that does not exist, or of a type a zone lacks, fails as on EC2.
 */
export class Ec2Catalog {
  private readonly images: ReadonlySet<string>;

  constructor(private readonly options: Ec2CatalogOptions) {
    this.images = new Set(options.images);
  }

  /** DescribeImages by id: every id named must exist (EC2 fails the whole call otherwise); none named lists them all. */
  describeImages(imageIds: readonly string[]): string[] {
    if (imageIds.length === 0) return [...this.images];
    const malformed = imageIds.find((id) => !IMAGE_ID.test(id));
    if (malformed !== undefined) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${malformed}" (expecting "ami-...")`);
    const missing = imageIds.filter((id) => !this.images.has(id));
    if (missing.length > 0) throw imagesNotFound(missing);
    return [...new Set(imageIds)];
  }

  /** What RunInstances checks of what it launches: the image exists, and the zone offers the instance type. */
  checkLaunch(imageId: string, instanceType: string, zone: string): void {
    if (!this.images.has(imageId)) throw imagesNotFound([imageId]);
    if (this.typesIn(zone).includes(instanceType)) return;
    const elsewhere = this.options.zones.filter((z) => this.typesIn(z).includes(instanceType));
    if (elsewhere.length === 0) throw invalidValue(`Invalid value '${instanceType}' for InstanceType.`);
    throw new Ec2Error(
      'Unsupported',
      `Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${zone}). Please retry your request by not specifying an Availability Zone or choosing ${elsewhere.join(', ')}.`,
    );
  }

  /** DescribeInstanceTypeOfferings: by region (the default), zone name or zone id, filtered by `location` and `instance-type`. */
  offerings(locationType: string | undefined, filters: readonly Filter[]): InstanceTypeOffering[] {
    const type = (locationType ?? 'region') as LocationType;
    if (!LOCATION_TYPES.includes(type)) throw invalidValue(`Value (${type}) for parameter LocationType is invalid. Expected one of: ${LOCATION_TYPES.join(', ')}.`);
    const tests = filters.map((filter) => {
      if (filter.name !== 'location' && filter.name !== 'instance-type') throw invalidValue(`The filter '${filter.name}' is invalid`);
      const matches = compileMatcher(filter);
      return (o: InstanceTypeOffering) => matches(filter.name === 'location' ? o.location : o.instanceType);
    });
    return this.allOfferings(type).filter((o) => tests.every((test) => test(o)));
  }

  private allOfferings(locationType: LocationType): InstanceTypeOffering[] {
    if (locationType === 'region') {
      const types = [...new Set(this.options.zones.flatMap((z) => this.typesIn(z)))];
      return types.map((instanceType) => ({ instanceType, locationType, location: this.options.region }));
    }
    return zoneInfo(this.options.region, this.options.zones).flatMap((z) =>
      this.typesIn(z.zoneName).map((instanceType) => ({ instanceType, locationType, location: locationType === 'availability-zone' ? z.zoneName : z.zoneId })),
    );
  }

  private typesIn(zone: string): readonly string[] {
    return this.options.offerings[zone] ?? this.options.offerings['*'] ?? [];
  }
}

/** EC2 lists the missing ids in brackets, in one message. */
function imagesNotFound(ids: readonly string[]): Ec2Error {
  return new Ec2Error('InvalidAMIID.NotFound', `The image id '[${ids.join(', ')}]' does not exist`);
}
