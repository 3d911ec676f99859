#!/usr/bin/env python3
"""N FTP clients logging in at once: prints the seconds from the first
connect until every client has its 230 (then each QUITs, untimed).

Usage: ftp-logins.py HOST PORT [N=300] [USER=anonymous] [PASS=bench@]
One thread, non-blocking sockets and a selector, so the client itself costs
little next to the server. Exits 1 if any client fails to log in.
"""
import selectors
import socket
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    user = sys.argv[4] if len(sys.argv) > 4 else "anonymous"
    password = sys.argv[5] if len(sys.argv) > 5 else "bench@"
    # What each client sends after the reply with the given code.
    script = {"220": b"USER %s\r\n" % user.encode(), "331": b"PASS %s\r\n" % password.encode()}
    sel = selectors.DefaultSelector()
    start = time.perf_counter()
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_READ, [b"", i])
    logged_in, failed, last = 0, 0, start
    while logged_in + failed < n:
        events = sel.select(timeout=30)
        if not events:
            print("ftp-logins: timed out with %d of %d logged in" % (logged_in, n), file=sys.stderr)
            sys.exit(1)
        for key, _ in events:
            s, state = key.fileobj, key.data
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                failed += 1
                sel.unregister(s)
                s.close()
                continue
            state[0] += chunk
            while b"\r\n" in state[0]:
                line, state[0] = state[0].split(b"\r\n", 1)
                code = line[:3].decode(errors="replace")
                if line[3:4] == b"-":
                    continue
                if code in script:
                    s.sendall(script[code])
                elif code == "230":
                    logged_in += 1
                    last = time.perf_counter()
                    sel.unregister(s)
                    s.sendall(b"QUIT\r\n")
                    s.close()
                else:
                    failed += 1
                    sel.unregister(s)
                    s.close()
    if failed:
        print("ftp-logins: %d of %d clients failed" % (failed, n), file=sys.stderr)
        sys.exit(1)
    print("%.4f" % (last - start))


if __name__ == "__main__":
    main()
