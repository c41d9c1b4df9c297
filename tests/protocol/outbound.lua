-- outbound.lua - miltertest script: outbound messages through the quota and SDA policies
--
-- Driven by tests/protocol/outbound.sh with -D NAME=value globals:
--   SOCK   milter socket, libmilter syntax (inet:PORT@HOST)
--   USER   {auth_authen} sent with the MAIL macros
--   FROM   envelope sender, e.g. <alice@example.test>
--   PLAN   the messages, separated by "/"; each one runs on a connection of its own and is
--          a list of steps separated by spaces, each STEP:EXPECT (EXPECT a reply name:
--          CONTINUE ACCEPT REJECT TEMPFAIL REPLYCODE):
--            M      MAIL FROM
--            R      RCPT TO (the recipients are numbered: <r1@dest.test>, <r2@dest.test>, ...)
--            D      DATA
--            E      end of message (headers and body are sent first by miltertest)
--            E?     end of message only when the previous reply was CONTINUE
--            A      abort (no reply; written without :EXPECT)
--          e.g. "M:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT/M:CONTINUE R:REPLYCODE"
-- Prints "ok - ..." or "FAIL - ..." per step; exits 1 (via error()) when a step failed.
-- The body runs under pcall: miltertest hides the message of a Lua error.

local mtlib = dofile((debug.getinfo(1, "S").source:match("^@?(.*/)") or "./") .. "mtlib.lua")
local check, rname, must = mtlib.check, mtlib.rname, mtlib.must
local sock = SOCK or "inet:16710@127.0.0.1"

local function open_conn()
	local conn = mtlib.open_conn(sock, "submission")
	if not mt.test_option(conn, SMFIP_NOHELO) then
		must(mt.helo(conn, "client.proto.test"), "mt.helo")
	end
	return conn
end

-- message - run one message's steps on a new connection
local function message(n, steps)
	local conn = open_conn()
	local rcpt = 0
	local last = nil

	for step in string.gmatch(steps, "%S+") do
		local op, want = step:match("^([^:]+):?(.*)$")
		local what
		if op == "A" then
			mt.abort(conn)
		elseif op == "E?" and last ~= SMFIR_CONTINUE then
			-- the transaction is over already
		else
			if op == "M" then
				if USER ~= nil and USER ~= "" then
					mt.macro(conn, SMFIC_MAIL, "{auth_authen}", USER)
				end
				must(mt.mailfrom(conn, FROM or "<alice@example.test>"), "mt.mailfrom")
				what = "MAIL " .. (FROM or "<alice@example.test>")
			elseif op == "R" then
				rcpt = rcpt + 1
				must(mt.rcptto(conn, "<r" .. rcpt .. "@dest.test>"), "mt.rcptto")
				what = "RCPT " .. rcpt
			elseif op == "D" then
				must(mt.data(conn), "mt.data")
				what = "DATA"
			elseif op == "E" or op == "E?" then
				must(mt.eom(conn), "mt.eom")
				what = "EOM"
			else
				error("bad PLAN step " .. step)
			end
			last = mt.getreply(conn)
			check(rname(last) == want, "message " .. n .. ": " .. what .. " got " ..
			      rname(last) .. ", want " .. want)
		end
	end
	mt.disconnect(conn, false)
end

local function main()
	local n = 0
	for steps in string.gmatch(PLAN or "", "[^/]+") do
		n = n + 1
		message(n, steps)
	end
	check(n > 0, "PLAN has messages")
end

mtlib.run(main)
