#!/usr/bin/env python3
# milter-client.py - a small MTA-side milter protocol (version 6) client for the protocol tests
#
# It plays the MTA against a running milter and prints one line per reply, so that a shell
# script can assert on the exact reply codes and texts (miltertest cannot read a reply's text
# before end of message).  Python 3 standard library only.
#
# Usage: milter-client.py -s inet:PORT@HOST|unix:/path [-t SECONDS] < SCRIPT
#
# SCRIPT has one command per line; blank lines and lines starting with # are ignored.
# Arguments are split on white space; in each argument \xHH, \0, \n, \r, \t, \s (a space) and
# \\ are unescaped, and ${N*TEXT} is replaced by TEXT repeated N times.
#
#   optneg [PROTOCOL_HEX]       open the connection (if needed) and negotiate; the MTA offers
#                               every action and PROTOCOL_HEX (default 0x1fffff) as protocol
#   macro STAGE NAME=VALUE ...  'D' packet for STAGE (C H M R T E N or L); no reply
#   connect HOST ADDR [PORT]    'C' packet, family 4 (6 when ADDR holds ':')
#   helo NAME                   'H'
#   mail ARG...                 'M' with each ARG NUL-terminated
#   rcpt ARG...                 'R'
#   rcpts N PATTERN             N 'R' packets, %d in PATTERN replaced by 1..N; one summary line
#   data                        'T'
#   eom                         'E'
#   abort                       'A' (no reply)
#   quit                        'Q' (no reply), then close
#   open                        open the connection (and send nothing)
#   close                       close the socket without QUIT
#   raw CMD [PAYLOAD]           a packet with command byte CMD and the unescaped PAYLOAD,
#                               then wait for one reply ("raw" prints it)
#   rawnr CMD [PAYLOAD]         the same, without waiting for a reply
#   bytes HEX                   write raw bytes (e.g. a bad length header), no reply
#   alive                       print "alive yes" if the peer has not closed the connection
#
# Output, one line per reply:
#   optneg version=6 actions=0x... protocol=0x...
#   symlist STAGE MACROS          (for every SMFIR_SETSYMLIST list; STAGE connect helo mail ...)
#   mail CONTINUE | ACCEPT | REJECT | TEMPFAIL | DISCARD | SKIP
#   mail REPLYCODE 554 5.7.1 text  (the text as sent, without the trailing NUL)
#   connect NOREPLY                (the stage was negotiated "no reply"; nothing was awaited)
#   helo SKIPPED                   (the stage was negotiated away; nothing was sent)
#   mail EOF | TIMEOUT             (the milter closed the connection / did not answer)
#   rcpts N CONTINUE=a REPLYCODE=b ... first=... last=...
# Exit status: 0, or 2 on a usage or protocol error (a reply the protocol does not allow).

import re
import socket
import struct
import sys

SMFIP = {
    'NOCONNECT': 0x1, 'NOHELO': 0x2, 'NOMAIL': 0x4, 'NORCPT': 0x8, 'NOBODY': 0x10,
    'NOHDRS': 0x20, 'NOEOH': 0x40, 'NR_HDR': 0x80, 'NOUNKNOWN': 0x100, 'NODATA': 0x200,
    'SKIP': 0x400, 'RCPT_REJ': 0x800, 'NR_CONN': 0x1000, 'NR_HELO': 0x2000,
    'NR_MAIL': 0x4000, 'NR_RCPT': 0x8000, 'NR_DATA': 0x10000, 'NR_UNKN': 0x20000,
    'NR_EOH': 0x40000, 'NR_BODY': 0x80000, 'HDR_LEADSPC': 0x100000,
}
STAGES = {0: 'connect', 1: 'helo', 2: 'mail', 3: 'rcpt', 4: 'data', 5: 'eom', 6: 'eoh'}
FINAL = {b'c': 'CONTINUE', b'a': 'ACCEPT', b'r': 'REJECT', b't': 'TEMPFAIL',
         b'd': 'DISCARD', b's': 'SKIP', b'y': 'REPLYCODE'}
MODS = {b'h': 'ADDHEADER', b'i': 'INSHEADER', b'm': 'CHGHEADER', b'+': 'ADDRCPT',
        b'-': 'DELRCPT', b'2': 'ADDRCPT_PAR', b'e': 'CHGFROM', b'b': 'REPLBODY',
        b'q': 'QUARANTINE'}
# command -> (name, flag that removes the step, flag that removes the reply)
STEPS = {
    'connect': (b'C', 'NOCONNECT', 'NR_CONN'), 'helo': (b'H', 'NOHELO', 'NR_HELO'),
    'mail': (b'M', 'NOMAIL', 'NR_MAIL'), 'rcpt': (b'R', 'NORCPT', 'NR_RCPT'),
    'data': (b'T', 'NODATA', 'NR_DATA'), 'eom': (b'E', None, None),
}


class ProtocolError(Exception):
    pass


def unescape(arg):
    """the bytes an argument stands for (see the header)"""
    def rep(m):
        return m.group(2) * int(m.group(1))
    arg = re.sub(r'\$\{(\d+)\*([^}]*)\}', rep, arg)
    out = bytearray()
    i = 0
    while i < len(arg):
        c = arg[i]
        if c == '\\' and i + 1 < len(arg):
            n = arg[i + 1]
            if n == 'x':
                out.append(int(arg[i + 2:i + 4], 16))
                i += 4
                continue
            out += {'0': b'\0', 'n': b'\n', 'r': b'\r', 't': b'\t', 's': b' ',
                    '\\': b'\\'}.get(n, ('\\' + n).encode())
            i += 2
            continue
        out += c.encode('utf-8')
        i += 1
    return bytes(out)


def printable(b):
    """reply text for the output line: bytes outside printable ASCII as \\xHH"""
    return ''.join(chr(c) if 32 <= c < 127 else '\\x%02x' % c for c in b)


class Client:
    def __init__(self, spec, timeout):
        self.spec = spec
        self.timeout = timeout
        self.sock = None
        self.eof = False
        self.proto = 0

    def open(self):
        if self.spec.startswith('inet:') or self.spec.startswith('inet6:'):
            port, _, host = self.spec.split(':', 1)[1].partition('@')
            self.sock = socket.create_connection((host or '127.0.0.1', int(port)),
                                                 timeout=self.timeout)
        elif self.spec.startswith('unix:') or self.spec.startswith('local:'):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(self.spec.split(':', 1)[1])
        else:
            raise ProtocolError('bad socket spec ' + self.spec)
        if self.sock.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.eof = False

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def send(self, cmd, payload=b''):
        if self.sock is None:
            self.open()
        data = struct.pack('>I', len(payload) + 1) + cmd + payload
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError()
            buf += chunk
        return buf

    def read_packet(self):
        """(command byte, payload); raises EOFError or socket.timeout"""
        (length,) = struct.unpack('>I', self.recv_exact(4))
        if length < 1 or length > 1 << 24:
            raise ProtocolError('bad reply length %d' % length)
        body = self.recv_exact(length)
        return body[:1], body[1:]

    def reply(self):
        """the final reply to a command as a text; modifications and progress are listed"""
        if self.eof or self.sock is None:
            return 'EOF'
        mods = []
        try:
            while True:
                cmd, payload = self.read_packet()
                if cmd == b'p':
                    continue
                if cmd in MODS:
                    mods.append('%s[%s]' % (MODS[cmd], printable(payload.rstrip(b'\0'))))
                    continue
                if cmd not in FINAL:
                    raise ProtocolError('unexpected reply %r' % cmd)
                text = FINAL[cmd]
                if cmd == b'y':
                    text += ' ' + printable(payload[:-1] if payload.endswith(b'\0')
                                            else payload)
                return ' '.join([text] + mods)
        except EOFError:
            self.eof = True
            return 'EOF'
        except socket.timeout:
            return 'TIMEOUT'
        except ConnectionResetError:
            self.eof = True
            return 'EOF'

    def optneg(self, offer):
        self.send(b'O', struct.pack('>III', 6, 0x1ff, offer))
        try:
            cmd, payload = self.read_packet()
        except EOFError:
            self.eof = True
            return ['optneg EOF']
        if cmd != b'O' or len(payload) < 12:
            raise ProtocolError('bad OPTNEG reply %r' % cmd)
        version, actions, proto = struct.unpack('>III', payload[:12])
        self.proto = proto
        out = ['optneg version=%d actions=0x%x protocol=0x%x' % (version, actions, proto)]
        rest = payload[12:]
        while len(rest) >= 4:
            (stage,) = struct.unpack('>I', rest[:4])
            names, _, rest = rest[4:].partition(b'\0')
            out.append('symlist %s %s' % (STAGES.get(stage, str(stage)), printable(names)))
        return out

    def step(self, name, payload):
        cmd, skip_flag, nr_flag = STEPS[name]
        if skip_flag and self.proto & SMFIP[skip_flag]:
            return '%s SKIPPED' % name
        self.send(cmd, payload)
        if nr_flag and self.proto & SMFIP[nr_flag]:
            return '%s NOREPLY' % name
        return '%s %s' % (name, self.reply())

    def alive(self):
        if self.sock is None or self.eof:
            return False
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
            return len(data) > 0
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.sock.settimeout(self.timeout)


def nul_join(args):
    return b''.join(a + b'\0' for a in args)


def run(client, line):
    words = line.split()
    op, args = words[0], [unescape(w) for w in words[1:]]
    if op == 'optneg':
        offer = int(words[1], 16) if len(words) > 1 else 0x1fffff
        return client.optneg(offer)
    if op == 'macro':
        payload = args[0][:1]
        for a in args[1:]:
            name, _, value = a.partition(b'=')
            payload += name + b'\0' + value + b'\0'
        client.send(b'D', payload)
        return []
    if op == 'connect':
        host, addr = args[0], args[1]
        port = int(args[2]) if len(args) > 2 else 54321
        family = b'6' if b':' in addr else b'4'
        return [client.step('connect', host + b'\0' + family + struct.pack('>H', port)
                            + addr + b'\0')]
    if op == 'helo':
        return [client.step('helo', args[0] + b'\0')]
    if op in ('mail', 'rcpt'):
        return [client.step(op, nul_join(args))]
    if op == 'rcpts':
        n, pattern = int(words[1]), words[2]
        counts, first, last = {}, None, None
        for i in range(1, n + 1):
            r = client.step('rcpt', unescape(pattern.replace('%d', str(i))) + b'\0')
            r = r.split(' ', 1)[1]
            kind = r.split(' ', 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
            first = first or r
            last = r
            if kind in ('EOF', 'TIMEOUT'):
                break
        return ['rcpts %d %s first=%s last=%s' % (
            sum(counts.values()), ' '.join('%s=%d' % kv for kv in sorted(counts.items())),
            first, last)]
    if op == 'data':
        return [client.step('data', b'')]
    if op == 'eom':
        return [client.step('eom', b'')]
    if op == 'abort':
        client.send(b'A')
        return []
    if op == 'quit':
        client.send(b'Q')
        client.close()
        return []
    if op == 'close':
        client.close()
        return []
    if op in ('raw', 'rawnr'):
        client.send(args[0][:1], args[1] if len(args) > 1 else b'')
        return ['raw ' + client.reply()] if op == 'raw' else []
    if op == 'bytes':
        if client.sock is None:
            client.open()
        client.sock.sendall(bytes.fromhex(words[1]))
        return []
    if op == 'open':
        client.open()
        return []
    if op == 'alive':
        return ['alive ' + ('yes' if client.alive() else 'no')]
    raise ProtocolError('unknown command ' + op)


def main():
    spec, timeout = None, 10.0
    argv = sys.argv[1:]
    while argv:
        a = argv.pop(0)
        if a == '-s' and argv:
            spec = argv.pop(0)
        elif a == '-t' and argv:
            timeout = float(argv.pop(0))
        else:
            spec = None
            break
    if spec is None:
        sys.stderr.write('usage: milter-client.py -s SOCKET [-t SECONDS] < SCRIPT\n')
        return 2
    client = Client(spec, timeout)
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            for out in run(client, line):
                print(out, flush=True)
    except (ProtocolError, OSError, ValueError, IndexError) as e:
        print('error %s' % e, flush=True)
        return 2
    finally:
        client.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
