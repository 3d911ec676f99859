#!/usr/bin/env python3
"""Python's socketserver.ThreadingTCPServer echo, the peer `netkit bench echo --target` is compared with.

A thread per connection; each handler loops recv(65536) / sendall. Usage:
    python3 bench/peers/threading_echo.py [PORT]      # 0 (the default) picks a free port
Prints `listening on tcp://127.0.0.1:PORT` on stderr, stops on SIGINT/SIGTERM.
"""

import signal
import socket
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        sock = self.request
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                sock.sendall(data)
            except OSError:
                return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # The default backlog of 5 drops SYNs when 1000 clients connect at once;
    # use the same backlog as the tokio peer (1024).
    request_queue_size = 1024


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = Server(("127.0.0.1", port), EchoHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address
    print(f"python threading echo: listening on tcp://{host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
