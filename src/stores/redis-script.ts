/**
 * The Lua script that decides one call on Redis: it checks every budget of the call and counts
 * the call in all of them or in none, atomically, in one round trip.
 *
 * One budget is one string key: a log of the counted calls, oldest first, as packed big-endian
 * doubles (exact for any time the engine can pass). An 8-byte header holds the units counted
 * before the first entry; each 16-byte entry holds a call's time and the running total of units
 * up to and including it. Running totals make every question one subtraction or a binary
 * search — units inside the window, the wait until enough units leave — for weighted calls as
 * for calls of one unit. Time never runs backwards within a budget, so entries stay sorted.
 *
 * A decision is then GET, and SET when the call is counted: three Redis calls with `TIME`,
 * however full the budget. A list or sorted set would need a call per entry inspected; the cost
 * here is a copy of the log, whose length is bounded by the calls inside one window.
 *
 * Refusals and dry runs write nothing. Entries that have left the window are dropped only when a
 * call is counted: a refusal at a late time must not forget calls that an earlier time (another
 * replica's engine clock, under `clock: "engine"`) would still see.
 *
 * @packageDocumentation
 */

import { createHash } from "node:crypto";

/**
 * KEYS[b]: budget b's log.
 * ARGV[1]: the request's time in ms, or "" for the Redis server's clock (TIME).
 * ARGV[2]: "1" for a dry run, else "0".
 * ARGV[3b], ARGV[3b+1], ARGV[3b+2]: budget b's max, window (ms) and cost.
 * Returns {1, remaining per budget} when the call fits, {0, wait per budget (0 = room)} when not.
 */
export const DECIDE_SCRIPT = `
local now
if ARGV[1] == '' then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local dry = ARGV[2] == '1'
local n = #KEYS
local unpack = struct.unpack

local logs, at, first, top, used, waits = {}, {}, {}, {}, {}, {}
local refused = false
for b = 1, n do
  local max, window, cost = tonumber(ARGV[3 * b]), tonumber(ARGV[3 * b + 1]), tonumber(ARGV[3 * b + 2])
  local log = redis.call('GET', KEYS[b])
  local t, lo, total, units = now, 0, 0, 0
  if log then
    local count = (#log - 8) / 16
    if count < 1 or count ~= math.floor(count) then error('toolgate: key ' .. KEYS[b] .. ' does not hold a budget log') end
    local last
    last, total = unpack('>dd', log, #log - 15)
    if last > t then t = last end
    -- The first entry inside the window (t - window, t]: the first whose time is above the edge.
    -- Usually none or few have left since the last count, so look at the head before searching.
    -- Entries before lo have left; entries from hi on are inside.
    local edge, hi = t - window, count
    while lo < hi and lo < 4 do
      if unpack('>d', log, 9 + 16 * lo) > edge then hi = lo else lo = lo + 1 end
    end
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if unpack('>d', log, 9 + 16 * mid) > edge then hi = mid else lo = mid + 1 end
    end
    local before
    if lo == 0 then before = unpack('>d', log, 1) else before = unpack('>d', log, 1 + 16 * lo) end
    units = total - before
    if units + cost > max then
      -- The wait: until the entry whose running total reaches total + cost - max has left.
      local need, from, to = total + cost - max, lo, count - 1
      while from < to do
        local mid = math.floor((from + to) / 2)
        if unpack('>d', log, 1 + 16 * (mid + 1)) >= need then to = mid else from = mid + 1 end
      end
      waits[b] = math.ceil(unpack('>d', log, 9 + 16 * from) + window - now)
      refused = true
    end
  end
  logs[b], at[b], first[b], top[b], used[b] = log, t, lo, total, units
  if not waits[b] then waits[b] = 0 end
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
    local log, t, lo = logs[b], at[b], first[b]
    local entry = struct.pack('>dd', t, top[b] + cost)
    local value
    if not log then
      value = struct.pack('>d', 0) .. entry
    elseif lo == 0 then
      value = log .. entry
    else
      value = string.sub(log, 1 + 16 * lo, 8 + 16 * lo) .. string.sub(log, 9 + 16 * lo) .. entry
    end
    redis.call('SET', KEYS[b], value, 'PX', math.ceil(t + window - now))
  end
end
return reply
`;

/** SHA-1 of {@link DECIDE_SCRIPT}, the name EVALSHA runs it by. */
export const DECIDE_SCRIPT_SHA = createHash("sha1").update(DECIDE_SCRIPT).digest("hex");
