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
 *   PREFIX:breaker:Z:recent   list of the zone's latest outcomes, newest first, "<ms>:1" (failed),
 *                             "<ms>:2" (failed by a slow boot) or "<ms>:0", capped at recentMax: constant memory
 *   PREFIX:breaker-audit      stream of transitions, capped
 *
 * A zone is judged on its recent outcomes: those among its latest recentMax
 * that are younger than windowMs. A failure opens it when they number at least
 * minOutcomes and failureRate of them failed, or when it is the minOutcomes-th
 * failure in a row. Judging by count as well as time means a zone that starts
 * failing after a long healthy spell opens within about minOutcomes failures.
 *
 * Common ARGV (every script): [1] now, [2] zone, [3] recentMax, [4] windowMs,
 * [5] roundMs (a half-open round's life), [6] minOutcomes, [7] failureRate;
 * script-specific ARGV follow from [8]
 * Returns: { effective state, auto state, mode, failures, outcomes, openUntil,
 *            reopens, probesGranted, modeReason, modeBy, modeUntil, granted,
 *            failuresToOpen, transitions... }
 * failuresToOpen: how many more failures in a row would open the zone (at most
 * minOutcomes; minOutcomes when the zone is not closed under auto mode).
 */

/**
 * How a zone is judged, shared by these scripts and the machine store's
 * CREATE (which refuses a machine beyond the zone's in-flight limit in the
 * same step as it records it). Expects the locals H (the zone's hash), R (its
 * recent list), now, recentMax, windowMs, minOutcomes and failureRate.
 * Defines get, recent, totals, streak, opens, failuresToOpen.
 */
export const ZONE_JUDGEMENT = `
-- The zone's hash, read once per script (HGETALL) and kept in step with every write: a script reads
-- a dozen fields, and one read instead of a dozen is most of an outcome's Redis commands.
local fields = nil
local function load()
  if not fields then
    fields = {}
    local flat = redis.call('HGETALL', H)
    for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  end
  return fields
end

local function get(field, default)
  local v = load()[field]
  if v == nil then return default end
  return v
end

-- The recent outcomes, newest first, as 1 (failed) or 0; outcomes older than the window are dropped.
-- recentSlow marks the failures that were slow boots (stored as 2), so a transition can say so.
-- Read once per script (the time is the script's own); pushOutcome and forget keep it in step.
local recentList, recentSlow = nil, nil
local function recent()
  if recentList then return recentList end
  local list = redis.call('LRANGE', R, 0, recentMax - 1)
  recentList, recentSlow = {}, {}
  for i, entry in ipairs(list) do
    local at, code = string.match(entry, '^(%-?%d+):(%d)$')
    if tonumber(at) <= now - windowMs then
      if i == 1 then redis.call('DEL', R) else redis.call('LTRIM', R, 0, i - 2) end
      break
    end
    recentList[i] = math.min(tonumber(code), 1)
    recentSlow[i] = code == '2'
  end
  return recentList
end

-- Adds the newest outcome (code 0 ok, 1 failed, 2 failed by a slow boot), capped at recentMax;
-- the list expires with its zone's last outcome.
local function pushOutcome(code)
  local list = recent()
  redis.call('LPUSH', R, now .. ':' .. code)
  table.insert(list, 1, math.min(code, 1))
  table.insert(recentSlow, 1, code == 2)
  if #list > recentMax then
    redis.call('LTRIM', R, 0, recentMax - 1)
    list[#list] = nil
    recentSlow[#recentSlow] = nil
  end
  redis.call('PEXPIRE', R, windowMs * 2)
end

-- How many of the recent failures were slow boots.
local function slowFailures()
  recent()
  local n = 0
  for _, slow in ipairs(recentSlow) do
    if slow then n = n + 1 end
  end
  return n
end

local function totals()
  local ok, bad = 0, 0
  for _, b in ipairs(recent()) do
    if b == 1 then bad = bad + 1 else ok = ok + 1 end
  end
  return ok, bad
end

-- Failures in a row, forgotten when the last one is a whole window old.
local function streak()
  if now - tonumber(get('streakAt', '0')) > windowMs then return 0 end
  return tonumber(get('streak', '0'))
end

-- Why bad failures among n recent outcomes and inRow failures in a row open a zone, or nil.
local function opens(bad, n, inRow)
  if n >= minOutcomes and bad / n >= failureRate then return 'failure rate reached' end
  if inRow >= minOutcomes then return inRow .. ' failures in a row' end
  return nil
end

-- The fewest further failures, in a row, that would open a closed zone (the streak rule caps it at minOutcomes).
local function failuresToOpen()
  if get('mode', 'auto') ~= 'auto' or get('state', 'closed') ~= 'closed' then return minOutcomes end
  local list, inRow = recent(), streak()
  for m = 1, minOutcomes - 1 do
    local bad, n = m, m
    for i = 1, math.min(#list, recentMax - m) do
      bad, n = bad + list[i], n + 1
    end
    if opens(bad, n, inRow + m) then return m end
  end
  return minOutcomes
end

`;

const LIBRARY = `
local H, R, AUDIT = KEYS[1], KEYS[2], KEYS[3]
local now, zone, recentMax, windowMs, roundMs = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local minOutcomes, failureRate = tonumber(ARGV[6]), tonumber(ARGV[7])
local moves = {}
${ZONE_JUDGEMENT}
local function hset(...)
  local args = { ... }
  redis.call('HSET', H, unpack(args))
  local f = load()
  for i = 1, #args, 2 do f[args[i]] = tostring(args[i + 1]) end
end

local function hincrby(field, by)
  local v = redis.call('HINCRBY', H, field, by)
  load()[field] = tostring(v)
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
  if state == 'open' then hset('state', state, 'since', now, 'openUntil', math.floor(now + openMs))
  elseif state == 'half-open' then hset('state', state, 'since', now, 'probesGranted', 0, 'probeOk', 0, 'roundAt', now)
  elseif state == 'closed' then hset('state', state, 'since', now, 'reopens', 0, 'streak', 0)
  else hset('state', state, 'since', now) end
end

-- A close by hand starts from a clean slate; a close by probes keeps the recent failures (see RECORD).
local function forget()
  redis.call('DEL', R)
  recentList, recentSlow = {}, {}
end

local function settleTime()
  local mode = get('mode', 'auto')
  local modeUntil = tonumber(get('modeUntil', '0'))
  if mode ~= 'auto' and modeUntil > 0 and now >= modeUntil then
    local before = effective()
    hset('mode', 'auto', 'modeReason', 'override expired', 'modeBy', 'vmpool', 'modeAt', now, 'modeUntil', 0)
    -- After a forced open the zone is probed before it is trusted again.
    if mode == 'forced-open' then enter('half-open') else enter('closed'); forget() end
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
    hset('probesGranted', 0, 'probeOk', 0, 'roundAt', now)
  end
end

local function answer(granted)
  local ok, bad = totals()
  local mode, state = get('mode', 'auto'), get('state', 'closed')
  local out = { effectiveOf(mode, state), state, mode, bad, ok + bad, get('openUntil', '0'),
    get('reopens', '0'), get('probesGranted', '0'), get('modeReason', ''), get('modeBy', ''), get('modeUntil', '0'), granted, failuresToOpen() }
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
 * Records one outcome. ARGV[8] 'ok', 'bad' or 'slow' (a failure: a boot judged slow), ARGV[9] '1' if the machine was
 * a half-open probe, ARGV[10] openFor ms, ARGV[11] maxOpenFor ms, ARGV[12] probes.
 * Only a failure opens a closed zone. A zone closed by its probes keeps its
 * recent failures: a zone that still fails re-opens on its next failure, and
 * a healed one is trusted fully once its successes outweigh them.
 */
export const RECORD = `${LIBRARY}
local outcome, isProbe = ARGV[8], ARGV[9] == '1'
local openFor, maxOpenFor, probes = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local failed = outcome ~= 'ok'
pushOutcome(outcome == 'slow' and 2 or (failed and 1 or 0))
local inRow = 0
if failed then
  inRow = streak() + 1
  hset('streak', inRow, 'streakAt', now)
else
  hset('streak', 0)
end
if get('mode', 'auto') == 'auto' then
  local state = get('state', 'closed')
  local reopens = tonumber(get('reopens', '0'))
  if state == 'closed' and failed then
    local ok, bad = totals()
    local why = opens(bad, ok + bad, inRow)
    if why then
      -- The operator's first question: did the machines die, or hang?
      local slow = slowFailures()
      if slow == bad then why = why .. ', all slow boots'
      elseif slow > 0 then why = why .. ', ' .. slow .. ' of them slow boots' end
      enter('open', math.min(openFor * 2 ^ reopens, maxOpenFor))
      note('closed', 'open', why, 'vmpool')
    end
  elseif state == 'half-open' and isProbe then
    if outcome == 'ok' then
      if hincrby('probeOk', 1) >= probes then
        enter('closed')
        note('half-open', 'closed', 'probes succeeded', 'vmpool')
      end
    else
      hset('reopens', reopens + 1)
      enter('open', math.min(openFor * 2 ^ (reopens + 1), maxOpenFor))
      note('half-open', 'open', outcome == 'slow' and 'probe failed (slow boot)' or 'probe failed', 'vmpool')
    end
  end
end
return answer(0)
`;

/** Reserves one probe launch if the zone is half-open with slots left. ARGV[8] probes. Returns granted = 1. */
export const RESERVE_PROBE = `${LIBRARY}
if get('mode', 'auto') == 'auto' and get('state', 'closed') == 'half-open'
  and tonumber(get('probesGranted', '0')) < tonumber(ARGV[8]) then
  hincrby('probesGranted', 1)
  return answer(1)
end
return answer(0)
`;

/**
 * Sets the override. ARGV[8] mode (auto, forced-open, forced-closed),
 * ARGV[9] reason, ARGV[10] who, ARGV[11] until (ms, 0 = no expiry).
 */
export const SET_MODE = `${LIBRARY}
local mode, reason, by, untilMs = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local before, previous = effective(), get('mode', 'auto')
hset('mode', mode, 'modeReason', reason, 'modeBy', by, 'modeAt', now, 'modeUntil', untilMs)
if mode == 'auto' and previous == 'forced-open' then enter('half-open') end
if mode == 'auto' and previous == 'forced-closed' then enter('closed'); forget() end
note(before, effective(), 'manual ' .. mode .. ': ' .. reason, by, true)
return answer(0)
`;
