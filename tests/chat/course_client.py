#!/usr/bin/env python3
"""A chat client written the way the course writes it, from the wire contract
alone (docs/chat.md): it sends `L name`, `C name text` and `Q name`, and only
looks for the exact replies `OK` and `EXIT`; everything else is printed.

Usage: course_client.py HOST PORT

Reads names from stdin until one is accepted, then each stdin line is a
message; the line `quit` (or end of input) leaves. Output lines, for the test
to read:
    name refused: <reply>     a join that was not answered OK
    joined <name>
    < <datagram>              anything that arrived while in the room
    bye                       EXIT received after Q
"""

import socket
import sys
import threading


def main():
    server = (sys.argv[1], int(sys.argv[2]))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)

    name = None
    for line in sys.stdin:
        candidate = line.strip()
        if not candidate:
            continue
        sock.sendto(("L " + candidate).encode("utf-8"), server)
        reply = sock.recvfrom(2048)[0].decode("utf-8", "replace")
        if reply == "OK":
            name = candidate
            break
        print("name refused: " + reply, flush=True)
    if name is None:
        return 1
    print("joined " + name, flush=True)

    left = threading.Event()

    def receive():
        sock.settimeout(None)
        while True:
            data = sock.recvfrom(2048)[0].decode("utf-8", "replace")
            if data == "EXIT":
                left.set()
                return
            print("< " + data, flush=True)

    threading.Thread(target=receive, daemon=True).start()

    for line in sys.stdin:
        text = line.rstrip("\n")
        if text == "quit":
            break
        sock.sendto(("C " + name + " " + text).encode("utf-8"), server)
    sock.sendto(("Q " + name).encode("utf-8"), server)
    if left.wait(3):
        print("bye", flush=True)
        return 0
    print("no EXIT", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
