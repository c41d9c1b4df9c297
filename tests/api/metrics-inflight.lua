-- metrics-inflight.lua - miltertest script for tests/api/metrics.sh: one message that stops
-- between RCPT and DATA to run a shell command (a scrape), then goes on
--
-- -D globals: SOCK (milter socket), USER ({auth_authen}), FROM (envelope sender), HOOK (the
-- command run by os.execute while the message holds its quota reservation).
-- Prints "ok - ..." or "FAIL - ..." per step; exits 1 (via error()) when a step failed.

local mtlib = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "./") ..
	"../protocol/mtlib.lua")
local check, rname, must = mtlib.check, mtlib.rname, mtlib.must

local function main()
	local conn = mtlib.open_conn(SOCK, "submission")
	if not mt.test_option(conn, SMFIP_NOHELO) then
		must(mt.helo(conn, "client.proto.test"), "mt.helo")
	end
	mt.macro(conn, SMFIC_MAIL, "{auth_authen}", USER)
	must(mt.mailfrom(conn, FROM), "mt.mailfrom")
	check(rname(mt.getreply(conn)) == "CONTINUE", "MAIL: CONTINUE")
	must(mt.rcptto(conn, "<r1@dest.test>"), "mt.rcptto")
	check(rname(mt.getreply(conn)) == "CONTINUE", "RCPT: CONTINUE")
	local rc = os.execute(HOOK)	-- Lua 5.1: 0; 5.2 and later: true
	check(rc == 0 or rc == true, "the hook ran")
	must(mt.data(conn), "mt.data")
	check(rname(mt.getreply(conn)) == "ACCEPT", "DATA: ACCEPT")
	mt.disconnect(conn, false)
end

mtlib.run(main)
