-- greylist.lua - the greylisting rule of greylist_record.h in one atomic
-- step (Redis engine)
--
-- Embedded in chapps at build time (common/store/store.am turns this file
-- into a C string); store_redis_greylist.c sends it with EVALSHA, and
-- redis_pool.c loads it again after NOSCRIPT.  The rule is
-- greylist_record_decide() of greylist_record.c; the tally's constants (hour
-- length, window, counters kept) come from greylist_record.h as arguments.
--
-- KEYS[1]  the client's tally hash, "chapps:gt:" + the client key
-- KEYS[2]  the tuple hash, "chapps:g:" + the tuple key ('check' only)
-- ARGV     1 op ('check', 'tally' or 'clear'), 2 now (the caller's clock),
--          3 current hour (floor(now / ARGV[9])), 4 min_delay,
--          5 retry_window, 6 lifetime, 7 whitelist_threshold,
--          8 expire slack, 9 hour length (GREYLIST_TALLY_HOUR),
--          10 tally window (GREYLIST_TALLY_WINDOW), 11 max counters
--          (GREYLIST_TALLY_MAX), 12 uncounted ('1': a pass does not add
--          to the tally)
-- Returns  {verdict, tally}: verdict 0 pass, 1 whitelisted, 2 new,
--          3 early (enum greylist_verdict); an early retry writes nothing.
--
-- The tally is a hash of "h<hour>" -> passes; a counter counts until its
-- end + the window (at most max counters live, the oldest folded into the
-- next newer past that).  A tuple is a hash f (first seen), p (last pass,
-- -1 none), e (the first instant at which the rule would restart it
-- anyway: a tuple at or past e is absent).
--
-- Debugging: against a scratch server (never a production one),
--   redis-cli --eval common/store/redis/greylist.lua chapps:gt:c chapps:g:t , \
--       check 1700000000 472222 60 86400 3110400 10 60 3600 86400 25 0
--   redis-cli --eval common/store/redis/greylist.lua chapps:gt:c , \
--       tally 1700000000 472222 0 0 0 0 60 3600 86400 25 0
-- (redis-cli --eval FILE KEY... , ARG...: keys before the comma.)
local ck, op = KEYS[1], ARGV[1]
if op == 'clear' then
  redis.call('DEL', ck)
  return {0, 0}
end
local now, hour = tonumber(ARGV[2]), tonumber(ARGV[3])
local hsec, day, tmax = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local h = redis.call('HGETALL', ck)
local sum, newest, live, dead, fname = 0, -1, {}, {}, {}
for i = 1, #h, 2 do
  local f = h[i]
  local b, c = tonumber(string.sub(f, 2)), tonumber(h[i + 1])
  if string.sub(f, 1, 1) ~= 'h' or not b or not c or (b + 1) * hsec + day <= now then
    dead[#dead + 1] = f
  else
    sum = sum + c
    live[#live + 1] = b
    fname[b] = f
    if b > newest then newest = b end
  end
end
if op == 'tally' then
  return {0, sum}
end
local tk = KEYS[2]
local mind, win, life = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local thr, slack = tonumber(ARGV[7]), tonumber(ARGV[8])
local t = redis.call('HMGET', tk, 'f', 'p', 'e')
local first, lastp, e = tonumber(t[1]), tonumber(t[2]), tonumber(t[3])
local present = first ~= nil and lastp ~= nil and e ~= nil and now < e
local v
if thr > 0 and sum >= thr then
  v = 1
  if not present then first, lastp = now, -1 end
elseif not present then
  v = 2
elseif lastp >= 0 and now - lastp <= life then
  v = 0
elseif now - first < mind then
  return {3, sum}
elseif now - first > win then
  v = 2
else
  v = 0
end
if v == 2 then
  first, lastp = now, -1
elseif now > lastp then
  lastp = now
end
e = first + math.max(win, mind)
if lastp >= 0 and lastp + life > e then e = lastp + life end
e = e + 1
redis.call('HMSET', tk, 'f', string.format('%d', first),
           'p', string.format('%d', lastp), 'e', string.format('%d', e))
redis.call('EXPIRE', tk, e - now + slack)
if v == 2 or ARGV[12] == '1' then
  return {v, sum}
end
for i = 1, #dead, 256 do
  redis.call('HDEL', ck, unpack(dead, i, math.min(i + 255, #dead)))
end
local f = 'h' .. ARGV[3]
if redis.call('HINCRBY', ck, f, 1) == 1 then
  live[#live + 1] = hour
  fname[hour] = f
end
if hour > newest then newest = hour end
sum = sum + 1
if #live > tmax then
  table.sort(live)
  for i = 1, #live - tmax do
    local c = tonumber(redis.call('HGET', ck, fname[live[i]]))
    redis.call('HDEL', ck, fname[live[i]])
    redis.call('HINCRBY', ck, fname[live[i + 1]], c)
  end
end
redis.call('EXPIRE', ck, (newest + 1) * hsec + day - now + slack)
return {v, sum}
