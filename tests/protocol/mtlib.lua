-- mtlib.lua - what the miltertest scripts share (mail-stage.lua, outbound.lua)
--
-- Loaded with dofile from the script's own directory:
--   local mtlib = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "./") .. "mtlib.lua")
-- Checks print "ok - ..." or "FAIL - ..." and count the failures; mtlib.run(main) runs the
-- script's body under pcall (miltertest hides the message of a Lua error) and ends the
-- script with error() when anything failed, so miltertest exits non-zero.

local M = { failures = 0 }

-- check - one check: ok when cond holds
function M.check(cond, what)
	if cond then
		mt.echo("ok - " .. what)
	else
		mt.echo("FAIL - " .. what)
		M.failures = M.failures + 1
	end
end

local names = {
	[SMFIR_CONTINUE] = "CONTINUE", [SMFIR_ACCEPT] = "ACCEPT", [SMFIR_REJECT] = "REJECT",
	[SMFIR_TEMPFAIL] = "TEMPFAIL", [SMFIR_DISCARD] = "DISCARD",
	[SMFIR_REPLYCODE] = "REPLYCODE", [SMFIR_SKIP] = "SKIP",
}

-- rname - the name of a milter reply (CONTINUE, ACCEPT, ...)
function M.rname(r)
	return names[r] or tostring(r)
end

-- must - raise "what: err" when a miltertest call returned an error
function M.must(err, what)
	if err ~= nil then
		error(what .. ": " .. tostring(err))
	end
end

-- open_conn - connect to sock (50 tries, 0.1 s apart) and send CONNECT from
-- client.proto.test [192.0.2.7] with the macros j=mx.proto.test, {daemon_name}=daemon
function M.open_conn(sock, daemon)
	local conn = mt.connect(sock, 50, 0.1)
	if conn == nil then
		error("mt.connect(" .. sock .. ") failed")
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.proto.test", "{daemon_name}", daemon,
		 "{client_addr}", "192.0.2.7")
	M.must(mt.conninfo(conn, "client.proto.test", "192.0.2.7"), "mt.conninfo")
	return conn
end

-- run - run main under pcall; fail the script when main raised or a check failed
function M.run(main)
	local ok, err = pcall(main)
	if not ok then
		mt.echo("FAIL - error: " .. tostring(err))
		M.failures = M.failures + 1
	end
	if M.failures > 0 then
		error("failed")
	end
end

return M
