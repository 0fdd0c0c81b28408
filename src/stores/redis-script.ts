/**
 * The Lua script that decides one call on Redis: it checks every budget of the call and counts
 * the call in all of them or in none, atomically, in one round trip.
 *
 * One budget is one list of the counted calls, oldest first: `"<time>"` for a call of one unit
 * (every call in policy format v1). Time never runs backwards within a budget, so appending
 * keeps the list sorted and pruning is a trim of its head, and the list's length is its total.
 * Once a weighted call (cost ≠ 1) is counted, entries may be `"<time>:<cost>"` and the list
 * starts with a header `"#<total units>"`, so the total stays one read away. One key per budget
 * keeps each call's keys, and its payload, small.
 *
 * Refusals and dry runs write nothing. Entries that have left the window are trimmed only when a
 * call is counted: a refusal at a late time must not forget calls that an earlier time (another
 * replica's engine clock, under `clock: "engine"`) would still see.
 *
 * @packageDocumentation
 */

import { createHash } from "node:crypto";

/**
 * KEYS[b]: budget b's list.
 * ARGV[1]: the request's time in ms, or "" for the Redis server's clock (TIME).
 * ARGV[2]: "1" for a dry run, else "0".
 * ARGV[3b], ARGV[3b+1], ARGV[3b+2]: budget b's max, window (ms) and cost.
 * Returns {1, remaining per budget} when the call fits, {0, wait per budget (0 = room)} when not.
 */
export const DECIDE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local now
if ARGV[1] == '' then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local dry = ARGV[2] == '1'
local n = #KEYS

local function parse(entry)
  if not entry then error('toolgate: a budget holds fewer entries than its unit total') end
  local sep = string.find(entry, ':', 1, true)
  if sep then return tonumber(string.sub(entry, 1, sep - 1)), tonumber(string.sub(entry, sep + 1)) end
  return tonumber(entry), 1
end

local at, used, stale, header, waits = {}, {}, {}, {}, {}
local refused = false
for b = 1, n do
  local list = KEYS[b]
  local max, window, cost = tonumber(ARGV[3 * b]), tonumber(ARGV[3 * b + 1]), tonumber(ARGV[3 * b + 2])
  local t, total, base, k = now, 0, 0, 0
  local len = redis.call('LLEN', list)
  if len > 0 then
    local first = redis.call('LINDEX', list, 0)
    if string.byte(first, 1) == 35 then
      base = 1
      total = tonumber(string.sub(first, 2))
    else
      total = len
    end
    local last = parse(redis.call('LINDEX', list, -1))
    if last > t then t = last end
    local edge = t - window
    while base + k < len do
      local time, weight = parse(redis.call('LINDEX', list, base + k))
      if time > edge then break end
      total = total - weight
      k = k + 1
    end
  end
  at[b], used[b], stale[b], header[b], waits[b] = t, total, k, base, 0
  if total + cost > max then
    refused = true
    local i, left, time, weight = base + k, total, 0, 0
    repeat
      time, weight = parse(redis.call('LINDEX', list, i))
      left = left - weight
      i = i + 1
    until left + cost <= max
    waits[b] = math.ceil(time + window - now)
  end
end

if refused then
  local reply = {0}
  for b = 1, n do reply[b + 1] = waits[b] end
  return reply
end

local reply = {1}
for b = 1, n do
  local max, window, cost = tonumber(ARGV[3 * b]), tonumber(ARGV[3 * b + 1]), tonumber(ARGV[3 * b + 2])
  reply[b + 1] = max - used[b] - cost
  if not dry then
    local list = KEYS[b]
    local t = at[b]
    local weighted = header[b] == 1 or cost ~= 1
    local drop = header[b] + stale[b]
    if weighted then
      if drop > 0 then redis.call('LTRIM', list, drop, -1) end
      redis.call('RPUSH', list, string.format('%.17g', t) .. ':' .. cost)
      redis.call('LPUSH', list, '#' .. string.format('%d', used[b] + cost))
    else
      if drop > 0 then redis.call('LTRIM', list, drop, -1) end
      redis.call('RPUSH', list, string.format('%.17g', t))
    end
    redis.call('PEXPIRE', list, math.ceil(t + window - now))
  end
end
return reply
`;

/** SHA-1 of {@link DECIDE_SCRIPT}, the name EVALSHA runs it by. */
export const DECIDE_SCRIPT_SHA = createHash("sha1").update(DECIDE_SCRIPT).digest("hex");
