/**
 * The Lua script that decides one call on Redis: it checks every budget of the call and counts
 * the call in all of them or in none, atomically, in one round trip.
 *
 * One budget is one list of the counted calls, oldest first. Time never runs backwards within a
 * budget, so appending keeps the list sorted and pruning is a trim of its head.
 * - Calls of one unit (every call in policy format v1) are entries `"<time>"`: the list's length
 *   is its total, and entry i holds the (i+1)th unit.
 * - Once a weighted call (cost ≠ 1) is counted, the list is rewritten once into the weighted
 *   form: a header `"#<units before the first entry>"`, then entries `"<time>:<running total>"`.
 *   Running totals make the units inside the window one subtraction, and the entry to wait for
 *   a binary search.
 *
 * The Redis work of a decision does not grow with the budget: one LRANGE of the list's first 32
 * items (for most per-session budgets the whole list), plus LLEN and the last entry for longer
 * lists; entries past those are found by binary search with LINDEX; a count is LTRIM, RPUSH and
 * PEXPIRE. (A string holding the whole log takes fewer calls, but copying it on every decision
 * makes a large budget — a global limit of thousands of calls an hour — cost time in proportion
 * to its size, refusals included.)
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
local now
if ARGV[1] == '' then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local dry = ARGV[2] == '1'
local n = #KEYS
local HEAD = 32
local floor = math.floor

-- One budget's list as read so far: its key, the first HEAD items, the number of entries, and
-- whether it is in the weighted form (then item 1 is the header and entries start at item 2).
local function open(list)
  local head = redis.call('LRANGE', list, 0, HEAD - 1)
  local items = #head
  if items == HEAD then items = redis.call('LLEN', list) end
  local b = { list = list, head = head, weighted = false, base = 0, count = items }
  if items > 0 and string.byte(head[1], 1) == 35 then
    b.weighted = true
    b.base = tonumber(string.sub(head[1], 2))
    b.count = items - 1
  end
  return b
end

-- Entry i (0-based) of budget b: its time and the running total of units up to and including it.
local function entry(b, i)
  local item = i
  if b.weighted then item = i + 1 end
  local e = b.head[item + 1]
  if e == nil then e = redis.call('LINDEX', b.list, item) end
  if not e then error('toolgate: budget ' .. b.list .. ' is shorter than it says') end
  if not b.weighted then return tonumber(e), i + 1 end
  local sep = string.find(e, ':', 1, true)
  if not sep then error('toolgate: budget ' .. b.list .. ' holds an entry without its running total') end
  return tonumber(string.sub(e, 1, sep - 1)), tonumber(string.sub(e, sep + 1))
end

-- The first i in [lo, hi) for which test(i) holds (test is false, then true), or hi. Looks at
-- the first few near lo before bisecting: that is where the answer usually is.
local function search(lo, hi, test)
  local stop = lo + 4
  while lo < hi and lo < stop do
    if test(lo) then return lo end
    lo = lo + 1
  end
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if test(mid) then hi = mid else lo = mid + 1 end
  end
  return lo
end

local budgets, waits = {}, {}
local refused = false
for i = 1, n do
  local max, window, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local b = open(KEYS[i])
  b.t, b.k, b.used, b.top = now, 0, 0, 0
  if b.count > 0 then
    local last, top = entry(b, b.count - 1)
    if last > b.t then b.t = last end
    local edge = b.t - window
    -- Entries at or before the edge have left the window (t - window, t].
    b.k = search(0, b.count, function(j) return (entry(b, j)) > edge end)
    local before = b.base
    if b.k > 0 then before = select(2, entry(b, b.k - 1)) end
    if not b.weighted then top, before = b.count, b.k end
    b.top, b.used = top, top - before
  end
  waits[i] = 0
  if b.used + cost > max then
    refused = true
    -- The entry whose leaving makes room: the first whose running total reaches top + cost - max.
    local need = b.top + cost - max
    local j = search(b.k, b.count, function(j) return select(2, entry(b, j)) >= need end)
    waits[i] = math.ceil((entry(b, j)) + window - now)
  end
  budgets[i] = b
end

if refused then
  local reply = {0}
  for i = 1, n do reply[i + 1] = waits[i] end
  return reply
end

local reply = {1}
for i = 1, n do
  local max, window, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local b = budgets[i]
  reply[i + 1] = max - b.used - cost
  if not dry then
    local list, t = b.list, b.t
    local stamp = string.format('%.17g', t)
    if b.weighted then
      local before = b.base
      if b.k > 0 then before = select(2, entry(b, b.k - 1)) end
      redis.call('LTRIM', list, b.k + 1, -1)
      redis.call('RPUSH', list, stamp .. ':' .. string.format('%d', b.top + cost))
      redis.call('LPUSH', list, '#' .. string.format('%d', before))
    elseif cost ~= 1 then
      -- First weighted call: rewrite the entries still inside the window in the weighted form,
      -- once for the life of the budget. Entry j holds unit j + 1.
      local kept = {}
      if b.count > b.k then kept = redis.call('LRANGE', list, b.k, -1) end
      redis.call('DEL', list)
      local batch = {}
      for j = 1, #kept do
        batch[#batch + 1] = kept[j] .. ':' .. string.format('%d', b.k + j)
        if #batch == 1000 then redis.call('RPUSH', list, unpack(batch)); batch = {} end
      end
      batch[#batch + 1] = stamp .. ':' .. string.format('%d', b.top + cost)
      redis.call('RPUSH', list, unpack(batch))
      redis.call('LPUSH', list, '#' .. string.format('%d', b.k))
    else
      if b.k > 0 then redis.call('LTRIM', list, b.k, -1) end
      redis.call('RPUSH', list, stamp)
    end
    redis.call('PEXPIRE', list, math.ceil(t + window - now))
  end
end
return reply
`;

/** SHA-1 of {@link DECIDE_SCRIPT}, the name EVALSHA runs it by. */
export const DECIDE_SCRIPT_SHA = createHash("sha1").update(DECIDE_SCRIPT).digest("hex");
