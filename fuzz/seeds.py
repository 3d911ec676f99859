#!/usr/bin/env python3
"""Writes the seed corpus, fuzz/corpus/<target>/<name>: small realistic inputs.

Run from fuzz/: python3 seeds.py. The input layouts are the ones the targets
document (a selector byte, for the session targets a 5-byte splitter).
"""
import os
import struct

ETAG = lambda size: '"%x.0-%x"' % (1_700_000_000, size)
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"

# Splitters: whole, byte by byte, pieces of up to 7, pieces of up to 512.
WHOLE = b"\0\0\0\0\0"
BYTES = b"\x01\x01\0\0\0"
SEVEN = b"\x07\x2a\0\0\0"
HALFK = b"\x02\x11\x22\x33\x44"

GET = b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n"
REQS = {
    "get": GET,
    "get10": b"GET / HTTP/1.0\r\n\r\n",
    "head": b"HEAD /big.bin HTTP/1.1\r\nHost: h\r\n\r\n",
    "pipelined": GET + b"GET /hi HTTP/1.1\r\nHost: h\r\n\r\nGET /page.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "post": b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
    "continue": b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    "range": b"GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=0-0,5-\r\n\r\n",
    "cond": ("GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: %s\r\nIf-Modified-Since: %s\r\n\r\n" % (ETAG(5), DATE)).encode(),
    "dir": b"GET /dir HTTP/1.1\r\nHost: h\r\n\r\nGET /list/?format=json HTTP/1.1\r\nHost: h\r\n\r\n",
    "gzip": b"GET /style.css HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, br\r\n\r\n",
    "absolute": b"GET http://h/api/x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n",
    "bad": b"GET /../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\nGET /%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "smuggle": b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "blank-lines": b"\r\n\r\nGET /in.txt HTTP/1.1\r\nHost: h\r\n\r\n",
}

def frame(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload

FILES = {
    "list-get-quit": frame("L") + frame("G b.txt") + frame("G big.dat") + frame("Q"),
    "upload": frame("P new.txt 10") + b"0123456789" + frame("L"),
    "upload-empty": frame("P e 0") + frame("G e"),
    "overwrite": frame("P b.txt 3") + b"abc" + frame("G b.txt"),
    "hostile": frame("G ../etc/passwd") + frame("G .hidden") + frame("G sub") + frame("P x -1") + frame("X"),
    "too-large": struct.pack(">I", 65537),
    "not-utf8": b"\0\0\0\x03G \xff" + frame("Q"),
}

def write(target, name, data):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

for name, r in REQS.items():
    write("http_head", name, r)
    for sname, s in (("whole", WHOLE), ("bytes", BYTES), ("seven", SEVEN)):
        if name in ("get", "pipelined", "chunked", "range", "post") or sname == "whole":
            write("http_session", f"{name}-{sname}", bytes([1]) + s + r)
write("http_session", "deadline", b"\x02" + WHOLE + b"GET /a.txt HTT")
write("http_head", "no-host", b"GET / HTTP/1.1\r\n\r\n")
write("http_head", "http2", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
write("http_head", "partial", b"GET /a HTTP/1.1\r\nHost: h\r\n")

CHUNKED = {
    "simple": b"3\r\nabc\r\n0\r\n\r\n",
    "ext-trailer": b"5;name=value\r\nhello\r\n0\r\nExpires: never\r\n\r\n",
    "bare-lf": b"2\nab\n0\n\n",
    "upper-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "bad-size": b"-1\r\nx\r\n",
    "missing-crlf": b"3\r\nabcX0\r\n\r\n",
    "too-large": b"fffffffffffffff\r\n",
}
for name, body in CHUNKED.items():
    for sname, s in (("whole", WHOLE), ("bytes", BYTES), ("seven", SEVEN)):
        write("http_chunked", f"{name}-{sname}", b"\x04" + s + body)

RANGES = ["bytes=0-0,5-", "bytes=0-4", "bytes=-3", "bytes=2-", "bytes=0-1,3-4,8-9",
          "bytes=100-200", "bytes=0-0,1-1", "items=0-1", "bytes=5-1", "bytes= 0 - 1 , -1"]
for i, r in enumerate(RANGES):
    write("http_range", f"range-{i}", bytes([i % 6]) + r.encode())
    write("http_range", f"range-{i}-ifrange", bytes([(i % 6) | 0x08]) + r.encode())
write("http_range", "head", bytes([0x82]) + b"bytes=0-0,5-")

COND = [
    ("%E", "", "", "", "", ""),
    ("", "%E", "", "", "", ""),
    ("", "*", "", "", "", ""),
    ("", "", "%D", "", "", ""),
    ("", "", "", "%D", "", ""),
    ("\"nope\"", "", "", "", "", ""),
    ("", "W/%E, \"x\"", "", "", "", ""),
    ("", "", "", "Thu, 01 Jan 1970 00:00:00 GMT", "", ""),
    ("", "", "", "", "%E", "bytes=0-1"),
    ("", "", "", "", "%D", "bytes=-2"),
    ("", "", "", "", "\"stale\"", "bytes=0-0,2-"),
    ("*", "", "Sun, 06 Nov 1994 08:49:37 GMT", "", "", ""),
]
for i, c in enumerate(COND):
    write("http_conditional", f"cond-{i}", bytes([i % 6]) + "\n".join(c).encode())

FRAMES = {
    "empty": b"",
    "one": frame("L"),
    "two": frame("G b.txt") + frame("Q"),
    "partial-head": b"\0\0",
    "partial-body": b"\0\0\0\x05ab",
    "huge": b"\xff\xff\xff\xff",
    "zero": b"\0\0\0\0",
}
for i, (name, f) in enumerate(FRAMES.items()):
    write("wire_frame", name, bytes([i % 7]) + f)

LINES = {
    "crlf": b"USER anonymous\r\nPASS x\r\n",
    "lf": b"NOOP\n",
    "empty": b"\r\n",
    "cr-only": b"abc\r",
    "long": b"x" * 200 + b"\n",
    "incomplete": b"LIST",
}
for i, (name, l) in enumerate(LINES.items()):
    write("wire_line", name, bytes([i % 7]) + l)

FTP = [
    b"USER anonymous\r\nPASS a@b\r\nSYST\r\nFEAT\r\nPWD\r\n",
    b"TYPE I\r\nTYPE A N\r\nTYPE L 8\r\nTYPE E\r\nMODE S\r\nSTRU F\r\n",
    b"PASV\r\nEPSV\r\nEPSV ALL\r\nLIST -la\r\nNLST\r\nMLSD dir\r\n",
    b"CWD /pub\r\nCDUP\r\nSIZE a.txt\r\nMDTM a.txt\r\nMLST a.txt\r\n",
    b"REST 100\r\nRETR a.txt\r\nREST x\r\nSTOR up.bin\r\nQUIT\r\n",
    b"OPTS UTF8 ON\r\nDELE x\r\nPORT 1,2,3,4,5,6\r\nbogus\r\nuser x\n",
]
for i, f in enumerate(FTP):
    write("ftp_command", f"session-{i}", f)

def dgram(who, text, secs=0):
    if isinstance(text, str):
        text = text.encode()
    return bytes([who | (secs << 3), len(text)]) + text

CHAT = {
    "join-say-quit": dgram(0, "L alice") + dgram(1, "L bob") + dgram(0, "C alice hi bob") + dgram(1, "C bob hello\n") + dgram(0, "Q alice"),
    "refusals": dgram(0, "L admin") + dgram(0, "L a:b") + dgram(0, "L alice") + dgram(1, "L ALICE") + dgram(1, "C alice forged") + dgram(2, "X"),
    "idle": dgram(0, "L alice") + dgram(1, "L bob") + dgram(1, "C bob still here", 15) + dgram(1, "C bob and now?", 15),
    "zh": dgram(3, "L 张三") + dgram(4, "L 李四") + dgram(3, "C 张三 你好"),
    "rejoin": dgram(0, "L alice") + dgram(0, "L Alice") + dgram(0, "L carol") + dgram(5, "Q alice") + dgram(5, "Q nobody"),
    "bad-utf8": dgram(0, b"L \xff\xfe") + dgram(0, b"C x \x00"),
}
for i, (name, c) in enumerate(CHAT.items()):
    flags = [0x03 | 0x0c, 0x01 | 0x08, 0x13 | 0x0c, 0x23 | 0x0c, 0x00, 0x0f][i]
    write("chat_datagram", name, bytes([flags]) + c)

for name, f in FILES.items():
    for flag, mode in ((6, "ro"), (4, "rw"), (5, "overwrite")):  # flags % 3 picks, & 4 is EOF
        for sname, s in (("whole", WHOLE), ("seven", SEVEN), ("halfk", HALFK)):
            if sname == "whole" or name in ("upload", "list-get-quit"):
                write("files_session", f"{name}-{mode}-{sname}", bytes([flag]) + s + f)
