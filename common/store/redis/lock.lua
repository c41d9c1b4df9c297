-- lock.lua - locks, strikes and the event journal in one atomic step (Redis engine)
--
-- Embedded in chapps at build time (common/store/store.am turns this file
-- into a C string); store_redis_locks.c sends it with EVALSHA, and
-- redis_pool.c loads it again after NOSCRIPT.  The rules are store.h's
-- (store_lock_*, store_event_add).
--
-- A user's lock and strikes are ONE hash, "chapps:k:" + the user name's
-- bytes (one key, so one Redis Cluster slot and one atomic script):
--   s  when the lock was set (absent: not locked)
--   r  the lock's reason
--   t  the strike times inside the window, oldest first, separated by
--      spaces, at most `after` of them
-- A locked hash has no TTL (a lock lasts until cleared); an unlocked one
-- expires `slack` seconds after its newest strike leaves the window, so
-- an idle user's strikes vanish.  The events are one list, newest first,
-- each element "<time> <text>", trimmed to `keep` elements by the same
-- call that pushes one.
--
-- KEYS[1]  the user's hash (ops set, clear, strike) or the events list (event)
-- ARGV     1 op, 2 now (the caller's clock, seconds), then
--          set:    3 reason                  -> {1 locked now, 0 was locked}
--          clear:                            -> {1 was locked, 0 was not}
--          strike: 3 reason, 4 after, 5 window, 6 expire slack
--                                            -> {strikes in the window, 1 this call locked}
--          event:  3 text, 4 keep            -> {events kept}
--
-- Debugging: against a scratch server (never a production one),
--   redis-cli --eval common/store/redis/lock.lua chapps:k:bob , \
--       strike 1700000000 'too many refusals' 3 3600 60
--   redis-cli --eval common/store/redis/lock.lua chapps:events , \
--       event 1700000000 '{"kind":"lock","user":"bob"}' 1000
-- (redis-cli --eval FILE KEY... , ARG...: keys before the comma.)
local key, op, now = KEYS[1], ARGV[1], tonumber(ARGV[2])

if op == 'event' then
  redis.call('LPUSH', key, string.format('%d', now) .. ' ' .. ARGV[3])
  redis.call('LTRIM', key, 0, tonumber(ARGV[4]) - 1)
  return {redis.call('LLEN', key)}
end

if op == 'set' then
  if redis.call('HEXISTS', key, 's') == 1 then return {0} end
  redis.call('HSET', key, 's', string.format('%d', now), 'r', ARGV[3])
  redis.call('PERSIST', key)
  return {1}
end

if op == 'clear' then
  local was = redis.call('HEXISTS', key, 's')
  redis.call('DEL', key)
  return {was}
end

if op == 'strike' then
  local after, window, slack = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local g = redis.call('HMGET', key, 's', 't')
  local times = {}
  if g[2] then
    for x in string.gmatch(g[2], '%S+') do
      local t = tonumber(x)
      if t and t > now - window then times[#times + 1] = t end
    end
  end
  -- now in order (hosts' clocks may disagree a little), then the newest `after`
  local i = #times
  while i > 0 and times[i] > now do
    times[i + 1] = times[i]
    i = i - 1
  end
  times[i + 1] = now
  local first = #times > after and #times - after + 1 or 1
  local keep = {}
  for j = first, #times do keep[#keep + 1] = string.format('%d', times[j]) end
  redis.call('HSET', key, 't', table.concat(keep, ' '))
  local locked = 0
  if g[1] then
    redis.call('PERSIST', key)
  elseif #keep >= after then
    redis.call('HSET', key, 's', string.format('%d', now), 'r', ARGV[3])
    redis.call('PERSIST', key)
    locked = 1
  else
    local ttl = times[#times] + window - now + slack
    if ttl < 1 then ttl = 1 end
    redis.call('EXPIRE', key, ttl)
  end
  return {#keep, locked}
end

return redis.error_reply('lock.lua: unknown op ' .. tostring(op))
