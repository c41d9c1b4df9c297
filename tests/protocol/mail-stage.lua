-- mail-stage.lua - miltertest script: one connection, one MAIL FROM, check the MAIL reply
--
-- Driven by tests/protocol/run.sh with -D NAME=value globals:
--   SOCK         milter socket, libmilter syntax (inet:PORT@HOST)
--   FROM         envelope sender, e.g. <alice@example.com> (default <alice@example.com>)
--   HELO         HELO name; sent only when the milter did not negotiate SMFIP_NOHELO.
--                "*N" stands for N times "h".
--   MAIL_MACROS  macros sent at MAIL, "name=value|name=value" (value "*N": N times "a");
--                empty or unset: none
--   EXPECT       the replies accepted at MAIL, comma-separated names:
--                CONTINUE ACCEPT REJECT TEMPFAIL REPLYCODE (e.g. "ACCEPT,CONTINUE")
--   WANT_HELO    "yes": fail unless HELO was negotiated; "no": fail if it was
--   SECOND       "yes": after the MAIL reply, open a second connection and check that it
--                negotiates (the milter survived)
-- Prints "ok - ..." or "FAIL - ..." per check; exits 1 (via error()) when a check failed.
-- miltertest hides the message of a Lua error, so the body runs under pcall.

local sock = SOCK or "inet:16700@127.0.0.1"
local failures = 0

local function check(cond, what)
	if cond then
		mt.echo("ok - " .. what)
	else
		mt.echo("FAIL - " .. what)
		failures = failures + 1
	end
end

local names = {
	[SMFIR_CONTINUE] = "CONTINUE", [SMFIR_ACCEPT] = "ACCEPT", [SMFIR_REJECT] = "REJECT",
	[SMFIR_TEMPFAIL] = "TEMPFAIL", [SMFIR_DISCARD] = "DISCARD",
	[SMFIR_REPLYCODE] = "REPLYCODE", [SMFIR_SKIP] = "SKIP",
}

local function rname(r)
	return names[r] or tostring(r)
end

-- expand - "*N" -> N copies of fill, anything else unchanged
local function expand(v, fill)
	local n = v:match("^%*(%d+)$")
	if n then
		return string.rep(fill, tonumber(n))
	end
	return v
end

local function open_conn()
	local conn = mt.connect(sock, 50, 0.1)
	if conn == nil then
		error("mt.connect(" .. sock .. ") failed")
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.proto.test", "{daemon_name}", "mx.proto.test",
		 "{client_addr}", "192.0.2.7")
	local err = mt.conninfo(conn, "client.proto.test", "192.0.2.7")
	if err ~= nil then
		error("mt.conninfo: " .. tostring(err))
	end
	return conn
end

local function main()
	local conn = open_conn()
	local helo = not mt.test_option(conn, SMFIP_NOHELO)

	if WANT_HELO == "yes" then
		check(helo, "HELO negotiated")
	elseif WANT_HELO == "no" then
		check(not helo, "HELO negotiated away (SMFIP_NOHELO)")
	end
	if helo then
		local err = mt.helo(conn, expand(HELO or "client.proto.test", "h"))
		if err ~= nil then
			error("mt.helo: " .. tostring(err))
		end
	end

	local args = { conn, SMFIC_MAIL }
	for pair in string.gmatch(MAIL_MACROS or "", "[^|]+") do
		local name, value = pair:match("^([^=]+)=(.*)$")
		if name == nil then
			error("bad MAIL_MACROS entry " .. pair)
		end
		table.insert(args, name)
		table.insert(args, expand(value, "a"))
	end
	if #args > 2 then
		mt.macro(table.unpack(args)) -- one call: a second would replace the first
	end
	local err = mt.mailfrom(conn, FROM or "<alice@example.com>")
	if err ~= nil then
		error("mt.mailfrom: " .. tostring(err))
	end
	local got = rname(mt.getreply(conn))
	local want = EXPECT or "ACCEPT"
	local matched = false
	for w in string.gmatch(want, "[^,]+") do
		if w == got then
			matched = true
		end
	end
	check(matched, "MAIL reply: got " .. got .. ", want " .. want)
	mt.disconnect(conn, false)

	if SECOND == "yes" then
		local c2 = open_conn()
		check(c2 ~= nil, "a second connection negotiates")
		mt.disconnect(c2, false)
	end
end

local ok, err = pcall(main)
if not ok then
	mt.echo("FAIL - error: " .. tostring(err))
	failures = failures + 1
end
if failures > 0 then
	error("failed")
end
