#!/usr/bin/env python3
"""Drives a netkit ftp server over explicit FTPS with Python's ftplib.FTP_TLS.

Usage: ftplib_tls.py CHECK HOST PORT ROOT CERT
ROOT is the server's directory (it must hold big.bin and be writable), CERT
the server's certificate (trusted, and checked against 127.0.0.1). CHECK is
one of:

  transfers     AUTH TLS, login, PROT P: LIST, NLST, RETR, STOR of a few MiB
                byte for byte, passive and active, every data connection
                resuming the control connection's session (TLS 1.3 and 1.2);
                then PROT C in clear; FEAT, STAT
  no-reuse      stock FTP_TLS (its data connections do not resume the
                session) gets 425 saying so; the control connection stays usable
  data-garbage  garbage and a stall instead of a data connection's handshake
                get 425; the control connection stays usable
  required      against --tls-required: no login before AUTH TLS, PROT C
                refused (534), a transfer without PROT P refused (521)
  abort         against --rate-limit: STAT and ABOR during a TLS download
                are read from the TLS control connection (213, then 426 and
                226); the control connection stays usable
  cert-sha256   prints the SHA-256 of the certificate AUTH TLS presents

Prints "ftplib-tls: OK" and exits 0 when everything behaved; any failure
raises (non-zero exit).
"""
import ftplib
import hashlib
import io
import os
import socket
import ssl
import sys


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS
    session (what lftp and curl do; stock ftplib does not, bpo-19500)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reused = []

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
            self.reused.append(conn.session_reused)
        return conn, size


def context(cert, tls12=False):
    ctx = ssl.create_default_context(cafile=cert)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def connect(cls, host, port, cert, tls12=False, login=True):
    ftp = cls(context=context(cert, tls12), timeout=15)
    ftp.connect(host, port)
    assert ftp.getwelcome().startswith("220"), ftp.getwelcome()
    resp = ftp.auth()
    assert resp.startswith("234"), resp
    if login:
        ftp.login()  # anonymous
    return ftp


def transfers(host, port, root, cert):
    with open(os.path.join(root, "big.bin"), "rb") as f:
        big = f.read()
    for tls12 in (False, True):
        ftp = connect(ReusingFTP_TLS, host, port, cert, tls12)
        want = "TLSv1.2" if tls12 else "TLSv1.3"
        assert ftp.sock.version() == want, ftp.sock.version()
        feat = ftp.sendcmd("FEAT").split("\n")
        for f in ("AUTH TLS", "PBSZ", "PROT"):
            assert " " + f in feat, feat
        assert ftp.prot_p().startswith("200")
        assert "Data connections: TLS" in ftp.sendcmd("STAT"), "STAT"

        names = ftp.nlst()
        assert "big.bin" in names, names
        lines = []
        ftp.retrlines("LIST", lines.append)
        assert any(l.endswith(" big.bin") for l in lines), lines
        got = io.BytesIO()
        ftp.retrbinary("RETR big.bin", got.write)
        assert got.getvalue() == big, "TLS download differs"
        tail = io.BytesIO()
        ftp.retrbinary("RETR big.bin", tail.write, rest=len(big) - 1000)
        assert tail.getvalue() == big[-1000:], "TLS REST download differs"

        name = "up12.bin" if tls12 else "up13.bin"
        data = os.urandom((3 << 20) + 17)
        ftp.storbinary("STOR " + name, io.BytesIO(data))
        with open(os.path.join(root, name), "rb") as f:
            assert f.read() == data, "TLS upload differs on the server"

        # Active mode: the server connects, and is still the TLS server.
        ftp.set_pasv(False)
        got = io.BytesIO()
        ftp.retrbinary("RETR big.bin", got.write)
        assert got.getvalue() == big, "active TLS download differs"
        ftp.set_pasv(True)

        assert ftp.reused and all(ftp.reused), ftp.reused
        count = len(ftp.reused)

        # PROT C: the same session, data in clear.
        assert ftp.prot_c().startswith("200")
        got = io.BytesIO()
        ftp.retrbinary("RETR big.bin", got.write)
        assert got.getvalue() == big, "clear download differs"
        assert "big.bin" in ftp.nlst()
        assert len(ftp.reused) == count, "PROT C made a TLS data connection"
        assert ftp.quit().startswith("221")
    print("ftplib-tls: OK")


def no_reuse(host, port, root, cert):
    ftp = connect(ftplib.FTP_TLS, host, port, cert)
    ftp.prot_p()
    reply = None
    try:
        ftp.nlst()
        raise AssertionError("a data connection without session reuse was served")
    except ftplib.error_temp as e:
        reply = str(e)
    except OSError:
        # The client saw the data connection close before the reply.
        try:
            ftp.getresp()
        except ftplib.error_temp as e:
            reply = str(e)
    assert reply and reply.startswith("425") and "reuse" in reply, reply
    # The control connection goes on.
    assert ftp.voidcmd("NOOP").startswith("200")
    ftp.prot_c()
    assert "big.bin" in ftp.nlst()
    ftp.quit()
    print("ftplib-tls: OK")


def expect_425(ftp, send):
    """Opens a passive data connection, asks for LIST, lets `send` misuse
    the data socket, and expects 425 on the control connection."""
    host, dport = ftp.makepasv()
    data = socket.create_connection((host, dport), timeout=15)
    ftp.putcmd("LIST")
    first = ftp.getresp()
    assert first.startswith("150"), first
    send(data)
    try:
        ftp.getresp()
        raise AssertionError("the transfer went on")
    except ftplib.error_temp as e:
        assert str(e).startswith("425"), e
        data.close()
        return str(e)


def data_garbage(host, port, root, cert):
    ftp = connect(ReusingFTP_TLS, host, port, cert)
    ftp.prot_p()
    why = expect_425(ftp, lambda s: s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 20))
    assert "TLS handshake" in why, why
    assert ftp.voidcmd("NOOP").startswith("200")
    # A handshake that never comes ends with the passive timeout.
    why = expect_425(ftp, lambda s: None)
    assert "TLS handshake" in why, why
    assert ftp.voidcmd("NOOP").startswith("200")
    # And real transfers still work on this control connection.
    assert "big.bin" in ftp.nlst()
    assert all(ftp.reused), ftp.reused
    ftp.quit()
    print("ftplib-tls: OK")


def required(host, port, root, cert):
    plain = ftplib.FTP(timeout=15)
    plain.connect(host, port)
    try:
        plain.login()
        raise AssertionError("logged in without TLS")
    except ftplib.error_perm as e:
        assert str(e).startswith("530") and "TLS" in str(e), e
    plain.close()

    ftp = connect(ReusingFTP_TLS, host, port, cert)
    try:
        ftp.prot_c()
        raise AssertionError("PROT C accepted under --tls-required")
    except ftplib.error_perm as e:
        assert str(e).startswith("534"), e
    # No PROT at all: data in clear is refused too.
    try:
        ftp.nlst()
        raise AssertionError("a clear data connection was served")
    except ftplib.error_perm as e:
        assert str(e).startswith("521"), e
    ftp.prot_p()
    assert "big.bin" in ftp.nlst()
    assert all(ftp.reused), ftp.reused
    ftp.quit()
    print("ftplib-tls: OK")


def abort(host, port, root, cert):
    ftp = connect(ReusingFTP_TLS, host, port, cert)
    ftp.prot_p()
    conn = ftp.transfercmd("RETR big.bin")
    assert conn.recv(1000), "no data"
    stat = ftp.sendcmd("STAT")
    assert stat.startswith("213") and "in progress" in stat, stat
    resp = ftp.abort()
    assert resp.startswith("426"), resp
    assert ftp.voidresp().startswith("226")
    conn.close()
    assert ftp.voidcmd("NOOP").startswith("200")
    assert "big.bin" in ftp.nlst()
    assert all(ftp.reused), ftp.reused
    ftp.quit()
    print("ftplib-tls: OK")


def cert_sha256(host, port, root, cert):
    ftp = connect(ReusingFTP_TLS, host, port, cert, login=False)
    der = ftp.sock.getpeercert(binary_form=True)
    print(hashlib.sha256(der).hexdigest())
    ftp.quit()


def main():
    check, host, port, root, cert = sys.argv[1:6]
    {
        "transfers": transfers,
        "no-reuse": no_reuse,
        "data-garbage": data_garbage,
        "required": required,
        "abort": abort,
        "cert-sha256": cert_sha256,
    }[check](host, int(port), root, cert)


if __name__ == "__main__":
    main()
