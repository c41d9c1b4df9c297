-- quota.lua - the quota rule of store.h in one atomic step (Redis engine)
--
-- Embedded in chapps at build time (common/store/store.am turns this file
-- into a C string); store_redis_quota.c sends it with EVALSHA, and
-- redis_pool.c loads it again after NOSCRIPT.  The rule is the one of store.h
-- and quota_record.c.
--
-- KEYS[1]  the user's hash, "chapps:q:" + the user name's bytes
-- ARGV     1 op ('reserve', 'commit', 'release', 'usage' or 'reset'),
--          2 now (the caller's clock, seconds), 3 interval, 4 resolution,
--          5 reservation_ttl, 6 limit, 7 margin, 8 reservation field
--          ("r" + reservation id), 9 n, 10 max reservations,
--          11 current bucket number (floor(now / resolution)),
--          12 expire slack, 13 max buckets
-- Returns  {status (0 ok, 1 refused, 2 too many reservations), committed,
--          reserved, own, last_send}; reset returns the dropped count as
--          committed.
--
-- Fields: "b<bucket>" -> count, "r<resid>" -> "<count> <expiry>", and "b"
-- (no number) holding running aggregates "S B O W R N E X" over the items
-- present: sum and number of buckets, oldest and newest bucket, sum and
-- number of reservations, a lower bound of their earliest expiry and an
-- upper bound of their latest.  A call that sees them valid and nothing
-- possibly dead uses them (fast path); any other call scans the hash as
-- HGETALL and rewrites them (usage never writes).  E only moves down and X
-- only up between scans, so they stay bounds; O is exact because only a
-- scan or a fold removes buckets, and a commit that could fold takes the
-- scan.  A commit that would leave more than max buckets (a clock jump)
-- folds the oldest into the next newer one, which lives longer: usage is
-- never under-counted.
--
-- Debugging: against a scratch server (never a production one),
--   redis-cli --eval common/store/redis/quota.lua chapps:q:bob , \
--       reserve 1700000000 3600 60 300 10 2 rR1 1 1024 28333333 60 62
--   redis-cli --eval common/store/redis/quota.lua chapps:q:bob , \
--       usage 1700000000 3600 60 300 10 2 r 0 1024 28333333 60 62
-- (redis-cli --eval FILE KEY... , ARG...: keys before the comma.)
local key, op, rf = KEYS[1], ARGV[1], ARGV[8]
local function aread(v)
  if not v then return nil end
  local a = {}
  for x in string.gmatch(v, '%S+') do a[#a + 1] = tonumber(x) end
  if #a ~= 8 then return nil end
  for i = 1, 8 do
    if not a[i] or a[i] < 0 and i ~= 3 and i ~= 4 and i < 7 then return nil end
  end
  return a
end
local function astr(a)
  local v = string.format('%d %d %d %d %d %d %d %d',
                          a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
  if a[2] + a[6] > 32 then v = v .. string.rep(' ', 256 - #v) end
  return v
end
local function awrite(a)
  if a[2] > 0 or a[6] > 0 then
    redis.call('HSET', key, 'b', astr(a))
  else
    redis.call('HDEL', key, 'b')
  end
end
if op == 'release' then
  local g = redis.call('HMGET', key, 'b', rf)
  if g[2] then
    redis.call('HDEL', key, rf)
    local a, c = aread(g[1]), tonumber(string.match(g[2], '^(%d+) %-?%d+$'))
    if a and c and a[6] >= 1 and a[5] >= c then
      a[5], a[6] = a[5] - c, a[6] - 1
      if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end
      awrite(a)
    elseif g[1] then
      redis.call('HDEL', key, 'b')
    end
  end
  return {0, 0, 0, 0, 0}
end
if op == 'reset' then
  local a, dropped = aread(redis.call('HGET', key, 'b')), 0
  if a then
    dropped = a[1]
  else
    local h = redis.call('HGETALL', key)
    for i = 1, #h, 2 do
      if string.sub(h[i], 1, 1) == 'b' then
        dropped = dropped + (tonumber(h[i + 1]) or 0)
      end
    end
  end
  redis.call('DEL', key)
  return {0, dropped, 0, 0, 0}
end
local now, interval, res = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, limit, margin = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local n, maxres = tonumber(ARGV[9]), tonumber(ARGV[10])
local cur, slack = tonumber(ARGV[11]), tonumber(ARGV[12])
local maxbuckets = tonumber(ARGV[13])
local bf = 'b' .. ARGV[11]
local g = redis.call('HMGET', key, 'b', rf, bf)
local a = aread(g[1])
local rc, re
if g[2] then
  rc, re = string.match(g[2], '^(%d+) (%-?%d+)$')
  rc, re = tonumber(rc), tonumber(re)
end
if a then
  if (a[2] > 0 and (a[3] + 1) * res + interval <= now) or (a[6] > 0 and a[7] <= now) or
     (g[2] and (not rc or not re or re <= now or a[6] == 0)) or
     (g[3] and (not tonumber(g[3]) or a[2] == 0)) or
     (op == 'commit' and not g[3] and a[2] >= maxbuckets) then
    a = nil
  end
end
local status, committed, reserved, own, newest, life = 0, 0, 0, 0, -1, 0
if a then
  local rlive = g[2] and true or false
  committed, reserved = a[1], a[5]
  if rlive then own = rc end
  if a[2] > 0 then
    if a[4] > newest then newest = a[4] end
    life = (a[4] + 1) * res + interval - now
  end
  if a[6] > 0 and a[8] - now > life then life = a[8] - now end
  if op == 'usage' then
    own = 0
  else
    if op == 'reserve' then
      local others = committed + reserved - own
      if others >= limit or others + own + n > limit + margin then
        status = 1
      elseif not rlive and a[6] >= maxres then
        status = 2
      else
        own = math.min(own + n, 4294967295)
        reserved = others - committed + own
        local e = now + ttl
        if not rlive then a[6] = a[6] + 1 end
        if a[6] == 1 then
          a[7], a[8] = e, e
        else
          a[7], a[8] = math.min(a[7], e), math.max(a[8], e)
        end
        a[5] = reserved
        -- a[6] >= 1: awrite would set "b"; one HSET for both fields
        redis.call('HSET', key, rf, string.format('%d %d', own, e), 'b', astr(a))
        if ttl > life then life = ttl end
      end
    elseif op == 'commit' then
      if rlive then
        redis.call('HDEL', key, rf)
        reserved = reserved - own
        a[5], a[6] = reserved, a[6] - 1
        if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end
        if own > 0 then
          if not g[3] then
            a[2] = a[2] + 1
            if a[2] == 1 then
              a[3], a[4] = cur, cur
            else
              a[3], a[4] = math.min(a[3], cur), math.max(a[4], cur)
            end
          end
          committed = committed + own
          a[1] = committed
          if cur > newest then newest = cur end
          local left = (cur + 1) * res + interval - now
          if left > life then life = left end
          -- the bucket's count as HINCRBY would leave it (g[3] was read above and is a
          -- number here), and "b" (a[2] >= 1) in one HSET
          redis.call('HSET', key, bf, string.format('%d', (tonumber(g[3]) or 0) + own),
                     'b', astr(a))
        else
          awrite(a)
        end
      end
      own = 0
    end
    if life > 0 then
      redis.call('EXPIRE', key, life + slack)  -- a key already gone: 0, nothing done
    end
  end
  local last = 0
  if newest >= 0 then last = newest * res end
  return {status, committed, reserved, own, last}
end
local h = redis.call('HGETALL', key)
local nres, rexp, emin, emax = 0, nil, nil, nil
local rlive = false
local dead, live, bname = {}, {}, {}
for i = 1, #h, 2 do
  local f, v = h[i], h[i + 1]
  local t = string.sub(f, 1, 1)
  if t == 'b' then
    local b, c = tonumber(string.sub(f, 2)), tonumber(v)
    local left = b and c and ((b + 1) * res + interval - now)
    if not left or left <= 0 then
      dead[#dead + 1] = f
    else
      committed = committed + c
      if b > newest then newest = b end
      if left > life then life = left end
      live[#live + 1] = b
      bname[b] = f
    end
  elseif t == 'r' then
    local c, e = string.match(v, '^(%d+) (%-?%d+)$')
    c, e = tonumber(c), tonumber(e)
    if not c or not e or e <= now then
      dead[#dead + 1] = f
    else
      reserved = reserved + c
      nres = nres + 1
      if f == rf then
        own = c; rlive = true; rexp = e
      else
        if not emin or e < emin then emin = e end
        if not emax or e > emax then emax = e end
      end
      if e - now > life then life = e - now end
    end
  end
end
if op == 'usage' then
  own = 0
else
  for i = 1, #dead, 256 do
    redis.call('HDEL', key, unpack(dead, i, math.min(i + 255, #dead)))
  end
  local keep = 1
  if op == 'reserve' then
    local others = committed + reserved - own
    if others >= limit or others + own + n > limit + margin then
      status = 1
    elseif not rlive and nres >= maxres then
      status = 2
    else
      own = math.min(own + n, 4294967295)
      reserved = others - committed + own
      rexp = now + ttl
      if not rlive then nres = nres + 1 end
      redis.call('HSET', key, rf, string.format('%d %d', own, rexp))
      if ttl > life then life = ttl end
    end
  elseif op == 'commit' then
    if rlive then
      redis.call('HDEL', key, rf)
      reserved = reserved - own
      nres = nres - 1
      rexp = nil
      if own > 0 then
        if redis.call('HINCRBY', key, bf, own) == own then
          live[#live + 1] = cur
          bname[cur] = bf
        end
        committed = committed + own
        if cur > newest then newest = cur end
        local left = (cur + 1) * res + interval - now
        if left > life then life = left end
        if #live > maxbuckets then
          table.sort(live)
          for i = 1, #live - maxbuckets do
            local c = tonumber(redis.call('HGET', key, bname[live[i]]))
            redis.call('HDEL', key, bname[live[i]])
            redis.call('HINCRBY', key, bname[live[i + 1]], c)
          end
          keep = #live - maxbuckets + 1
        end
      end
    end
    own = 0
  end
  if rexp then
    if not emin or rexp < emin then emin = rexp end
    if not emax or rexp > emax then emax = rexp end
  end
  local lo, hi = nil, nil
  for i = keep, #live do
    if not lo or live[i] < lo then lo = live[i] end
    if not hi or live[i] > hi then hi = live[i] end
  end
  if nres == 0 then reserved, emin, emax = 0, 0, 0 end
  awrite({committed, #live - keep + 1, lo or 0, hi or 0, reserved, nres,
          emin or 0, emax or 0})
  if life > 0 then
    redis.call('EXPIRE', key, life + slack)
  end
end
local last = 0
if newest >= 0 then last = newest * res end
return {status, committed, reserved, own, last}
