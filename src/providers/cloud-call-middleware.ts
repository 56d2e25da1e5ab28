import { AsyncLocalStorage } from 'node:async_hooks';
import type { EC2Client, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-ec2';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import type { Logger } from '../log.js';
import { callResult, type CloudCallCounters } from './cloud-calls.js';
import type { RateBudget } from './rate-budget.js';

export interface CloudCallWatch {
  provider: string;
  /** The shared budget every request waits for; absent: none (`rateBudget.shared: false`). */
  budget?: RateBudget | undefined;
  counters?: CloudCallCounters | undefined;
  logger: Logger;
}

/**
 * Puts every HTTP request the client sends (each retry and each page
 * included) through the provider's shared rate budget, reports throttled
 * answers to it, and counts each request's result.
 *
 * Placed inside the SDK's retry loop, just before signing: each attempt
 * waits for its own turn, and is signed once it goes.
 */
export function watchCloudCalls(client: EC2Client, watch: CloudCallWatch): void {
  client.middlewareStack.addRelativeTo(cloudCallMiddleware(watch), { name: 'vmpoolCloudCalls', relation: 'before', toMiddleware: 'httpSigningMiddleware', override: true });
  carryAbortSignal(client);
}

function cloudCallMiddleware({ provider, budget, counters, logger }: CloudCallWatch): FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> {
  return (next, context) => async (args) => {
    const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    if (budget) await budget.take(action, resourceCost(action, args.input), callSignal.getStore());
    try {
      const output = await next(args);
      counters?.count(provider, action, 'ok');
      return output;
    } catch (err) {
      const result = callResult(err);
      counters?.count(provider, action, result);
      if (result === 'throttled' && budget) {
        // The SDK retries after its own backoff; that retry, and every process's next call, waits for the hold.
        const holdMs = await budget.throttled(action).catch(() => 0);
        logger.debug({ action, holdMs }, 'cloud API throttled: every process holds this action');
      }
      throw err;
    }
  };
}

/** What a call spends from its action's resource bucket: the instances it launches or terminates. */
export function resourceCost(action: string, input: unknown): number {
  const params = (input ?? {}) as { MaxCount?: number; InstanceIds?: readonly string[] };
  if (action === 'RunInstances') return params.MaxCount ?? 1;
  if (action === 'TerminateInstances') return params.InstanceIds?.length ?? 0;
  return 0;
}

/**
 * The SDK hands a call's abort signal (`send(command, { abortSignal })`) to
 * its HTTP handler only, after every middleware has run; the budget waits
 * before that. So the signal travels beside the call in an async context,
 * set around each `send`.
 */
const callSignal = new AsyncLocalStorage<AbortSignal | undefined>();

type Send = (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;

function carryAbortSignal(client: EC2Client): void {
  const send = client.send.bind(client) as Send;
  const withSignal: Send = (command, options) => callSignal.run(options?.abortSignal, () => send(command, options));
  client.send = withSignal as EC2Client['send'];
}
