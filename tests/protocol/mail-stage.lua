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

local mtlib = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "./") .. "mtlib.lua")
local check, rname = mtlib.check, mtlib.rname
local sock = SOCK or "inet:16700@127.0.0.1"

-- expand - "*N" -> N copies of fill, anything else unchanged
local function expand(v, fill)
	local n = v:match("^%*(%d+)$")
	if n then
		return string.rep(fill, tonumber(n))
	end
	return v
end

local function open_conn()
	return mtlib.open_conn(sock, "mx.proto.test")
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
		mtlib.must(mt.helo(conn, expand(HELO or "client.proto.test", "h")), "mt.helo")
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
	mtlib.must(mt.mailfrom(conn, FROM or "<alice@example.com>"), "mt.mailfrom")
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

mtlib.run(main)
