"""Plays the service manager for tests/listen.rs: puts one descriptor at 3,
sets LISTEN_PID (this process, which exec keeps) and LISTEN_FDS, and execs
the command. Usage: activate.py KIND LISTEN_FDS COMMAND...

KIND is what descriptor 3 is:
  file            a regular file
  unbound-stream  a TCP socket that is not listening
  udp             a UDP socket bound to 127.0.0.1 (port printed)
  tcp             a listening TCP socket on 127.0.0.1 (port printed)
  tcp-reuseport   the same, with SO_REUSEPORT set
  closed          nothing: descriptor 3 is not open
"""
import os
import socket
import sys

kind, count, command = sys.argv[1], sys.argv[2], sys.argv[3:]
keep = None
if kind == "file":
    fd = os.open("/etc/hostname", os.O_RDONLY)
elif kind == "unbound-stream":
    keep = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fd = keep.fileno()
elif kind == "udp":
    keep = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep.bind(("127.0.0.1", 0))
    fd = keep.fileno()
elif kind in ("tcp", "tcp-reuseport"):
    keep = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    keep.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if kind == "tcp-reuseport":
        keep.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    keep.bind(("127.0.0.1", 0))
    keep.listen(128)
    fd = keep.fileno()
elif kind == "closed":
    fd = None
else:
    sys.exit(f"unknown kind {kind}")

if keep is not None and keep.family == socket.AF_INET:
    print(f"port {keep.getsockname()[1]}", file=sys.stderr, flush=True)
if fd is None:
    try:
        os.close(3)
    except OSError:
        pass
else:
    if fd != 3:
        os.dup2(fd, 3)
    os.set_inheritable(3, True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = count
os.execv(command[0], command)
