#!/usr/bin/env python3
"""pyftpdlib as the FTP benchmark's reference: anonymous, writable, on
127.0.0.1:PORT serving ROOT, with the same listen backlog as netkit (4096;
`python3 -m pyftpdlib` uses 100, which drops SYNs when 300 clients connect
at once). Its default single-process async server, no logging.

Usage: pyftpdlib-server.py PORT ROOT
"""
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    port, root = int(sys.argv[1]), sys.argv[2]
    logging.basicConfig(level=logging.ERROR)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root, perm="elradfmw")
    handler = FTPHandler
    handler.authorizer = authorizer
    server = FTPServer(("127.0.0.1", port), handler, backlog=4096)
    server.max_cons = 10000
    server.serve_forever()


if __name__ == "__main__":
    main()
