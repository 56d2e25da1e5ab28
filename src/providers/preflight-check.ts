/** A pool as a provider's preflight sees it: what its launches will ask the cloud for. */
export interface PreflightPool {
  name: string;
  /** Zone names without the provider prefix. */
  zones: readonly string[];
  imageId: string;
  instanceTypes: readonly string[];
  keyName?: string;
  /** The tags its launches carry that do not vary by machine (ownership, deployment, pool): IAM conditions may require them. */
  tags: Readonly<Record<string, string>>;
}

/** One check of a preflight: allowed or not, found or not. */
export interface PreflightCheck {
  /** Zone name without the provider prefix; absent for a check of the whole region (the image, a permission). */
  zone?: string;
  /** What was asked, e.g. `RunInstances t3.small (DryRun)`, `image ami-0abc`, `t3.small offered`. */
  check: string;
  ok: boolean;
  /** Why it failed, in words (the cloud's error code and message); for a passed check, what was not verifiable, if anything. */
  detail?: string;
}
