-- limits.lua - store.h's limits (store_limits_*) in one atomic step (Redis engine)
--
-- Embedded in chapps at build time like quota.lua; store_redis_limits.c
-- sends it with EVALSHA.  One call handles the n limits of one message: phase 1
-- loads and checks every limit (it may tidy: drop buckets, addresses and
-- reservations that no longer count, which changes no answer), phase 2
-- writes, and only when every limit granted: a refused message leaves no
-- trace.  Redis runs the script alone, so the n limits change together.
--
-- KEYS     per limit, in the order of the limits: its hash, then for a
--          distinct limit (and for every limit with op 'reset') its
--          address set (a sorted set): "chapps:l:<id>:" + owner and
--          "chapps:lh:<id>:" + owner; for id 0 the hash is the quota hash
--          of quota.lua, "chapps:q:" + owner.  A key sent costs a
--          conversion: a set that the limit never touches is not sent.
--          Redis Cluster: every key of a call carries the same hash tag
--          (the user's domain, which is the pool's), so one slot
--          (store_redis.c).
-- ARGV     1 op ('reserve', 'commit', 'release', 'usage', 'reset', 'top',
--          'qtop'), 2 reservation field ("r" + resid, or "r"), 3 four
--          little-endian doubles: now, expire slack, max reservations, max
--          buckets (hard cap); then one per limit: 12 little-endian
--          doubles (count: 0 messages, 1 recipients, 2 distinct, 3 bytes;
--          window: 0 sliding, 1 calendar; interval, resolution,
--          period_start, period_end, id, max, margin, reservation_ttl,
--          amount, final amount: -1 none), the rcpt hash in 16 hex digits,
--          then the definition "count window interval resolution
--          period_start period_end" in decimal ("d" below, compared as a
--          string).  Numbers travel as doubles, not decimal: one
--          struct.unpack instead of a string.match and a tonumber
--          (strtod) each, which were most of a limit's parse.
-- Returns  {status, index, then 4 per limit: committed, reserved, own,
--          next_free}; status 0 ok, 1 refused (index = the first refusing
--          limit, 1-based), 2 too many reservations, 3 too many recipients.
--          commit and release return {status, index} only (the caller
--          reads no state from them, and the distinct count costs a ZCARD).
--          'top' (KEYS = one limit's two keys, no limit arguments) returns
--          {committed} with the definition stored in the hash.
--
-- A limit's hash (id != 0): "d" the definition "count window interval
-- resolution period_start period_end"; "a" running aggregates "S O W B R
-- N E": committed sum (sliding: of the buckets; calendar: of the period),
-- oldest and newest bucket number (-1 none), number of buckets, sum and
-- number of reservations, a lower bound of their earliest expiry;
-- "b<bucket>" -> amount; "r<resid>" -> "amount expiry [+|-hash ...]"
-- (distinct: the hashes asked, + when it cost a unit).  The address set
-- holds hash -> time of last commit.  Costs: a call reads "d", "a" and its
-- reservation (HMGET) per limit; dead buckets are deleted by walking the
-- bucket numbers from the oldest (each number once in its life); the
-- reservations are scanned (HGETALL) only when one may have expired (now
-- >= E); distinct lookups are ZSCORE, expiry ZREMRANGEBYSCORE, the count
-- ZCARD.  So a decision costs the same for 10 or 100,000 units.
--
-- The form of "a": a sliding window's is binary, "A" and 8 little-endian
-- doubles (struct.pack): S O W B R N E and X, the deadline (caller's
-- clock) that the hash's last EXPIRE gave it (finish: no EXPIRE while it
-- covers what a write adds).  A calendar window's is the 7 numbers in
-- decimal, as the previous version of this script wrote every "a".  Both
-- are read (aread), so the previous version's state is used as it is and
-- rewritten at the next write; and that version, which takes a binary
-- "a" for a malformed one, rebuilds a sliding window's from the buckets
-- and reservations (exact), while a calendar window's count, which lives
-- only in "a", stays readable by it: old and new milters may share a
-- Redis during an upgrade.  Unpacking 8 doubles costs the server about
-- a fifth of a string.match and 7 tonumber (glibc strtod).
--
-- Id 0 is quota.lua's hash, handled as quota.lua does: its fast path
-- (aggregates "b", the reservation and the current bucket in one HMGET)
-- when nothing can have died, else a scan (HGETALL) that prunes and
-- rewrites "b" exactly as quota.lua's scan does, so both scripts keep
-- working on the same state.
--
-- Debugging: the arguments are binary (store_redis_limits.c's limit_arg and
-- limits_head); against a scratch server (never a production one), a
-- reserve of one message on bob's quota (id 0, a day) and an hourly limit
-- from redis-cli's Lua (EVAL with the script, struct.pack for the numbers):
--   head = struct.pack('<dddd', 1700000000, 60, 1024, 4096)
--   l0 = struct.pack('<dddddddddddd', 0, 0, 86400, 60, 0, 0, 0, 500, 0, 300, 1, -1)
--        .. '0000000000000000' .. '0 0 86400 60 0 0'
-- (ARGV: reserve rR1 head l0 ...; KEYS: chapps:q:bob ...).
local op, rf = ARGV[1], ARGV[2]
local now, slack, maxres, bcap = struct.unpack('<dddd', ARGV[3])
local states = op ~= 'commit' and op ~= 'release'

-- limit_args - limit i's argument, its keys from KEYS[k] on; the next k
-- (struct.unpack raises an error on a short argument: the call fails)
local function limit_args(i, k)
  local a = ARGV[3 + i]
  local c, w, iv, r, ps, pe, id, max, mg, ttl, am, fin, h, pos =
    struct.unpack('<ddddddddddddc16', a)
  local l = {key = KEYS[k], zkey = false, id = id, def = string.sub(a, pos),
             count = c, window = w, interval = iv, res = r, ps = ps, pe = pe, max = max,
             margin = mg, ttl = ttl, amount = am, hash = h, final = fin}
  if c == 2 or op == 'reset' then
    l.zkey = KEYS[k + 1]
    return l, k + 2
  end
  return l, k + 1
end

-- numbers - the n (6, 7 or 8) integers of s separated by single spaces
-- (quota.lua pads its "b" with trailing spaces); nil when malformed.  One
-- string.match, not a gmatch loop: this runs for every limit of every call.
local NPAT = {[6] = '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) *$',
              [7] = '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) *$',
              [8] = '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+) *$'}
local function numbers(s, n)
  if not s then return nil end
  local a = {string.match(s, NPAT[n])}
  if #a ~= n then return nil end
  for i = 1, n do a[i] = tonumber(a[i]) end
  return a
end

-- parse_resv - "amount expiry [+|-hash ...]" into amount, expiry, hashes
local function parse_resv(v)
  if not v then return nil end
  local amount, expiry, rest = string.match(v, '^(%d+) (%-?%d+)(.*)$')
  if not amount then return nil end
  local hs = {}
  for sign, h in string.gmatch(rest, ' ([%+%-])(%x+)') do hs[#hs + 1] = {h, sign == '+'} end
  return tonumber(amount), tonumber(expiry), hs
end

local function resv_string(amount, expiry, hs)
  if #hs == 0 then return string.format('%d %d', amount, expiry) end
  local t = {string.format('%d %d', amount, expiry)}
  for _, e in ipairs(hs) do t[#t + 1] = (e[2] and '+' or '-') .. e[1] end
  return table.concat(t, ' ')
end

-- ---- id != 0 ------------------------------------------------------------

-- bucket_floor - the oldest live bucket number at now
local function bucket_floor(l)
  return math.floor((now - l.interval) / l.res)
end

-- a_string - the aggregates field "a" of limit l: binary ("A" and 8
-- little-endian doubles, the 8th the TTL deadline) for a sliding window,
-- the 7 numbers in decimal for a calendar one (see the head of the file)
local function a_string(l, a)
  if l.window == 0 then
    return 'A' .. struct.pack('<dddddddd', a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
  end
  return string.format('%d %d %d %d %d %d %d', a[1], a[2], a[3], a[4], a[5], a[6], a[7])
end

-- aread - the aggregates field in either form; nil when missing or
-- malformed (decimal: no deadline known, 0)
local function aread(v)
  if not v then return nil end
  if #v == 65 and string.byte(v) == 65 then
    local _, s, o, w, b, r, n, e, x = struct.unpack('<c1dddddddd', v)
    return {s, o, w, b, r, n, e, x}
  end
  local a = numbers(v, 7)
  if a then a[8] = 0 end
  return a
end

-- rebuild - aggregates from a scan of the hash (missing or malformed "a",
-- or a reservation that may have expired); drops what is dead
local function rebuild(l, st)
  local h = redis.call('HGETALL', l.key)
  local a = {0, -1, -1, 0, 0, 0, 0, 0}
  local kmin = l.window == 0 and bucket_floor(l) or nil
  local dead = {}
  for i = 1, #h, 2 do
    local f, v = h[i], h[i + 1]
    local t = string.sub(f, 1, 1)
    if t == 'b' then
      local k, c = tonumber(string.sub(f, 2)), tonumber(v)
      if not k or not c or l.window ~= 0 or l.count == 2 or k < kmin then
        dead[#dead + 1] = f
      else
        a[1] = a[1] + c
        a[4] = a[4] + 1
        if a[2] < 0 or k < a[2] then a[2] = k end
        if k > a[3] then a[3] = k end
      end
    elseif t == 'r' then
      local amount, expiry = parse_resv(v)
      if not amount or expiry <= now then
        dead[#dead + 1] = f
      else
        a[5] = a[5] + amount
        a[6] = a[6] + 1
        if a[7] == 0 or expiry < a[7] then a[7] = expiry end
      end
    end
  end
  if l.window == 1 and st.a then a[1] = st.a[1] end
  -- dropping fields leaves the TTL, and its deadline, as they were
  if st.a then a[8] = st.a[8] end
  for i = 1, #dead, 256 do
    redis.call('HDEL', l.key, unpack(dead, i, math.min(i + 255, #dead)))
  end
  st.a, st.dirty = a, true
end

-- load - the state of limit l at now, tidied; st.cost and st.hashadd for reserve
local function load(l)
  -- every field at once: a table grown one field at a time is rehashed each doubling
  local st = {exists = false, a = false, def = false, dirty = false, committed = 0,
              reserved = 0, own = 0, rexp = false, rh = false, rlive = false,
              next_free = 0, cost = 0, hashadd = false, zoldest = false}
  local g = redis.call('HMGET', l.key, 'd', 'a', rf)
  st.exists = g[1] or g[2]
  -- the definition as the caller sent it: parsed only when it changed
  st.def = l.def
  local d = nil
  if g[1] ~= st.def then d = numbers(g[1], 6) end
  st.a = aread(g[2])
  if d and (d[1] ~= l.count or d[2] ~= l.window) then
    -- redefined with another count or window: start from 0 (a set left by
    -- a former distinct definition is dropped when one comes back)
    if l.zkey then redis.call('DEL', l.key, l.zkey) else redis.call('DEL', l.key) end
    g, st.a, st.dirty = {nil, nil, nil}, {0, -1, -1, 0, 0, 0, 0, 0}, true
  elseif d and l.window == 1 and d[5] ~= l.ps then
    -- a new calendar period
    if l.zkey then redis.call('DEL', l.zkey) end
    if st.a then st.a[1] = 0 end
    st.dirty = true
  end
  if not g[1] and not g[2] then
    if not st.a then st.a = {0, -1, -1, 0, 0, 0, 0, 0} end
  elseif not st.a then
    rebuild(l, st)
    g[3] = redis.call('HGET', l.key, rf)
  end
  if g[1] ~= st.def then st.dirty = true end
  local a = st.a
  -- reservations: scan when one may have expired
  if a[6] > 0 and a[7] <= now then
    rebuild(l, st)
    a = st.a
    g[3] = redis.call('HGET', l.key, rf)
  end
  if a[6] == 0 then a[5], a[7] = 0, 0 end
  -- dead buckets: walk from the oldest
  if l.window == 0 and l.count ~= 2 and a[2] >= 0 then
    local kmin = bucket_floor(l)
    if a[2] < kmin then
      local names = {}
      local k = a[2]
      while k <= a[3] and a[4] > 0 do
        local f = 'b' .. string.format('%d', k)
        if k < kmin then
          local v = tonumber(redis.call('HGET', l.key, f))
          if v then
            names[#names + 1] = f
            a[1], a[4] = a[1] - v, a[4] - 1
          end
        elseif redis.call('HEXISTS', l.key, f) == 1 then
          break
        end
        k = k + 1
      end
      for i = 1, #names, 256 do
        redis.call('HDEL', l.key, unpack(names, i, math.min(i + 255, #names)))
      end
      if k > a[3] or a[4] <= 0 then a[1], a[2], a[3], a[4] = 0, -1, -1, 0 else a[2] = k end
      -- written now, not only by phase 2: a usage call or a refused reserve
      -- writes nothing else, and stale aggregates over deleted buckets
      -- would count them for good (the walk cannot subtract them again)
      redis.call('HSET', l.key, 'a', a_string(l, a))
      st.dirty = true
    end
  end
  -- the state (commit and release need no count of the addresses: the
  -- expired ones are dropped by the next reserve or usage)
  if l.count == 2 and states then
    -- the oldest address first: the expired ones are dropped only when there are some
    local z = redis.call('ZRANGE', l.zkey, 0, 0, 'WITHSCORES')
    st.zoldest = z[2] and tonumber(z[2])
    if st.zoldest and l.window == 0 and st.zoldest <= now - l.interval then
      redis.call('ZREMRANGEBYSCORE', l.zkey, '-inf', now - l.interval)
      z = redis.call('ZRANGE', l.zkey, 0, 0, 'WITHSCORES')
      st.zoldest = z[2] and tonumber(z[2])
    end
    st.committed = redis.call('ZCARD', l.zkey)
  elseif l.count == 2 then
    st.committed = 0
  else
    st.committed = a[1]
  end
  st.reserved = a[5]
  st.own, st.rexp, st.rh = 0, nil, {}
  local amount, expiry, hs = parse_resv(g[3])
  if amount and expiry > now and rf ~= 'r' then
    st.own, st.rexp, st.rh, st.rlive = amount, expiry, hs, true
  end
  st.next_free = 0
  if st.committed > 0 and states then
    if l.window == 1 then
      st.next_free = l.pe
    elseif l.count == 2 then
      if st.zoldest then st.next_free = st.zoldest + l.interval end
    elseif a[2] >= 0 then
      st.next_free = (a[2] + 1) * l.res + l.interval
    end
  end
  return st
end

-- check - the reserve rule for l's ask: status 0 grant, 1 refuse, 2/3 caps
local function check(l, st)
  local cost = l.amount
  st.hashadd = false
  if l.count == 2 then
    cost = 0
    if l.amount > 0 then
      local mine = false
      for _, e in ipairs(st.rh) do if e[1] == l.hash then mine = true end end
      if not mine then
        st.hashadd = true
        if not redis.call('ZSCORE', l.zkey, l.hash) then cost = 1 end
      end
    end
  end
  st.cost = cost
  if cost > 0 then
    local others = st.committed + st.reserved - st.own
    if others >= l.max or others + st.own + cost > l.max + l.margin then return 1 end
  end
  if not st.rlive and st.a[6] >= maxres then return 2 end
  if st.hashadd and #st.rh >= 1024 then return 3 end
  return 0
end

-- life - how long the keys of l must live from now (longer than anything
-- they hold, a reservation included)
local function life(l)
  if l.window == 0 then return math.max(l.ttl, l.interval + l.res) end
  return math.max(l.ttl, l.pe - now)
end

-- finish - write "d" and "a" (with resv, the reservation too: one HSET), and
-- the hash's TTL.  A sliding window's "a" keeps in a[8] the deadline (the
-- caller's clock) that the hash's last EXPIRE gave it; EXPIREs only ever
-- move it later.  need is the end of the life of what this write adds (a
-- reservation's expiry, a bucket's end; 0: nothing): the hash is given a
-- new TTL only when need + slack is past the deadline, and then the same
-- TTL as always (longer than anything it can hold).  a[8] is 0 (EXPIRE
-- now) in a hash just made or last written in the decimal form (a
-- calendar window, or the previous version of this script, whose EXPIREs
-- do not keep it), so a deadline is never trusted that another writer
-- may have moved.
local function finish(l, st, resv, need)
  local a = st.a
  local expire = l.window ~= 0 or a[8] == 0 or a[8] < need + slack
  local left = 0
  if expire then
    left = life(l) + slack
    a[8] = now + left
  end
  if resv then
    redis.call('HSET', l.key, rf, resv, 'd', st.def, 'a', a_string(l, a))
  else
    redis.call('HSET', l.key, 'd', st.def, 'a', a_string(l, a))
  end
  if expire then redis.call('EXPIRE', l.key, left) end
end

local function write_reserve(l, st)
  local a = st.a
  local e = now + l.ttl
  if st.hashadd then st.rh[#st.rh + 1] = {l.hash, st.cost > 0} end
  if not st.rlive then a[6] = a[6] + 1 end
  st.own = st.own + st.cost
  a[5] = a[5] + st.cost
  st.reserved = a[5]
  if a[7] == 0 or e < a[7] then a[7] = e end
  finish(l, st, resv_string(st.own, e, st.rh), e)
end

local function write_commit(l, st)
  if not st.rlive then
    if st.dirty and st.exists then finish(l, st, nil, 0) end
    return
  end
  local a, need = st.a, 0
  redis.call('HDEL', l.key, rf)
  a[5], a[6] = a[5] - st.own, a[6] - 1
  if a[6] <= 0 then a[5], a[6], a[7] = 0, 0, 0 end
  if l.count == 2 then
    local added = false
    for _, e in ipairs(st.rh) do
      local t = tonumber(redis.call('ZSCORE', l.zkey, e[1]))
      if not t or t < now then
        redis.call('ZADD', l.zkey, now, e[1])
        added = true
      end
    end
    -- the set's TTL moves only here, where it gains an address or a later
    -- time: it covers every address it holds until the next such commit
    if added then redis.call('EXPIRE', l.zkey, life(l) + slack) end
  else
    local amount = st.own
    if l.final >= 0 then amount = l.final end
    if amount > 0 then
      if l.window == 1 then
        a[1] = a[1] + amount
      else
        local cur = math.floor(now / l.res)
        local f = 'b' .. string.format('%d', cur)
        if redis.call('HINCRBY', l.key, f, amount) == amount then
          a[4] = a[4] + 1
          if a[2] < 0 or cur < a[2] then a[2] = cur end
          if cur > a[3] then a[3] = cur end
        end
        a[1] = a[1] + amount
        need = (cur + 1) * l.res + l.interval
        -- past the cap (clock jumps): fold the oldest into the next newer one
        local cap = math.min(math.floor(l.interval / l.res) + 2, bcap)
        while a[4] > cap do
          local of = 'b' .. string.format('%d', a[2])
          local c = tonumber(redis.call('HGET', l.key, of)) or 0
          redis.call('HDEL', l.key, of)
          local k = a[2] + 1
          while redis.call('HEXISTS', l.key, 'b' .. string.format('%d', k)) == 0 do k = k + 1 end
          redis.call('HINCRBY', l.key, 'b' .. string.format('%d', k), c)
          a[2], a[4] = k, a[4] - 1
        end
      end
    end
  end
  st.own = 0
  finish(l, st, nil, need)
end

local function write_release(l, st)
  if st.rlive then
    local a = st.a
    redis.call('HDEL', l.key, rf)
    a[5], a[6] = a[5] - st.own, a[6] - 1
    if a[6] <= 0 then a[5], a[6], a[7] = 0, 0, 0 end
    st.own = 0
  end
  if st.rlive or (st.dirty and st.exists) then finish(l, st, nil, 0) end
end

-- ---- id 0: quota.lua's hash ----------------------------------------------

-- q_astr - quota.lua's aggregates field "b" as its awrite writes it; nil: none
local function q_astr(a)
  if a[2] > 0 or a[6] > 0 then
    local v = string.format('%d %d %d %d %d %d %d %d',
                            a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
    if a[2] + a[6] > 32 then v = v .. string.rep(' ', 256 - #v) end
    return v
  end
  return nil
end

-- q_awrite - quota.lua's aggregates field "b" (its awrite)
local function q_awrite(l, a)
  local v = q_astr(a)
  if v then
    redis.call('HSET', l.key, 'b', v)
  else
    redis.call('HDEL', l.key, 'b')
  end
end

-- q_fast - quota.lua's fast path: its aggregates, when they show that
-- nothing can have died (same conditions as quota.lua); nil otherwise
local function q_fast(l)
  local cur = math.floor(now / l.res)
  local bf = 'b' .. string.format('%d', cur)
  local g = redis.call('HMGET', l.key, 'b', rf, bf)
  local a = numbers(g[1], 8)
  if not a then return nil end
  for i = 1, 8 do
    if a[i] < 0 and i ~= 3 and i ~= 4 and i < 7 then return nil end
  end
  local rc, re
  if g[2] then
    rc, re = string.match(g[2], '^(%d+) (%-?%d+)$')
    rc, re = tonumber(rc), tonumber(re)
  end
  local maxb = math.min(math.floor(l.interval / l.res) + 2, bcap)
  if (a[2] > 0 and (a[3] + 1) * l.res + l.interval <= now) or (a[6] > 0 and a[7] <= now) or
     (g[2] and (not rc or not re or re <= now or a[6] == 0)) or
     (g[3] and (not tonumber(g[3]) or a[2] == 0)) or
     (op == 'commit' and not g[3] and a[2] >= maxb) then
    return nil
  end
  local st = {q = true, fast = true, a = a, cur = cur, bf = bf, bexists = g[3] and true}
  st.committed, st.reserved, st.own, st.nres = a[1], a[5], 0, a[6]
  if g[2] and rf ~= 'r' then st.own, st.rlive, st.rexp = rc, true, re end
  st.life = 0
  if a[2] > 0 then st.life = (a[4] + 1) * l.res + l.interval - now end
  if a[6] > 0 and a[8] - now > st.life then st.life = a[8] - now end
  st.next_free = 0
  if a[2] > 0 then st.next_free = (a[3] + 1) * l.res + l.interval end
  return st
end

-- q_expire - quota.lua's TTL (EXPIRE is a no-op when the hash is gone)
local function q_expire(l, st)
  if st.life > 0 then
    redis.call('EXPIRE', l.key, st.life + slack)
  end
end

local function q_load(l)
  local fast = q_fast(l)
  if fast then return fast end
  local st = {q = true}
  local h = redis.call('HGETALL', l.key)
  local dead = {}
  st.committed, st.reserved, st.own, st.nres = 0, 0, 0, 0
  st.live, st.bname, st.others = {}, {}, {}
  st.newest, st.life = -1, 0
  for i = 1, #h, 2 do
    local f, v = h[i], h[i + 1]
    local t = string.sub(f, 1, 1)
    if f == 'b' then
      -- the aggregates: rewritten by every write below
    elseif t == 'b' then
      local b, c = tonumber(string.sub(f, 2)), tonumber(v)
      local left = b and c and ((b + 1) * l.res + l.interval - now)
      if not left or left <= 0 then
        dead[#dead + 1] = f
      else
        st.committed = st.committed + c
        if b > st.newest then st.newest = b end
        if left > st.life then st.life = left end
        st.live[#st.live + 1] = b
        st.bname[b] = f
      end
    elseif t == 'r' then
      local c, e = string.match(v, '^(%d+) (%-?%d+)$')
      c, e = tonumber(c), tonumber(e)
      if not c or not e or e <= now then
        dead[#dead + 1] = f
      else
        st.reserved = st.reserved + c
        st.nres = st.nres + 1
        if f == rf and rf ~= 'r' then
          st.own, st.rlive, st.rexp = c, true, e
        else
          st.others[#st.others + 1] = e
        end
        if e - now > st.life then st.life = e - now end
      end
    end
  end
  for i = 1, #dead, 256 do
    redis.call('HDEL', l.key, unpack(dead, i, math.min(i + 255, #dead)))
  end
  st.dirty = #dead > 0
  table.sort(st.live)
  st.next_free = 0
  if #st.live > 0 then st.next_free = (st.live[1] + 1) * l.res + l.interval end
  return st
end

local function q_check(l, st)
  st.cost = l.amount
  if st.cost > 0 then
    local others = st.committed + st.reserved - st.own
    if others >= l.max or others + st.own + st.cost > l.max + l.margin then return 1 end
  end
  if not st.rlive and st.nres >= maxres then return 2 end
  return 0
end

-- q_finish - quota.lua's aggregates and TTL, as its scan path writes them
local function q_finish(l, st)
  local emin, emax = nil, nil
  for _, e in ipairs(st.others) do
    if not emin or e < emin then emin = e end
    if not emax or e > emax then emax = e end
  end
  if st.rlive then
    if not emin or st.rexp < emin then emin = st.rexp end
    if not emax or st.rexp > emax then emax = st.rexp end
  end
  local nres, reserved = st.nres, st.reserved
  if nres == 0 then reserved, emin, emax = 0, 0, 0 end
  local lo, hi = st.live[1], st.live[#st.live]
  q_awrite(l, {st.committed, #st.live, lo or 0, hi or 0, reserved, nres, emin or 0, emax or 0})
  q_expire(l, st)
end

local function q_reserve(l, st)
  if st.fast then
    local a, e = st.a, now + l.ttl
    st.own = math.min(st.own + st.cost, 4294967295)
    st.reserved = st.reserved + st.cost
    if not st.rlive then a[6] = a[6] + 1 end
    if a[6] == 1 then
      a[7], a[8] = e, e
    else
      a[7], a[8] = math.min(a[7], e), math.max(a[8], e)
    end
    a[5] = st.reserved
    -- a[6] >= 1: q_astr gives the aggregates, written with the reservation
    redis.call('HSET', l.key, rf, string.format('%d %d', st.own, e), 'b', q_astr(a))
    if l.ttl > st.life then st.life = l.ttl end
    q_expire(l, st)
    return
  end
  if not st.rlive then st.nres = st.nres + 1 end
  st.own = math.min(st.own + st.cost, 4294967295)
  st.reserved = st.reserved + st.cost
  st.rexp, st.rlive = now + l.ttl, true
  redis.call('HSET', l.key, rf, string.format('%d %d', st.own, st.rexp))
  if l.ttl > st.life then st.life = l.ttl end
  q_finish(l, st)
end

local function q_commit(l, st)
  if not st.rlive then
    if st.dirty then q_finish(l, st) end
    return
  end
  if st.fast then
    local a = st.a
    local own = st.own
    if l.final >= 0 then own = math.min(l.final, 4294967295) end
    redis.call('HDEL', l.key, rf)
    st.reserved = st.reserved - st.own
    a[5], a[6] = st.reserved, a[6] - 1
    if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end
    st.own, st.rlive = 0, false
    if own > 0 then
      redis.call('HINCRBY', l.key, st.bf, own)
      if not st.bexists then
        a[2] = a[2] + 1
        if a[2] == 1 then
          a[3], a[4] = st.cur, st.cur
        else
          a[3], a[4] = math.min(a[3], st.cur), math.max(a[4], st.cur)
        end
      end
      st.committed = st.committed + own
      a[1] = st.committed
      local left = (st.cur + 1) * l.res + l.interval - now
      if left > st.life then st.life = left end
    end
    q_awrite(l, a)
    q_expire(l, st)
    return
  end
  local own = st.own
  if l.final >= 0 then own = math.min(l.final, 4294967295) end
  redis.call('HDEL', l.key, rf)
  st.reserved, st.nres, st.rlive = st.reserved - st.own, st.nres - 1, false
  st.own = 0
  if own > 0 then
    local cur = math.floor(now / l.res)
    local bf = 'b' .. string.format('%d', cur)
    if redis.call('HINCRBY', l.key, bf, own) == own then
      st.live[#st.live + 1] = cur
      st.bname[cur] = bf
      table.sort(st.live)
    end
    st.committed = st.committed + own
    local left = (cur + 1) * l.res + l.interval - now
    if left > st.life then st.life = left end
    local maxb = math.min(math.floor(l.interval / l.res) + 2, bcap)
    while #st.live > maxb do
      local c = tonumber(redis.call('HGET', l.key, st.bname[st.live[1]]))
      redis.call('HDEL', l.key, st.bname[st.live[1]])
      redis.call('HINCRBY', l.key, st.bname[st.live[2]], c)
      table.remove(st.live, 1)
    end
  end
  q_finish(l, st)
end

local function q_release(l, st)
  if st.fast then
    if st.rlive then
      local a = st.a
      redis.call('HDEL', l.key, rf)
      a[5], a[6] = a[5] - st.own, a[6] - 1
      if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end
      st.reserved, st.own, st.rlive = a[5], 0, false
      q_awrite(l, a)
    end
    return
  end
  if st.rlive then
    redis.call('HDEL', l.key, rf)
    st.reserved, st.nres, st.rlive, st.own = st.reserved - st.own, st.nres - 1, false, 0
  end
  q_finish(l, st)
end

-- ---- the operations -------------------------------------------------------

if op == 'top' then
  -- the committed usage of one limit with the definition it was written with
  local g = redis.call('HMGET', KEYS[1], 'd', 'a')
  local d, a = numbers(g[1], 6), aread(g[2])
  if not d or not a then return {0} end
  if d[1] == 2 then
    if d[2] == 1 then
      if now >= d[6] then return {0} end
      return {redis.call('ZCARD', KEYS[2])}
    end
    return {redis.call('ZCOUNT', KEYS[2], '(' .. (now - d[3]), '+inf')}
  end
  if d[2] == 1 then
    if now >= d[6] then return {0} end
    return {a[1]}
  end
  local sum, kmin = a[1], math.floor((now - d[3]) / d[4])
  if a[2] >= 0 and a[2] < kmin then
    for k = a[2], math.min(a[3], kmin - 1) do
      sum = sum - (tonumber(redis.call('HGET', KEYS[1], 'b' .. string.format('%d', k))) or 0)
    end
  end
  return {sum}
end
if op == 'qtop' then
  local h, sum = redis.call('HGETALL', KEYS[1]), 0
  for i = 1, #h, 2 do
    if string.sub(h[i], 1, 1) == 'b' and h[i] ~= 'b' then
      sum = sum + (tonumber(h[i + 1]) or 0)
    end
  end
  return {sum}
end

local n = #ARGV - 3
local L, S = {}, {}
local k = 1
for i = 1, n do
  L[i], k = limit_args(i, k)
end
if k ~= #KEYS + 1 then return redis.error_reply('limits.lua: keys and limits do not match') end
if op == 'reset' then
  local r = {0, 0}
  for i = 1, n do
    redis.call('DEL', L[i].key, L[i].zkey)
    for j = 1, 4 do r[#r + 1] = 0 end
  end
  return r
end
for i = 1, n do
  if L[i].id == 0 then S[i] = q_load(L[i]) else S[i] = load(L[i]) end
end
local status, index = 0, 0
if op == 'reserve' then
  for i = 1, n do
    local c
    if L[i].id == 0 then c = q_check(L[i], S[i]) else c = check(L[i], S[i]) end
    if c ~= 0 then status, index = c, i break end
  end
  if status == 0 then
    for i = 1, n do
      if L[i].id == 0 then q_reserve(L[i], S[i]) else write_reserve(L[i], S[i]) end
    end
  end
elseif op == 'commit' then
  for i = 1, n do
    if L[i].id == 0 then q_commit(L[i], S[i]) else write_commit(L[i], S[i]) end
  end
elseif op == 'release' then
  for i = 1, n do
    if L[i].id == 0 then q_release(L[i], S[i]) else write_release(L[i], S[i]) end
  end
end
local r = {status, index}
if not states then return r end
for i = 1, n do
  local st = S[i]
  local own = st.own
  if op == 'usage' then own = 0 end
  r[#r + 1] = st.committed
  r[#r + 1] = st.reserved
  r[#r + 1] = own
  r[#r + 1] = st.next_free
end
return r
