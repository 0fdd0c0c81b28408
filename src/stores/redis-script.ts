/**
 * The Lua scripts of RedisStore (docs/stores.md, "Redis internals").
 *
 * DECIDE_SCRIPT decides a batch of calls — every call that was waiting for the same shard when
 * the batch was sent — one after the other, each atomically: it checks every budget of the call
 * and counts the call in all of them or in none. The batch is all-or-nothing per call, never per
 * batch: one call's refusal or failure does not touch the others. REFUND_SCRIPT gives entries back.
 *
 * One budget is one list of the counted entries, oldest first. Time never runs backwards within a
 * budget, so appending keeps the list sorted and pruning is a trim of its head.
 * - While every entry is one unit and none can be refunded (every call of a limit without `cost`
 *   or `refund`) the entries are `"<time>"`: the list's length is its total, entry i holds unit
 *   i + 1, and there is no header to rewrite.
 * - Otherwise the list is in the header form, rewritten so once for the life of the budget: item 0
 *   is `"#<units before the first entry>:<ordinal of the first entry>:<window>:<1 if refundable>"`,
 *   then entries
 *   `"<time>:<running total>"`. Running totals make the units inside the window one subtraction
 *   and the entry to wait for a binary search; the ordinal makes an entry's id (`"<ordinal>:<time>"`)
 *   a position, and the window lets a refund judge whether the entry has left it. A refunded entry
 *   stays in place with its units taken out of the running totals after it.
 *
 * The Redis work of a decision does not grow with the budget: one LRANGE of the list's first 32
 * items (for most per-session budgets the whole list), plus LLEN and the last entry for longer
 * lists; entries past those are found by binary search with LINDEX; a count is LTRIM, RPUSH (and
 * LPUSH of the header) and PEXPIRE.
 *
 * Refusals and dry runs write nothing. Entries that have left the window are trimmed only when a
 * call is counted: a refusal at a late time must not forget calls that an earlier time (another
 * replica's engine clock, under `clock: "engine"`) would still see.
 *
 * @packageDocumentation
 */

import { createHash } from "node:crypto";

/** Shared by both scripts: reading a budget's list. */
const READ = `
local floor, ceil, tonumber, format, byte, sub, find =
  math.floor, math.ceil, tonumber, string.format, string.byte, string.sub, string.find
local HEAD = 4

-- One budget's list as read so far: the first HEAD items, the number of entries, and the header
-- (weighted: base, first ordinal, window) when the list has one.
local function open(list)
  local head = redis.call('LRANGE', list, 0, HEAD - 1)
  local items = #head
  if items == HEAD then items = redis.call('LLEN', list) end
  local b = { list = list, head = head, weighted = false, base = 0, first = 0, window = 0,
    count = items, refunds = false,
    max = 0, win = 0, cost = 0, refundable = false, t = 0, k = 0, used = 0, top = 0, before = 0, wait = 0, str = false }
  if items > 0 and byte(head[1], 1) == 35 then
    local h = head[1]
    local c1 = find(h, ':', 2, true)
    b.weighted = true
    b.count = items - 1
    if c1 then
      local c2 = find(h, ':', c1 + 1, true)
      b.base = tonumber(sub(h, 2, c1 - 1))
      if c2 then
        local c3 = find(h, ':', c2 + 1, true)
        b.first = tonumber(sub(h, c1 + 1, c2 - 1))
        if c3 then
          b.window = tonumber(sub(h, c2 + 1, c3 - 1))
          b.refunds = sub(h, c3 + 1) == '1'
        else
          b.window = tonumber(sub(h, c2 + 1))
        end
      else
        b.first = tonumber(sub(h, c1 + 1))
      end
    else
      -- The 0.1 header: "#<base>".
      b.base = tonumber(sub(h, 2))
    end
    if b.base == nil or b.first == nil or b.window == nil then
      error('toolgate: budget ' .. list .. ' has an unreadable header')
    end
  end
  return b
end

-- Entry i (0-based) of budget b: its time, the running total up to and including it, and its text.
local function entry(b, i)
  local str = b.str
  if str then
    if i < 0 or i >= b.count then error('toolgate: budget ' .. b.list .. ' is shorter than it says') end
    return (struct.unpack('<d', str, 8 * i + 1)), i + 1
  end
  local item = i
  if b.weighted then item = i + 1 end
  local e = b.head[item + 1]
  if e == nil then e = redis.call('LINDEX', b.list, item) end
  if not e then error('toolgate: budget ' .. b.list .. ' is shorter than it says') end
  if not b.weighted then return tonumber(e), i + 1, e end
  local sep = find(e, ':', 1, true)
  if not sep then error('toolgate: budget ' .. b.list .. ' holds an entry without its running total') end
  return tonumber(sub(e, 1, sep - 1)), tonumber(sub(e, sep + 1)), e, sep
end

local function total(b, i) return select(2, entry(b, i)) end

local serverNow
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  if not serverNow then
    local c = redis.call('TIME')
    serverNow = tonumber(c[1]) * 1000 + floor(tonumber(c[2]) / 1000)
  end
  return serverNow
end
`;

/**
 * KEYS: the budgets of every call of the batch, call after call.
 * ARGV[1]: the number of calls; ARGV[2]: the number of shapes S; ARGV[3]: "1" when every call has
 * an argument of its own, else "0" (every call has shape 1 and the Redis server's clock). Then S
 * shapes, each one argument `"<dry> <n>"` ("1" for a dry run else "0", n budgets) followed by
 * `" <max> <window ms> <cost> <1 if refundable else 0>"` per budget. Then, when ARGV[3] is "1", per
 * call `"<shape>"` or `"<shape>@<time in ms>"` (without a time, the Redis server's clock). Calls
 * of one limit share a shape, so the common batch sends no argument per call: Redis parses one
 * argument per distinct limit instead of seven per call.
 * Returns, per call: `1, remaining × n` and, when some budget is refundable and it was counted,
 * `entry id × n` ("" where none); or `0, wait × n` (0 = room); or `2, message` when the call failed.
 */
export const DECIDE_SCRIPT = `${READ}
-- The first entry in [lo, hi) whose time is after edge, or hi (times are sorted). Looks at the
-- first few near lo before bisecting: that is where the answer usually is.
local function firstAfter(b, lo, hi, edge)
  local stop = lo + 4
  while lo < hi and lo < stop do
    if (entry(b, lo)) > edge then return lo end
    lo = lo + 1
  end
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if (entry(b, mid)) > edge then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- The first entry in [lo, hi) whose running total reaches need, or hi (totals never decrease).
-- Entry i of a one-unit budget holds total i + 1: no search. Otherwise it looks at the first
-- few near lo before bisecting.
local function firstReaching(b, lo, hi, need)
  if not b.weighted then
    if need - 1 > lo then return need - 1 end
    return lo
  end
  local stop = lo + 4
  while lo < hi and lo < stop do
    if total(b, lo) >= need then return lo end
    lo = lo + 1
  end
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if total(b, mid) >= need then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- The most entries a string-form budget holds: beyond it the budget becomes a list, whose
-- counting does not copy the entries.
local STRING_ENTRIES = 128

local function stampOf(t)
  if t == floor(t) and t < 1e15 and t > -1e15 then return format('%d', t) end
  return format('%.17g', t)
end

local function decide(k, now, shape, reply, firstIsList)
  local dry = shape.dry
  local n = shape.n
  local budgets = {}
  local refused, refundable = false, false
  for i = 1, n do
    local max, window, cost = shape.max[i], shape.win[i], shape.cost[i]
    local key = KEYS[k + i - 1]
    -- A small budget of one-unit entries is a string of packed times (one GET, one SET); any
    -- other budget is a list.
    local str
    if i == 1 and firstIsList then str = {} else str = redis.pcall('GET', key) end
    local b
    if type(str) == 'table' then
      b = open(key)
    else
      if not str then str = '' end
      if #str % 8 ~= 0 then error('toolgate: budget ' .. key .. ' has a partial entry') end
      b = { list = key, str = str, weighted = false, base = 0, first = 0, window = 0, count = #str / 8,
        max = 0, win = 0, cost = 0, refundable = false,
        t = 0, k = 0, used = 0, top = 0, before = 0, wait = 0, head = false }
    end
    b.max, b.win, b.cost, b.refundable = max, window, cost, shape.ref[i]
    if b.refundable then refundable = true end
    b.t, b.k, b.used, b.top = now, 0, 0, b.base
    if b.count > 0 then
      local last, top = entry(b, b.count - 1)
      if last > b.t then b.t = last end
      local edge = b.t - window
      -- Entries at or before the edge have left the window (t - window, t].
      b.k = firstAfter(b, 0, b.count, edge)
      local before = b.base
      if b.k > 0 then before = total(b, b.k - 1) end
      if not b.weighted then top, before = b.count, b.k end
      b.top, b.used, b.before = top, top - before, before
    end
    b.wait = 0
    if cost > 0 and b.used + cost > max then
      refused = true
      -- The entry whose leaving makes room: the first whose running total reaches top + cost - max.
      local need = b.top + cost - max
      local j = firstReaching(b, b.k, b.count, need)
      b.wait = ceil((entry(b, j)) + window - now)
      if b.wait < 1 then b.wait = 1 end
    end
    budgets[i] = b
  end

  if refused then
    reply[#reply + 1] = 0
    for i = 1, n do reply[#reply + 1] = budgets[i].wait end
    return
  end
  reply[#reply + 1] = 1
  for i = 1, n do
    local b = budgets[i]
    -- Never below 0, even when a reload lowered max under what the budget already holds.
    local left = b.max - b.used - b.cost
    if left < 0 then left = 0 end
    reply[#reply + 1] = left
  end
  if dry then return end
  local ids = {}
  for i = 1, n do
    local b = budgets[i]
    ids[i] = ''
    local cost = b.cost
    if cost > 0 then
      local list, t = b.list, b.t
      local stamp = stampOf(t)
      -- The header says whether the budget's entries can be given back (its latest call's limit).
      local flag = ':0'
      if b.refundable then flag = ':1' end
      local ttl = ceil(t + b.win - now)
      if b.str then
        local keep = sub(b.str, 8 * b.k + 1)
        local kept = b.count - b.k
        local header = cost ~= 1 or b.refundable
        if not header and kept < STRING_ENTRIES then
          redis.call('SET', list, keep .. struct.pack('<d', t), 'PX', ttl)
        else
          -- Too big for a string, or weighted or refundable: the entries still inside the window
          -- move to a list, in the header form if needed, once for the life of the budget.
          if b.count > 0 then redis.call('DEL', list) end
          local batch = {}
          for j = 0, kept - 1 do
            local tj = struct.unpack('<d', keep, 8 * j + 1)
            if header then
              batch[#batch + 1] = stampOf(tj) .. ':' .. format('%d', j + 1)
            else
              batch[#batch + 1] = stampOf(tj)
            end
            if #batch == 1000 then redis.call('RPUSH', list, unpack(batch)); batch = {} end
          end
          if header then
            batch[#batch + 1] = stamp .. ':' .. format('%d', kept + cost)
          else
            batch[#batch + 1] = stamp
          end
          redis.call('RPUSH', list, unpack(batch))
          if header then
            redis.call('LPUSH', list, '#0:0:' .. format('%d', b.win) .. flag)
            ids[i] = format('%d', kept) .. ':' .. stamp
          end
          redis.call('PEXPIRE', list, ttl)
        end
      elseif b.weighted then
        local before = b.base
        if b.k > 0 then before = b.before end
        local top = b.top
        if top + cost > 9007199254740991 then
          -- Running totals only grow; this budget has counted 2^53 units: count afresh from
          -- the entries still inside the window.
          local kept = {}
          if b.count > b.k then kept = redis.call('LRANGE', list, b.k + 1, -1) end
          redis.call('DEL', list)
          local batch = {}
          for j = 1, #kept do
            local e = kept[j]
            local sep = find(e, ':', 1, true)
            batch[#batch + 1] = sub(e, 1, sep - 1) .. ':' .. format('%d', tonumber(sub(e, sep + 1)) - before)
            if #batch == 1000 then redis.call('RPUSH', list, unpack(batch)); batch = {} end
          end
          if #batch > 0 then redis.call('RPUSH', list, unpack(batch)) end
          top = top - before
          before = 0
          redis.call('LPUSH', list, '#0:' .. format('%d', b.first + b.k) .. ':' .. format('%d', b.win) .. flag)
        else
          redis.call('LTRIM', list, b.k + 1, -1)
          redis.call('LPUSH', list,
            '#' .. format('%d', before) .. ':' .. format('%d', b.first + b.k) .. ':' .. format('%d', b.win) .. flag)
        end
        redis.call('RPUSH', list, stamp .. ':' .. format('%d', top + cost))
        ids[i] = format('%d', b.first + b.count) .. ':' .. stamp
      elseif cost ~= 1 or b.refundable then
        -- First weighted or refundable call: rewrite the entries still inside the window in the
        -- header form, once for the life of the budget. Entry j holds unit j + 1.
        local kept = {}
        if b.count > b.k then kept = redis.call('LRANGE', list, b.k, -1) end
        redis.call('DEL', list)
        local batch = {}
        for j = 1, #kept do
          batch[#batch + 1] = kept[j] .. ':' .. format('%d', b.k + j)
          if #batch == 1000 then redis.call('RPUSH', list, unpack(batch)); batch = {} end
        end
        batch[#batch + 1] = stamp .. ':' .. format('%d', b.top + cost)
        redis.call('RPUSH', list, unpack(batch))
        redis.call('LPUSH', list,
          '#' .. format('%d', b.k) .. ':' .. format('%d', b.k) .. ':' .. format('%d', b.win) .. flag)
        ids[i] = format('%d', b.count) .. ':' .. stamp
      else
        if b.k > 0 then redis.call('LTRIM', list, b.k, -1) end
        redis.call('RPUSH', list, stamp)
      end
      if not b.str then redis.call('PEXPIRE', list, ttl) end
    end
  end
  if refundable then
    for i = 1, n do
      if budgets[i].refundable then reply[#reply + 1] = ids[i] else reply[#reply + 1] = '' end
    end
  end
end

-- The common call, decided without tables: one budget of one-unit (or cost 0), non-refundable
-- entries, held as a string (or absent). Answers into reply at position at and returns the next
-- position, or returns nil (having written nothing) for the general path.
local unpackNumber, packNumber = struct.unpack, struct.pack
-- A string-form budget is rewritten without the entries that have left its window once they are
-- this many, or as many as those inside it; until then a count appends to it.
local DEAD_ENTRIES = 32
local function decideSmall(key, now, dry, max, window, cost, reply, at)
  local str = redis.pcall('GET', key)
  if type(str) == 'table' then return nil, true end
  local count = 0
  if str then count = #str / 8 else str = '' end
  if count ~= floor(count) then return nil end
  local t = now
  if count > 0 then
    local last = unpackNumber('<d', str, 8 * count - 7)
    if last > t then t = last end
  end
  local edge = t - window
  -- The first entry inside the window: a look at the first few, then a bisection (entries that
  -- have left stay at the head until the next rewrite, below).
  local k = 0
  local stop = count
  if stop > 4 then stop = 4 end
  while k < stop and unpackNumber('<d', str, 8 * k + 1) <= edge do k = k + 1 end
  if k == 4 and count > 4 then
    local hi = count
    while k < hi do
      local mid = floor((k + hi) / 2)
      if unpackNumber('<d', str, 8 * mid + 1) <= edge then k = mid + 1 else hi = mid end
    end
  end
  local used = count - k
  if cost > 0 and used + cost > max then
    -- Every entry is one unit: the (max - cost + 1)-th newest must leave first.
    local wait = ceil(unpackNumber('<d', str, 8 * (count - (max - cost) - 1) + 1) + window - now)
    if wait < 1 then wait = 1 end
    reply[at] = 0
    reply[at + 1] = wait
    return at + 2
  end
  if not dry and cost > 0 and used >= STRING_ENTRIES then return nil end
  local left = max - used - cost
  if left < 0 then left = 0 end
  reply[at] = 1
  reply[at + 1] = left
  if not dry and cost > 0 then
    local ttl = ceil(t + window - now)
    if count == 0 or k >= DEAD_ENTRIES or (k > 0 and k >= used) then
      redis.call('SET', key, sub(str, 8 * k + 1) .. packNumber('<d', t), 'PX', ttl)
    else
      -- The entries that have left are few: append in place rather than rewrite the string.
      redis.call('APPEND', key, packNumber('<d', t))
      redis.call('PEXPIRE', key, ttl)
    end
  end
  return at + 2
end

local calls, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local each = ARGV[3] == '1'
local shapes = {}
for s = 1, count do
  local f = {}
  for word in string.gmatch(ARGV[3 + s], '%S+') do f[#f + 1] = word end
  local n = tonumber(f[2])
  local shape = { dry = f[1] == '1', n = n, max = {}, win = {}, cost = {}, ref = {} }
  for i = 1, n do
    local at = 4 * i - 1
    shape.max[i], shape.win[i], shape.cost[i] = tonumber(f[at]), tonumber(f[at + 1]), tonumber(f[at + 2])
    shape.ref[i] = f[at + 3] == '1'
  end
  -- One budget of one-unit (or cost 0), non-refundable entries: the path without tables.
  shape.small = n == 1 and not shape.ref[1] and shape.cost[1] <= 1
  shapes[s] = shape
end

local reply = {}
local k = 1
for c = 1, calls do
  local shape, now = shapes[1], nil
  if each then
    local arg = ARGV[3 + count + c]
    local at = find(arg, '@', 1, true)
    if at then
      shape, now = shapes[tonumber(sub(arg, 1, at - 1))], tonumber(sub(arg, at + 1))
    else
      shape = shapes[tonumber(arg)]
    end
  end
  if now == nil then now = clock('') end
  local n = shape.n
  local mark = #reply
  local ok, err, done, list = true, nil, nil, false
  if shape.small then
    ok, done, list = pcall(decideSmall, KEYS[k], now, shape.dry, shape.max[1], shape.win[1], shape.cost[1], reply,
      mark + 1)
    if not ok then err = done end
  end
  if ok and not done then ok, err = pcall(decide, k, now, shape, reply, list) end
  if not ok then
    for j = #reply, mark + 1, -1 do reply[j] = nil end
    reply[mark + 1] = 2
    if type(err) == 'table' then err = err.err end
    reply[mark + 2] = tostring(err)
  end
  k = k + n
end
return reply
`;

/**
 * KEYS: the budgets of the entries to give back.
 * ARGV[1]: the time in ms ("" for the Redis server's clock); ARGV[1 + i]: entry i's id.
 * Returns 1 per entry given back now, 0 per entry not found (never counted, already given back,
 * left its window, or a budget without refunds).
 */
export const REFUND_SCRIPT = `${READ}
local now = clock(ARGV[1])
local given = {}
for i = 1, #KEYS do
  given[i] = 0
  local id = ARGV[i + 1]
  local sep = find(id, ':', 1, true)
  local ordinal = sep and string.match(sub(id, 1, sep - 1), '^%d+$') and tonumber(sub(id, 1, sep - 1))
  -- Only a list in the header form holds refundable entries (a string-form budget never does).
  local b = { weighted = false }
  if ordinal and redis.call('TYPE', KEYS[i]).ok == 'list' then b = open(KEYS[i]) end
  if ordinal and b.weighted and b.refunds and b.window > 0 and b.count > 0 then
    local stamp = sub(id, sep + 1)
    local p = ordinal - b.first
    if p >= 0 and p < b.count and p == floor(p) then
      local time, cum, text, at = entry(b, p)
      local last = entry(b, b.count - 1)
      local t = now
      if last > t then t = last end
      if sub(text, 1, at - 1) == stamp and time > t - b.window then
        local before = b.base
        if p > 0 then before = total(b, p - 1) end
        local units = cum - before
        if units > 0 then
          for j = p, b.count - 1 do
            local jt, jc, jtext, jat = entry(b, j)
            redis.call('LSET', b.list, j + 1, sub(jtext, 1, jat) .. format('%d', jc - units))
          end
          given[i] = 1
        end
      end
    end
  end
end
return given
`;

/** SHA-1 of {@link DECIDE_SCRIPT}, the name EVALSHA runs it by. */
export const DECIDE_SCRIPT_SHA = createHash("sha1").update(DECIDE_SCRIPT).digest("hex");
/** SHA-1 of {@link REFUND_SCRIPT}. */
export const REFUND_SCRIPT_SHA = createHash("sha1").update(REFUND_SCRIPT).digest("hex");
