import { Cron } from 'croner';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { parseDelayRange } from './sim/ec2-consistency.js';
import { isImageName, isTag } from './agent/reference.js';
import { ZONE_STRATEGIES } from './zones/zone-strategy.js';

// Messages name what was expected and echo what was given, so an operator can
// fix the file from the error line alone.
const show = (input: unknown): string => (input === undefined ? 'nothing' : JSON.stringify(input));

const wholeNumber = (min: number) => {
  const error = (iss: { input?: unknown }) => `expected a whole number >= ${min}, got ${show(iss.input)}`;
  return z.number({ error }).int({ error }).min(min, { error });
};

const ratio = () => {
  const error = (iss: { input?: unknown }) => `expected a number from 0 to 1, got ${show(iss.input)}`;
  return z.number({ error }).min(0, { error }).max(1, { error });
};

const text = () => z.string({ error: (iss) => `expected a text, got ${show(iss.input)}` }).min(1, { error: 'expected a non-empty text' });

const flag = () => z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` });

/** `"30s"` in the file, milliseconds in the program. */
const duration = () =>
  z
    .string({ error: (iss) => `expected a duration like "30s" or "5m", got ${show(iss.input)}` })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "30s" or "5m", got ${show(value)}` });
        return z.NEVER;
      }
      return ms;
    });

const name = () =>
  z
    .string({ error: (iss) => `expected a name, got ${show(iss.input)}` })
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: (iss) => `expected lower-case letters, digits and dashes, got ${show(iss.input)}` });

const loopbackHost = () => text();

/** Listen addresses only this machine reaches: any other needs http.allowedHosts, or every request would be refused. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Production tokens: long enough that guessing over the network is hopeless. */
const MIN_TOKEN_LENGTH = 24;

const zoneSchema = z.strictObject({
  /** Availability zone name as the cloud spells it. */
  name: text(),
  /** Launch into this subnet instead of naming the zone in Placement. */
  subnetId: text().nullable().default(null),
});

const positive = () => z.number({ error: (iss) => `expected a number > 0, got ${show(iss.input)}` }).positive({ error: (iss) => `expected a number > 0, got ${show(iss.input)}` });

const bucketSchema = z.strictObject({
  /** Tokens when full: the burst. */
  size: positive(),
  /** Tokens added per second. */
  refill: z.number({ error: (iss) => `expected a number >= 0, got ${show(iss.input)}` }).min(0, { error: (iss) => `expected a number >= 0, got ${show(iss.input)}` }),
});

/** vmpool's own buckets must refill: a call waits for its turn, and with no refill the turn never comes. */
const budgetBucketSchema = z.strictObject({ size: positive(), refill: positive() });

/** EC2 action name -> its request and resource buckets. */
const actionBuckets = <B extends z.ZodType>(bucket: B) =>
  z.record(z.string(), z.strictObject({ request: bucket.optional(), resource: bucket.optional() })).superRefine((actions, ctx) => {
    for (const key of Object.keys(actions)) {
      if (!/^[A-Z][A-Za-z]+$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `expected an EC2 action name like RunInstances, got ${show(key)}` });
    }
  });

const providerSchema = z.strictObject({
  name: name(),
  type: z.literal('ec2', { error: (iss) => `expected "ec2", got ${show(iss.input)}` }),
  region: text(),
  /** EC2-compatible endpoint; null means the SDK's default for the region. */
  endpoint: text().nullable().default(null),
  /** Static credentials; null means the SDK's default chain (instance role, env, profile). */
  credentials: z
    .strictObject({ accessKeyId: text(), secretAccessKey: text() })
    .nullable()
    .default(null),
  zones: z.array(zoneSchema).min(1, { error: 'expected at least one zone' }),
  maxAttempts: wholeNumber(1).default(5),
  /** The provider's API rate budget, shared by every vmpool process through Redis. */
  rateBudget: z
    .strictObject({
      /** false: no shared budget, only each process's own adaptive SDK limiter (vmpool before issue 13, for benchmarks). */
      shared: flag().default(true),
      /** The first throttled answer holds the action, for every process, for half to all of this. */
      firstBackoff: duration().prefault('1s'),
      /** Throttles in a row double the hold up to this; a stretch this long without one starts over. */
      maxBackoff: duration().prefault('20s'),
      /** A call goes once its tokens have been back this long: the cloud meets requests sooner or later than they were sent. */
      margin: duration().prefault('200ms'),
      /** Per EC2 action, buckets replacing EC2's documented figures (src/providers/ec2-limits.ts). */
      actions: actionBuckets(budgetBucketSchema).default({}),
    })
    .superRefine((b, ctx) => {
      if (b.maxBackoff < b.firstBackoff) ctx.addIssue({ code: 'custom', path: ['maxBackoff'], message: `expected at least firstBackoff (${formatDuration(b.firstBackoff)}), got ${formatDuration(b.maxBackoff)}` });
    })
    .prefault({}),
});

const prepareStepSchema = z.strictObject({
  name: text(),
  run: text(),
  timeout: duration().prefault('2m'),
  /** Which failures of the step count against the machine's zone: a hang (timeout), every failure, or none. */
  zoneFault: z.enum(['timeout', 'always', 'never'], { error: (iss) => `expected "timeout", "always" or "never", got ${show(iss.input)}` }).default('timeout'),
});

const tag = () => text().refine(isTag, { error: (iss) => `expected an image tag (letters, digits, _ . -; at most 128), got ${show(iss.input)}` });

const registrySchema = z.strictObject({
  /** Named in pools' agent sections, logs, metrics and `vmpool sim registry`. */
  name: name(),
  /** Base URL of the registry's HTTP API v2; `{registry}` in a pull command is its host (and path). */
  url: text().refine((value) => /^https?:\/\/[^/]/.test(value) && URL.canParse(value), { error: (iss) => `expected an http(s) URL, got ${show(iss.input)}` }),
});

const agentSchema = z.strictObject({
  image: text().refine(isImageName, { error: (iss) => `expected an image name like "org/build-agent", got ${show(iss.input)}` }),
  /** The stable version, until an operator sets another (`vmpool agent set`). */
  version: tag(),
  /** Names from the top-level registries, primary first. */
  registries: z.array(name()).min(1, { error: 'expected at least one registry' }),
  /** Run on the machine per registry tried; {registry}, {url}, {image} and {version} are filled in. */
  pullCommand: text().default('docker pull {registry}/{image}:{version}'),
  pullTimeout: duration().prefault('2m'),
  /** A pull that timed out at every registry points at the zone's network: count it against the zone. */
  timeoutsAreZoneFaults: flag().default(true),
  /** A share of machines (by machine id) gets this version instead. */
  canary: z.strictObject({ version: tag(), share: ratio() }).nullable().default(null),
});

const scheduleEntrySchema = z.strictObject({
  /** Five-field cron (UTC unless `timezone`): from each firing on, the pool's warm target is `warm`. */
  cron: text(),
  warm: wholeNumber(0),
});

const poolSchema = z.strictObject({
  name: name(),
  provider: name(),
  /** Zone ids (`provider/zone`); empty means every zone of the provider. */
  zones: z.array(text()).default([]),
  imageId: text(),
  /** Preferred first. */
  instanceTypes: z.array(text()).min(1, { error: 'expected at least one instance type' }),
  keyName: text().nullable().default(null),
  /** Ready machines to keep waiting for builds. */
  warm: wholeNumber(0),
  /** Ceiling on live machines (ready, leased and on their way) for this pool. */
  max: wholeNumber(0),
  /** From launch to ready; past it the boot is failed and the machine terminated. */
  bootTimeout: duration().prefault('5m'),
  /** Scale-in never goes below this many ready machines. */
  min: wholeNumber(0).default(0),
  /** Ready machines above target this long (continuously) are terminated, oldest first. */
  scaleInCooldown: duration().prefault('5m'),
  /** Warm target by time of day/week; the most recently fired entry wins; empty means `warm` always. */
  schedule: z.array(scheduleEntrySchema).default([]),
  /** IANA time zone for `schedule`. */
  timezone: text().default('UTC'),
  /** Ready machines older than this (from the provider's launch time) are recycled. */
  maxAge: duration().prefault('12h'),
  /** Leased longer than this is reported (error log, status). */
  maxLeaseDuration: duration().prefault('6h'),
  /** Also terminate leases past maxLeaseDuration (off: a build may still be running). */
  terminateOverdueLeases: flag().default(false),
  prepare: z.strictObject({ agent: agentSchema.nullable().default(null), steps: z.array(prepareStepSchema).default([]) }).prefault({}),
});


/** `"0s"`, `"2s"` or `"0-2s"`, as `{ minMs, maxMs }`. */
const delayRange = () =>
  z
    .string({ error: (iss) => `expected a delay like "0s" or a range like "0-2s", got ${show(iss.input)}` })
    .transform((value, ctx) => {
      const range = parseDelayRange(value);
      if (range === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a delay like "0s" or a range like "0-2s" (low to high), got ${show(value)}` });
        return z.NEVER;
      }
      return range;
    });

const simSchema = z.strictObject({
  host: loopbackHost(),
  port: wholeNumber(0),
  region: text(),
  zones: z.array(text()).min(1, { error: 'expected at least one zone' }),
  /** Time from RunInstances until the instance is running and answers SSH. */
  bootDelay: duration(),
  /** Each boot takes bootDelay plus a uniform draw from 0 to bootSpread. */
  bootSpread: duration(),
  sshPort: wholeNumber(1),
  /** The public key every simulated VM accepts. */
  authorizedKeyPath: text(),
  /** How long terminated instances stay visible to DescribeInstances, as on EC2. */
  terminatedRetention: duration(),
  /** Image ids that exist in the simulated region: DescribeImages finds them; RunInstances of any other answers InvalidAMIID.NotFound. */
  images: z.array(text().regex(/^ami-[a-z0-9-]+$/, { error: (iss) => `expected an image id like "ami-vmpool-small", got ${show(iss.input)}` })),
  /** Instance types each zone offers, `*` for every zone not named: DescribeInstanceTypeOfferings; RunInstances of another type there answers Unsupported. */
  offerings: z.record(z.string(), z.array(text(), { error: (iss) => `expected a list of instance types, got ${show(iss.input)}` })),
  /** EC2's eventual consistency: how long a new instance stays unknown to the API. */
  consistency: z.strictObject({ delay: delayRange().prefault('0s') }).prefault({}),
  /** EC2's API token buckets, per action; EC2's figures unless replaced here. */
  throttling: z
    .strictObject({
      enabled: flag().default(false),
      actions: actionBuckets(bucketSchema).default({}),
    })
    .prefault({}),
  /** Container registries the simulated cloud serves (HTTP API v2 manifests) on loopback. */
  registries: z
    .array(
      z.strictObject({
        name: name(),
        /** 0 picks a free port. */
        port: wholeNumber(0),
        /** Answer 401 with a bearer-token challenge, as Docker Hub and most hosted registries do. */
        token: flag().default(false),
        /** `image:tag` references present at start. */
        images: z.array(text()).default([]),
      }),
    )
    .default([]),
});

const breakerSchema = z
  .strictObject({
    /** Outcomes older than this no longer count. */
    window: duration(),
    /** A zone is judged on at most this many of its latest outcomes within the window; null: twice minOutcomes. */
    recentOutcomes: wholeNumber(1).nullable(),
    /** Fewer recent outcomes than this never open the breaker; this many failures in a row do. */
    minOutcomes: wholeNumber(1),
    /** Failed-or-slow share of the recent outcomes that opens the breaker. */
    failureRate: ratio(),
    /** A boot is slow after 3x the recent median boot time, never before this. */
    slowBootFloor: duration(),
    /** Boots of one kind (provider, pool, instance type) needed before any boot of that kind is judged slow. */
    slowBootMinSamples: wholeNumber(1),
    /** Open period; the same every time unless maxOpenFor is longer. */
    openFor: duration(),
    /** Null: openFor (no growth). Longer: each consecutive re-open doubles the open period, up to this. */
    maxOpenFor: duration().nullable(),
    /** Launches let through per half-open period. */
    probes: wholeNumber(1),
  })
  .superRefine((b, ctx) => {
    if (b.recentOutcomes !== null && b.recentOutcomes < b.minOutcomes) {
      ctx.addIssue({ code: 'custom', path: ['recentOutcomes'], message: `expected null (twice minOutcomes) or at least minOutcomes (${b.minOutcomes}), got ${b.recentOutcomes}` });
    }
    if (b.maxOpenFor !== null && b.maxOpenFor < b.openFor) {
      ctx.addIssue({ code: 'custom', path: ['maxOpenFor'], message: `expected null (no growth) or at least openFor (${formatDuration(b.openFor)}), got ${formatDuration(b.maxOpenFor)}` });
    }
  })
  .transform((b) => ({ ...b, recentOutcomes: b.recentOutcomes ?? 2 * b.minOutcomes, maxOpenFor: b.maxOpenFor ?? b.openFor }));

/** Why a cron pattern or time zone is unusable, or undefined when it is fine. */
function cronProblem(pattern: string, timezone: string): string | undefined {
  try {
    new Cron(pattern, { paused: true, timezone });
    return undefined;
  } catch (err) {
    return `expected a cron pattern like "0 20 * * 1-5" in time zone ${timezone}, got ${show(pattern)} (${err instanceof Error ? err.message : String(err)})`;
  }
}

export const configSchema = z
  .strictObject({
    /** This installation's name, tagged on every instance it launches; it only ever reaps or rebuilds its own. */
    deployment: name(),
    redis: z.strictObject({
      url: text(),
      /** Key prefix for everything vmpool stores; the braces are a Redis Cluster hash tag. */
      prefix: text().regex(/^\{[^{}]+\}$/, { error: (iss) => `expected a hash tag like "{vmpool}", got ${show(iss.input)}` }),
      /** With a `rediss://` URL: check the server's certificate. false for Redis add-ons whose certificates are self-signed (Heroku's). */
      tlsVerify: flag().default(true),
    }),
    log: z.strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
        error: (iss) => `expected one of trace, debug, info, warn, error, fatal, silent, got ${show(iss.input)}`,
      }),
      /** Readable lines for a terminal instead of JSON. */
      pretty: flag(),
    }),
    http: z.strictObject({
      host: text(),
      port: wholeNumber(0),
      /** Bearer token for mutating endpoints; null leaves them open (the local demo only). */
      token: text().nullable(),
      requireToken: flag(),
      /** The longest a lease request may wait for a ready machine. */
      maxLeaseWait: duration(),
      /** Machine detail, recovery and verify (every read but status, zones, health, metrics, the dashboard) need the token too. */
      protectReads: flag(),
      /** Host names (any port) the API answers besides loopback and http.host: a DNS-rebinding guard; "*" accepts any. */
      allowedHosts: z.array(text(), { error: (iss) => `expected a list of host names, got ${show(iss.input)}` }),
      /** At most one cloud listing (GET /v1/recovery) and one registry check per version (GET /v1/agent/verify) this often, for every caller. */
      recoveryListEvery: duration(),
    }),
    ssh: z.strictObject({
      user: text(),
      privateKeyPath: text(),
      port: wholeNumber(1),
      /** Which instance address to dial. */
      target: z.enum(['privateIp', 'publicIp'], { error: (iss) => `expected "privateIp" or "publicIp", got ${show(iss.input)}` }),
      /** Refuse to dial anything but 127.0.0.0/8 and ::1: the guard for demos and tests. */
      loopbackOnly: flag(),
      connectTimeout: duration(),
      retryEvery: duration(),
      /** Instance tag where an image publishes its host key fingerprint; absent means trust on first use. */
      hostKeyTag: text(),
    }),
    producer: z.strictObject({
      reconcileEvery: duration(),
      launchConcurrency: wholeNumber(1),
      /** Unused since terminations are swept in batches; still accepted so existing configs load. */
      terminateConcurrency: wholeNumber(1),
      /** A fatal launch error (bad credentials, bad image id) halts the pool's launches this long, unless resumed sooner. */
      fatalPause: duration(),
      /** At start, check each pool against its provider (DryRun launches, image, offerings) and warn about what fails; never blocks the start. */
      preflightAtStart: flag(),
    }),
    booter: z.strictObject({
      concurrency: wholeNumber(1),
      /** One batched DescribeInstances per tick covers every booting machine. */
      describeEvery: duration(),
      /** A boot resumed after its booter died gets at least this long from the resume to reach the machine. */
      resumeWindow: duration(),
      /** While this process's event loop lags more than this, it judges no boot slow (its own lateness, not the zone's). */
      starvedLoopLag: duration(),
    }),
    breaker: breakerSchema,
    zones: z.strictObject({
      /** Which zone health zone choice obeys; anything but redis-breaker is for benchmarks. */
      strategy: z.enum(ZONE_STRATEGIES, { error: (iss) => `expected one of ${ZONE_STRATEGIES.join(', ')}, got ${show(iss.input)}` }),
    }),
    capacityCache: z.strictObject({
      /** How long a (zone, instance type) stays avoided after a capacity error. */
      ttl: duration(),
    }),
    allZonesOpen: z.strictObject({
      /** With every zone of a pool open, at most one probe launch per pool per this period. */
      probeEvery: duration(),
    }),
    cloudApi: z.strictObject({
      /** Per-process breaker on each provider's API endpoint: calls slower than this count as failures. */
      timeout: duration(),
      /** Failure share of recent calls that makes this process fail fast on the endpoint. */
      errorThresholdPercentage: wholeNumber(1),
      /** Calls needed in the rolling window before the endpoint breaker may open. */
      volumeThreshold: wholeNumber(1),
      /** How long it fails fast before trying the endpoint again. */
      resetTimeout: duration(),
    }),
    reaper: z.strictObject({
      /** How often the reaper compares the cloud's inventory with the machine store (one run at a time across producers). */
      every: duration(),
      /** A machine stuck this long in requested, launching or terminating is failed or retried; booting and preparing use the pool's bootTimeout. */
      stuckAfter: duration(),
      /**
       * EC2 is eventually consistent: the cloud not knowing an instance younger than this (or a tag
       * lookup finding none for a machine this recent) is "not yet", never "gone"; the record stays.
       */
      consistencyGrace: duration(),
    }),
    shutdown: z.strictObject({
      /** On SIGTERM, running jobs get this long to finish before they are handed back to other processes. */
      grace: duration(),
    }),
    providers: z.array(providerSchema).min(1, { error: 'expected at least one provider' }),
    pools: z.array(poolSchema),
    /** Container registries that pools pull their build agent from. */
    registries: z.array(registrySchema).default([]),
    agent: z.strictObject({
      /** Per-process breaker on each registry: a registry that keeps failing is tried last, not first. */
      registryBreaker: z.strictObject({
        errorThresholdPercentage: wholeNumber(1),
        volumeThreshold: wholeNumber(1),
        resetTimeout: duration(),
      }),
      /** The canary is halted when its prepare failure rate reaches failureRatio x the stable one's, with at least minFailures failures. */
      canaryGuard: z.strictObject({
        failureRatio: z.number({ error: (iss) => `expected a number >= 1, got ${show(iss.input)}` }).min(1, { error: (iss) => `expected a number >= 1, got ${show(iss.input)}` }),
        minFailures: wholeNumber(1),
      }),
      /** Replacing ready machines on a superseded version. */
      rollout: z.strictObject({
        /** At most this share of a pool's target is being replaced at once (at least one machine). */
        maxShare: ratio(),
        /** One replacement per this period per pool, at most. */
        every: duration(),
      }),
      /** Bytes of each prepare step's and pull's output kept in the machine's log. */
      outputBytes: wholeNumber(256),
      /** Hosts besides a registry's own that may serve its bearer-token realm (a registry cannot send us anywhere else). */
      tokenRealmHosts: z.array(text()).default([]),
    }),
    sim: simSchema,
  })
  .superRefine((config, ctx) => {
    const providers = new Map(config.providers.map((p) => [p.name, p]));
    const registries = new Set(config.registries.map((r) => r.name));
    if (registries.size < config.registries.length) ctx.addIssue({ code: 'custom', path: ['registries'], message: 'registry names must be unique' });
    const seen = new Set<string>();
    config.pools.forEach((pool, i) => {
      if (seen.has(pool.name)) ctx.addIssue({ code: 'custom', path: ['pools', i, 'name'], message: `duplicate pool name "${pool.name}"` });
      seen.add(pool.name);
      if (pool.warm > pool.max) ctx.addIssue({ code: 'custom', path: ['pools', i, 'warm'], message: `expected at most max (${pool.max}), got ${pool.warm}` });
      if (pool.min > pool.max) ctx.addIssue({ code: 'custom', path: ['pools', i, 'min'], message: `expected at most max (${pool.max}), got ${pool.min}` });
      pool.schedule.forEach((entry, j) => {
        const problem = cronProblem(entry.cron, pool.timezone);
        if (problem) ctx.addIssue({ code: 'custom', path: ['pools', i, 'schedule', j, 'cron'], message: problem });
      });
      const provider = providers.get(pool.provider);
      if (!provider) {
        ctx.addIssue({ code: 'custom', path: ['pools', i, 'provider'], message: `no provider named "${pool.provider}"` });
        return;
      }
      pool.prepare.agent?.registries.forEach((registry, j) => {
        if (!registries.has(registry)) ctx.addIssue({ code: 'custom', path: ['pools', i, 'prepare', 'agent', 'registries', j], message: `no registry named "${registry}" in registries` });
      });
      const known = new Set(provider.zones.map((z) => `${provider.name}/${z.name}`));
      pool.zones.forEach((zone, j) => {
        if (!known.has(zone)) ctx.addIssue({ code: 'custom', path: ['pools', i, 'zones', j], message: `expected one of ${[...known].join(', ')}, got ${show(zone)}` });
      });
    });
    for (const zone of Object.keys(config.sim.offerings)) {
      if (zone !== '*' && !config.sim.zones.includes(zone)) ctx.addIssue({ code: 'custom', path: ['sim', 'offerings', zone], message: `expected "*" or one of sim.zones (${config.sim.zones.join(', ')}), got ${show(zone)}` });
    }
    if (config.http.requireToken && !config.http.token) {
      ctx.addIssue({ code: 'custom', path: ['http', 'token'], message: 'required when http.requireToken is true (set API_TOKEN)' });
    }
    if (!LOOPBACK_NAMES.has(config.http.host) && config.http.allowedHosts.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['http', 'allowedHosts'], message: `required when http.host (${config.http.host}) takes connections from the network: list the names clients use, e.g. ["vmpool.example.com"], or ["*"] when a load balancer checks the Host (HTTP_ALLOWED_HOSTS)` });
    }
    if (config.http.requireToken && config.http.token && config.http.token.length < MIN_TOKEN_LENGTH) {
      ctx.addIssue({ code: 'custom', path: ['http', 'token'], message: `expected at least ${MIN_TOKEN_LENGTH} characters when http.requireToken is true: a short token can be guessed (try: openssl rand -hex 24)` });
    }
  });

export type Config = z.output<typeof configSchema>;
export type PoolConfig = Config['pools'][number];
export type ProviderConfig = Config['providers'][number];
export type SimConfig = Config['sim'];
export type SshConfig = Config['ssh'];
export type PrepareStep = PoolConfig['prepare']['steps'][number];
export type AgentConfig = NonNullable<PoolConfig['prepare']['agent']>;
export type RegistryConfig = Config['registries'][number];
