-- actions.lua - miltertest script: one outbound message whose end is checked for a quarantine
--
-- Driven by tests/protocol/actions.sh with -D NAME=value globals:
--   SOCK    milter socket, libmilter syntax (inet:PORT@HOST)
--   USER    {auth_authen} sent with the MAIL macros
--   FROM    envelope sender
--   RCPTS   number of recipients (<r1@dest.test> ...), each must get CONTINUE
--   REASON  the quarantine reason wanted at end of message (SMFIR_QUARANTINE), or "" for
--           none: then the message must not be quarantined
-- DATA must answer CONTINUE (a held message goes on to its end) and EOM ACCEPT.
-- Prints "ok - ..." or "FAIL - ..." per check; exits 1 (via error()) when one failed.

local mtlib = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "./") .. "mtlib.lua")
local check, rname, must = mtlib.check, mtlib.rname, mtlib.must

local function main()
	local conn = mtlib.open_conn(SOCK, "submission")
	local n = tonumber(RCPTS or "1")
	local r

	if not mt.test_option(conn, SMFIP_NOHELO) then
		must(mt.helo(conn, "client.proto.test"), "mt.helo")
	end
	mt.macro(conn, SMFIC_MAIL, "{auth_authen}", USER, "i", "4QACT1")
	must(mt.mailfrom(conn, FROM), "mt.mailfrom")
	r = mt.getreply(conn)
	check(r == SMFIR_CONTINUE, "MAIL got " .. rname(r) .. ", want CONTINUE")
	for i = 1, n do
		mt.macro(conn, SMFIC_RCPT, "i", "4QACT1")
		must(mt.rcptto(conn, "<r" .. i .. "@dest.test>"), "mt.rcptto")
		r = mt.getreply(conn)
		check(r == SMFIR_CONTINUE, "RCPT " .. i .. " got " .. rname(r) .. ", want CONTINUE")
	end
	must(mt.data(conn), "mt.data")
	r = mt.getreply(conn)
	if REASON ~= nil and REASON ~= "" then
		check(r == SMFIR_CONTINUE, "DATA got " .. rname(r) .. ", want CONTINUE (held)")
		must(mt.eom(conn), "mt.eom")
		r = mt.getreply(conn)
		check(r == SMFIR_ACCEPT, "EOM got " .. rname(r) .. ", want ACCEPT")
		check(mt.eom_check(conn, MT_QUARANTINE), "EOM: SMFIR_QUARANTINE sent")
		check(mt.eom_check(conn, MT_QUARANTINE, REASON), "EOM: the reason is " .. REASON)
	else
		check(r == SMFIR_ACCEPT, "DATA got " .. rname(r) .. ", want ACCEPT")
	end
	mt.disconnect(conn, false)
end

mtlib.run(main)
