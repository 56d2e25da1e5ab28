/**
 * Lua for the shared rate budget: one hash per provider and cloud action,
 * spent by every vmpool process. Each call of the action is one TAKE; a
 * throttled answer is one THROTTLED.
 *
 * KEYS[1]  PREFIX:cloud-budget:<provider>:<action>, a hash:
 *            rt, rat    request bucket: tokens (below 0 while calls are reserved ahead) and when counted
 *            st, sat    resource bucket (instances launched or terminated), the same
 *            until      no call of the action before this (ms): a throttled answer's backoff
 *            level, lat how many throttles came in a row (each within maxBackoff of the last), the last one's time
 *          A missing hash is full buckets and no throttle: the key expires once it says nothing more.
 *
 * Time: ARGV[1] is the time in ms, or '' for Redis's own clock (TIME). vmpool
 * passes '': processes on machines whose clocks disagree still share one
 * bucket fairly. Tests pass a time to check the arithmetic exactly.
 */

/** Helpers both scripts use: the time, a bucket's level now, the key's lifetime. */
const COMMON = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A bucket's tokens now: full when never counted, refilled since it was, never above its size.
local function level(tokens, at, size, refill)
  tokens, at = tonumber(tokens), tonumber(at)
  if not tokens then return size end
  if now > at then tokens = math.min(size, tokens + (now - at) * refill / 1000) end
  return tokens
end

-- The hash lives while a bucket is below full, a throttle holds, or a throttle is remembered.
local function expire(ms)
  redis.call('PEXPIRE', key, math.ceil(math.max(ms, 0)) + 1000)
end
`;

/**
 * TAKE: one call of the action, reserved. The call's tokens are spent at
 * once, down below zero if need be, and the answer is how long the caller
 * waits for its turn: when the buckets will have refilled what it took, plus
 * the margin, and not before a throttle lifts. No caller polls, so a queue
 * of waiting calls costs one script each, however long the queue.
 *
 * The margin: the cloud counts a call when it arrives, and arrivals vary by
 * the request's latency. A call sent the instant our bucket allows would find
 * the cloud's a fraction of a token short whenever it travelled faster than
 * the call that set the cloud's refill going. So a call goes once its tokens
 * have been back for `margin` ms: the queue shifts later by the margin, its
 * pace unchanged.
 *
 * ARGV: [1] now or '', [2] request size, [3] request refill/s,
 *       [4] resource size (0: the action has no resource bucket), [5] resource refill/s,
 *       [6] resource cost (clamped to the size: a bigger call could never go),
 *       [7] maxBackoff ms (how long a throttle is remembered), [8] margin ms
 * Returns: ms to wait before the call (0: now).
 */
export const TAKE = `${COMMON}
local h = redis.call('HMGET', key, 'rt', 'rat', 'st', 'sat', 'until', 'lat')
local margin = tonumber(ARGV[8])
local wait, keep = 0, 0

-- Spends cost; the call waits until what is left has refilled to margin ms worth of tokens.
local function spend(tokens, cost, size, refill)
  local left = tokens - cost
  wait = math.max(wait, margin - left * 1000 / refill)
  keep = math.max(keep, (size - left) * 1000 / refill)
  return left
end

local reqSize, reqRefill = tonumber(ARGV[2]), tonumber(ARGV[3])
local fields = { 'rt', spend(level(h[1], h[2], reqSize, reqRefill), 1, reqSize, reqRefill), 'rat', now }
local resSize, resRefill = tonumber(ARGV[4]), tonumber(ARGV[5])
if resSize > 0 then
  local cost = math.min(tonumber(ARGV[6]), resSize)
  table.insert(fields, 'st')
  table.insert(fields, spend(level(h[3], h[4], resSize, resRefill), cost, resSize, resRefill))
  table.insert(fields, 'sat')
  table.insert(fields, now)
end
local untilAt = tonumber(h[5]) or 0
wait = math.max(wait, untilAt - now)
redis.call('HSET', key, unpack(fields))
expire(math.max(keep, untilAt - now, (tonumber(h[6]) or 0) + tonumber(ARGV[7]) - now))
return math.ceil(wait)
`;

/**
 * THROTTLED: the cloud answered a call of the action with a throttling
 * error. Every process holds its next calls of the action for a backoff
 * drawn in [half, whole] of firstBackoff x 2^(throttles in a row), capped at
 * maxBackoff; a throttle more than maxBackoff after the previous one starts
 * over at firstBackoff (calls went through meanwhile). The request bucket is
 * emptied: the cloud's is, whatever ours said (another client of the account
 * may spend it too), so calls resume at the refill rate, not in a burst.
 *
 * ARGV: [1] now or '', [2] firstBackoff ms, [3] maxBackoff ms, [4] a random draw in [0, 1),
 *       [5] request size, [6] request refill/s
 * Returns: ms until calls of the action may go again.
 */
export const THROTTLED = `${COMMON}
local h = redis.call('HMGET', key, 'rt', 'rat', 'until', 'level', 'lat')
local first, max, draw = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local reqSize, reqRefill = tonumber(ARGV[5]), tonumber(ARGV[6])
local lat = tonumber(h[5])
local inRow = 0
if lat and now - lat < max then inRow = math.min((tonumber(h[4]) or 0) + 1, 30) end
local backoff = math.min(max, first * 2 ^ inRow)
local untilAt = math.max(tonumber(h[3]) or 0, now + backoff * (0.5 + draw / 2))
local rt = math.min(level(h[1], h[2], reqSize, reqRefill), 0)
redis.call('HSET', key, 'rt', rt, 'rat', now, 'until', untilAt, 'level', inRow, 'lat', now)
expire(math.max(untilAt - now, max, (reqSize - rt) * 1000 / reqRefill))
return math.ceil(untilAt - now)
`;
