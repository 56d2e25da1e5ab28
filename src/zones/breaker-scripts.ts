/**
 * Lua for the zone breaker. Every read-modify-write of a zone's breaker is one
 * script, with the time passed in, so every process agrees and tests drive it
 * with a fake clock. Each script first applies the transitions that time
 * alone causes (an open period ending, an override expiring, a probe round
 * running out), so reading a zone never shows a stale state.
 *
 * Keys per zone Z under PREFIX (all within the prefix's hash tag):
 *   PREFIX:breaker:Z          hash: mode, modeReason, modeBy, modeAt, modeUntil,
 *                             state, since, openUntil, reopens, probesGranted, probeOk, roundAt,
 *                             streak, streakAt (failures since the last success, the last one's time)
 *   PREFIX:breaker:Z:window   hash "<bucket>:ok|bad" -> count (old buckets pruned: constant memory)
 *   PREFIX:breaker-audit      stream of transitions, capped
 *
 * Common ARGV (every script): [1] now, [2] zone, [3] bucketMs, [4] windowMs,
 * [5] roundMs (a half-open round's life); script-specific ARGV follow from [6]
 * Returns: { effective state, auto state, mode, failures, outcomes, openUntil,
 *            reopens, probesGranted, modeReason, modeBy, modeUntil, granted, transitions... }
 */

const LIBRARY = `
local H, W, AUDIT = KEYS[1], KEYS[2], KEYS[3]
local now, zone, bucketMs, windowMs, roundMs = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local moves = {}

local function get(field, default)
  local v = redis.call('HGET', H, field)
  if not v then return default end
  return v
end

local function effectiveOf(mode, state)
  if mode == 'forced-open' then return 'open' end
  if mode == 'forced-closed' then return 'closed' end
  return state
end

local function effective()
  return effectiveOf(get('mode', 'auto'), get('state', 'closed'))
end

local function totals()
  local oldest = math.floor((now - windowMs) / bucketMs)
  local fields = redis.call('HGETALL', W)
  local ok, bad = 0, 0
  for i = 1, #fields, 2 do
    local b, kind = string.match(fields[i], '^(%-?%d+):(%a+)$')
    if tonumber(b) <= oldest then redis.call('HDEL', W, fields[i])
    elseif kind == 'ok' then ok = ok + tonumber(fields[i + 1])
    else bad = bad + tonumber(fields[i + 1]) end
  end
  return ok, bad
end

local function note(from, to, why, by, always)
  if from == to and not always then return end
  local ok, bad = totals()
  local rate = 0
  if ok + bad > 0 then rate = bad / (ok + bad) end
  redis.call('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'zone', zone, 'from', from, 'to', to, 'why', why,
    'by', by, 'at', now, 'failureRate', string.format('%.3f', rate), 'outcomes', ok + bad)
  table.insert(moves, from .. '>' .. to .. '>' .. why)
end

-- Moves the automatic state; callers note() the effective change.
local function enter(state, openMs)
  redis.call('HSET', H, 'state', state, 'since', now)
  if state == 'open' then redis.call('HSET', H, 'openUntil', math.floor(now + openMs)) end
  if state == 'half-open' then redis.call('HSET', H, 'probesGranted', 0, 'probeOk', 0, 'roundAt', now) end
  if state == 'closed' then
    redis.call('HSET', H, 'reopens', 0, 'streak', 0)
    redis.call('DEL', W) -- a clean close starts from a clean window
  end
end

local function settleTime()
  local mode = get('mode', 'auto')
  local modeUntil = tonumber(get('modeUntil', '0'))
  if mode ~= 'auto' and modeUntil > 0 and now >= modeUntil then
    local before = effective()
    redis.call('HSET', H, 'mode', 'auto', 'modeReason', 'override expired', 'modeBy', 'vmpool', 'modeAt', now, 'modeUntil', 0)
    -- After a forced open the zone is probed before it is trusted again.
    if mode == 'forced-open' then enter('half-open') else enter('closed') end
    note(before, effective(), 'override expired', 'vmpool')
    mode = 'auto'
  end
  if mode ~= 'auto' then return end
  local state = get('state', 'closed')
  if state == 'open' and now >= tonumber(get('openUntil', '0')) then
    enter('half-open')
    note('open', 'half-open', 'open period over', 'vmpool')
  elseif state == 'half-open' and now - tonumber(get('roundAt', now)) >= roundMs then
    -- Probes that never reported (launch refused, machine lost) must not wedge the zone.
    redis.call('HSET', H, 'probesGranted', 0, 'probeOk', 0, 'roundAt', now)
  end
end

local function answer(granted)
  local ok, bad = totals()
  -- One read of every field the answer carries (a missing one is false).
  local f = redis.call('HMGET', H, 'mode', 'state', 'openUntil', 'reopens', 'probesGranted', 'modeReason', 'modeBy', 'modeUntil')
  local mode, state = f[1] or 'auto', f[2] or 'closed'
  local out = { effectiveOf(mode, state), state, mode, bad, ok + bad, f[3] or '0',
    f[4] or '0', f[5] or '0', f[6] or '', f[7] or '', f[8] or '0', granted }
  for _, m in ipairs(moves) do table.insert(out, m) end
  return out
end

settleTime()
`;

/** Reads a zone (after time-driven transitions). */
export const READ = `${LIBRARY}
return answer(0)
`;

/**
 * Records one outcome. ARGV[6] 'ok' or 'bad', ARGV[7] '1' if the machine was
 * a half-open probe, ARGV[8] minOutcomes, ARGV[9] failureRate,
 * ARGV[10] openFor ms, ARGV[11] maxOpenFor ms, ARGV[12] probes.
 */
export const RECORD = `${LIBRARY}
local outcome, isProbe = ARGV[6], ARGV[7] == '1'
local minOutcomes, failureRate = tonumber(ARGV[8]), tonumber(ARGV[9])
local openFor, maxOpenFor, probes = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
redis.call('HINCRBY', W, math.floor(now / bucketMs) .. ':' .. outcome, 1)
redis.call('PEXPIRE', W, windowMs * 2)
-- Failures since the last success: a zone that just died opens on minOutcomes of them, however many
-- successes the window still holds. A failure a whole window after the previous one starts a new streak.
local streak = 0
if outcome == 'bad' then
  if now - tonumber(get('streakAt', '0')) > windowMs then redis.call('HSET', H, 'streak', 0) end
  streak = redis.call('HINCRBY', H, 'streak', 1)
  redis.call('HSET', H, 'streakAt', now)
else
  redis.call('HSET', H, 'streak', 0)
end
if get('mode', 'auto') == 'auto' then
  local state = get('state', 'closed')
  local reopens = tonumber(get('reopens', '0'))
  if state == 'closed' then
    local ok, bad = totals()
    local why
    if ok + bad >= minOutcomes and bad / (ok + bad) >= failureRate then why = 'failure rate reached'
    elseif streak >= minOutcomes then why = streak .. ' failures in a row' end
    if why then
      enter('open', math.min(openFor * 2 ^ reopens, maxOpenFor))
      note('closed', 'open', why, 'vmpool')
    end
  elseif state == 'half-open' and isProbe then
    if outcome == 'ok' then
      if redis.call('HINCRBY', H, 'probeOk', 1) >= probes then
        enter('closed')
        note('half-open', 'closed', 'probes succeeded', 'vmpool')
      end
    else
      redis.call('HSET', H, 'reopens', reopens + 1)
      enter('open', math.min(openFor * 2 ^ (reopens + 1), maxOpenFor))
      note('half-open', 'open', 'probe failed', 'vmpool')
    end
  end
end
return answer(0)
`;

/** Reserves one probe launch if the zone is half-open with slots left. ARGV[6] probes. Returns granted = 1. */
export const RESERVE_PROBE = `${LIBRARY}
if get('mode', 'auto') == 'auto' and get('state', 'closed') == 'half-open'
  and tonumber(get('probesGranted', '0')) < tonumber(ARGV[6]) then
  redis.call('HINCRBY', H, 'probesGranted', 1)
  return answer(1)
end
return answer(0)
`;

/**
 * Sets the override. ARGV[6] mode (auto, forced-open, forced-closed),
 * ARGV[7] reason, ARGV[8] who, ARGV[9] until (ms, 0 = no expiry).
 */
export const SET_MODE = `${LIBRARY}
local mode, reason, by, untilMs = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local before, previous = effective(), get('mode', 'auto')
redis.call('HSET', H, 'mode', mode, 'modeReason', reason, 'modeBy', by, 'modeAt', now, 'modeUntil', untilMs)
if mode == 'auto' and previous == 'forced-open' then enter('half-open') end
if mode == 'auto' and previous == 'forced-closed' then enter('closed') end
note(before, effective(), 'manual ' .. mode .. ': ' .. reason, by, true)
return answer(0)
`;
