/**
 * Lua for the machine store. Every state change two processes could race on
 * (a reaper and a booter, two API processes leasing) is one script that
 * checks the state it leaves. Time comes in as an argument, never from the
 * server clock. Every key a script touches is passed in KEYS (LEASE's machine
 * records excepted: their ids come from the ready set it reads), and all share
 * the prefix's hash tag, so each script stays within one Redis Cluster slot.
 *
 * Key layout under PREFIX:
 *   PREFIX:machine:<id>            hash, one machine record
 *   PREFIX:state:<pool>:<state>    sorted set of ids, score = when the state was entered
 *   PREFIX:counts:<pool>           hash "<zone>|<state>" -> number of machines, and
 *                                  "<zone>|slow" -> booting or preparing machines judged slow
 *   PREFIX:terminating             sorted set of every pool's terminating ids (score = since): what a
 *                                  termination sweep ends, a pool since removed from the config's too
 */

import { ZONE_JUDGEMENT } from '../zones/breaker-scripts.js';

/** Return codes shared by the scripts; mapped to `StoreResult` in store.ts. */
export const CODE = { OK: 1, NOT_FOUND: -1, WRONG_STATE: -2, EXISTS: -3, LIMIT: -4, ZONE_LIMIT: -5 } as const;

// Shared body: moves machine `id` to `to`, keeping indexes and counts exact. `K` holds the keys it touches,
// every one passed in KEYS by the caller: { counts = pool's counts hash, terminating = every pool's terminating
// index, states = { [state] = pool's set of that state } } (the states it may leave and `to`). `rec` is the
// record's { pool, zone, state, slow } as read(key) returned it, read once by the caller to check the state
// it leaves; `fields` are more field, value pairs written with the state in one HSET.
const MOVE = `
local function read(key)
  return redis.call('HMGET', key, 'pool', 'zone', 'state', 'slow')
end

local function move(K, id, key, rec, to, now, retention, fields)
  local zone, from, slow = rec[2], rec[3], rec[4]
  local booting = { booting = true, preparing = true }
  if slow == '1' and booting[from] and not booting[to] then
    if redis.call('HINCRBY', K.counts, zone .. '|slow', -1) <= 0 then redis.call('HDEL', K.counts, zone .. '|slow') end
  end
  redis.call('ZREM', K.states[from], id)
  if from == 'terminating' then redis.call('ZREM', K.terminating, id) end
  if to == 'terminating' then redis.call('ZADD', K.terminating, now, id) end
  if redis.call('HINCRBY', K.counts, zone .. '|' .. from, -1) <= 0 then
    redis.call('HDEL', K.counts, zone .. '|' .. from)
  end
  redis.call('HSET', key, 'state', to, 'stateSince', now, unpack(fields or {}))
  if to == 'terminated' then
    redis.call('PEXPIRE', key, retention)
  else
    redis.call('ZADD', K.states[to], now, id)
    redis.call('HINCRBY', K.counts, zone .. '|' .. to, 1)
  end
  return from
end
`;

/**
 * Moves a machine to a state if it is in one of the states it may leave.
 * KEYS[1] machine hash, KEYS[2] its pool's counts hash, KEYS[3] the terminating index,
 * KEYS[4] its pool's set of the target state, KEYS[5..] its pool's sets of the states it may leave (ARGV[6]'s order)
 * ARGV[1] pool (the record's, checked), ARGV[2] id, ARGV[3] target state, ARGV[4] now (ms),
 * ARGV[5] retention of terminated records (ms), ARGV[6] comma-list of states it may leave,
 * ARGV[7..] field, value pairs to set
 * Returns {code, state it found}
 */
export const TRANSITION = `${MOVE}
local key = KEYS[1]
local rec = read(key)
local state = rec[3]
if not state then return {${CODE.NOT_FOUND}, ''} end
if rec[1] ~= ARGV[1] then return redis.error_reply('machine ' .. ARGV[2] .. ' is in pool ' .. tostring(rec[1]) .. ', not ' .. ARGV[1]) end
local K = { counts = KEYS[2], terminating = KEYS[3], states = { [ARGV[3]] = KEYS[4] } }
local leaves, i = false, 5
for from in string.gmatch(ARGV[6], '[^,]+') do
  K.states[from] = KEYS[i]
  if from == state then leaves = true end
  i = i + 1
end
if not leaves then return {${CODE.WRONG_STATE}, state} end
move(K, ARGV[2], key, rec, ARGV[3], ARGV[4], ARGV[5], { unpack(ARGV, 7) })
return {${CODE.OK}, state}
`;

/**
 * Creates a machine in `requested` only if the pool stays within its limits
 * and its zone within its in-flight limit, so concurrent reconciles in several
 * producers, of one pool or of several pools sharing a zone, can never
 * overshoot either. The zone's limit is the breaker's own judgement
 * (ZONE_JUDGEMENT, read here in the same step): while a closed zone has
 * failures against it (one within the window), it holds at most
 * failuresToOpen machines whose outcome may still be to come, every pool's.
 * A zone with no failure in the window costs one read (its breaker hash).
 * KEYS[1] machine hash, KEYS[2] pool counts hash, KEYS[3] pool's requested set,
 * with the zone's limit only: KEYS[4] zone breaker hash, KEYS[5] zone breaker recent list,
 * KEYS[6..] counts hashes of the other pools sharing the zone
 * ARGV[1] now, ARGV[2] warm target, ARGV[3] max, ARGV[4] comma-list of warming states,
 * ARGV[5] comma-list of live states, ARGV[6] zone, ARGV[7] '1' to apply the zone's limit (else '0'),
 * ARGV[8] recentMax, ARGV[9] windowMs, ARGV[10] minOutcomes, ARGV[11] failureRate,
 * ARGV[12] comma-list of states whose outcome may still be to come, ARGV[13..] field, value pairs
 * Returns code: OK, EXISTS, LIMIT (the pool's), ZONE_LIMIT (the zone's: try another zone)
 */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return ${CODE.EXISTS} end
local counts = redis.call('HGETALL', KEYS[2])
local zoneOf = ARGV[6]
local warming, live = 0, 0
local function listed(list, state) return string.find(',' .. list .. ',', ',' .. state .. ',', 1, true) ~= nil end
for i = 1, #counts, 2 do
  local state = string.match(counts[i], '|([^|]+)$')
  local n = tonumber(counts[i + 1])
  if listed(ARGV[4], state) then warming = warming + n end
  -- A slow boot is likely doomed: it no longer holds a place in the warm target.
  if state == 'slow' then warming = warming - n end
  if listed(ARGV[5], state) then live = live + n end
end
if warming >= tonumber(ARGV[2]) or live >= tonumber(ARGV[3]) then return ${CODE.LIMIT} end
if ARGV[7] == '1' then
  local H, R, now = KEYS[4], KEYS[5], tonumber(ARGV[1])
  local recentMax, windowMs, minOutcomes, failureRate = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
  ${ZONE_JUDGEMENT}
  -- streakAt is the zone's latest failure: none within the window, nothing against it, no limit.
  if now - tonumber(get('streakAt', '0')) <= windowMs then
    local limit = failuresToOpen()
    if limit < minOutcomes then
      local unresolved = {}
      for state in string.gmatch(ARGV[12], '[^,]+') do unresolved[#unresolved + 1] = zoneOf .. '|' .. state end
      local inFlight = 0
      for k = 2, #KEYS do
        if k ~= 3 and k ~= 4 and k ~= 5 then
          local c = redis.call('HMGET', KEYS[k], zoneOf .. '|slow', unpack(unresolved))
          -- A slow boot already counted against its zone.
          inFlight = inFlight - (tonumber(c[1]) or 0)
          for i = 2, #c do inFlight = inFlight + (tonumber(c[i]) or 0) end
        end
      end
      if inFlight >= limit then return ${CODE.ZONE_LIMIT} end
    end
  end
end
redis.call('HSET', KEYS[1], 'state', 'requested', 'stateSince', ARGV[1], 'createdAt', ARGV[1], 'zone', zoneOf, unpack(ARGV, 13))
redis.call('ZADD', KEYS[3], ARGV[1], redis.call('HGET', KEYS[1], 'id'))
redis.call('HINCRBY', KEYS[2], zoneOf .. '|requested', 1)
return ${CODE.OK}
`;

/**
 * Leases up to `count` of a pool's machines, longest-ready first, or only
 * those carrying the agent version asked for: one call serves every request
 * a web process has waiting for the pool.
 * KEYS[1] pool's ready set, KEYS[2] pool's leased set, KEYS[3] pool's counts hash, KEYS[4] the terminating index
 * ARGV[1] prefix, ARGV[2] now, ARGV[3] agent version ('' for any), ARGV[4] count
 * The machine records it reads and leases are found in the ready set, so they
 * cannot be named before it runs: their keys (PREFIX:machine:<id>) are the one
 * kind built here, under the same hash tag as every key passed.
 * Returns a list of flattened machine hashes (empty when none is ready)
 */
export const LEASE = `${MOVE}
local want = tonumber(ARGV[4])
local leased = {}
local K = { counts = KEYS[3], terminating = KEYS[4], states = { ready = KEYS[1], leased = KEYS[2] } }
local function take(id, key, rec)
  -- The answer is pending until the api has written it: one that never left is found by the reaper.
  move(K, id, key, rec, 'leased', ARGV[2], 0, { 'leasedAt', ARGV[2], 'leaseAnswer', 'pending' })
  leased[#leased + 1] = redis.call('HGETALL', key)
end
if ARGV[3] ~= '' then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if #leased >= want then break end
    local key = ARGV[1] .. ':machine:' .. id
    local rec = redis.call('HMGET', key, 'pool', 'zone', 'state', 'slow', 'agentVersion')
    if rec[3] == 'ready' and rec[5] == ARGV[3] then take(id, key, rec)
    elseif rec[3] ~= 'ready' then redis.call('ZREM', KEYS[1], id) end
  end
  return leased
end
while #leased < want do
  local ids = redis.call('ZRANGE', KEYS[1], 0, want - #leased - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local key = ARGV[1] .. ':machine:' .. id
    local rec = read(key)
    if rec[3] == 'ready' then take(id, key, rec)
    -- An index entry without its record (expired, or lost writes): drop it and look again.
    else redis.call('ZREM', KEYS[1], id) end
  end
end
return leased
`;

/**
 * Claims a machine's one zone outcome, only if its record exists (so a late
 * claim never recreates an expired record).
 * KEYS[1] machine hash. Returns 1 if this call claimed it.
 */
export const CLAIM_OUTCOME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'zoneOutcome', '1')
`;

/**
 * Marks a booting machine slow, once: it stops counting toward its pool's
 * warm target (a replacement may launch) while it finishes or fails. Never a
 * preparing one: slowness is judged up to SSH only, prepare and pulls have
 * their own timeouts (a slow registry is not the zone's fault).
 * KEYS[1] machine hash, KEYS[2] its pool's counts hash. Returns 1 if this call marked it.
 */
export const MARK_SLOW = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'booting' then return 0 end
if redis.call('HSETNX', KEYS[1], 'slow', '1') == 0 then return 0 end
local zone = redis.call('HGET', KEYS[1], 'zone')
redis.call('HINCRBY', KEYS[2], zone .. '|slow', 1)
return 1
`;

/**
 * Recreates a machine record (a rebuild after a Redis loss) only if it is
 * missing, with its index and count, in one step.
 * KEYS[1] machine hash, KEYS[2] its pool's set of its state, KEYS[3] its pool's counts hash
 * ARGV[1..] field, value pairs (pool, zone, state, stateSince included).
 * Returns 1 if created.
 */
export const RESTORE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
local id, zone, state, since = unpack(redis.call('HMGET', KEYS[1], 'id', 'zone', 'state', 'stateSince'))
redis.call('ZADD', KEYS[2], since, id)
redis.call('HINCRBY', KEYS[3], zone .. '|' .. state, 1)
return 1
`;
