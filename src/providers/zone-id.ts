/** A zone id is `provider/zone` (`sim/zone-a`); the provider part picks the cloud account and region. */
export function splitZoneId(zoneId: string): { provider: string; zone: string } {
  const at = zoneId.indexOf('/');
  return { provider: zoneId.slice(0, at), zone: zoneId.slice(at + 1) };
}

export function zoneId(provider: string, zone: string): string {
  return `${provider}/${zone}`;
}
