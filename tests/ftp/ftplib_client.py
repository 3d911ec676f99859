#!/usr/bin/env python3
"""Drives a netkit ftp server with Python's standard ftplib.

Usage: ftplib_client.py HOST PORT ROOT
ROOT is the server's directory (to check downloads and uploads byte for byte);
it must hold big.bin and a subdirectory sub/. Prints "ftplib: OK" and exits 0
when everything behaved; any failure raises (non-zero exit).
"""
import ftplib
import io
import os
import sys


def main():
    host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(os.path.join(root, "big.bin"), "rb") as f:
        big = f.read()

    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    assert ftp.getwelcome().startswith("220"), ftp.getwelcome()
    ftp.login()  # anonymous
    assert ftp.pwd() == "/", ftp.pwd()
    assert "UTF8" in ftp.sendcmd("FEAT")

    names = ftp.nlst()
    assert "big.bin" in names and "sub" in names, names
    facts = dict(ftp.mlsd())
    assert facts["big.bin"]["type"] == "file", facts
    assert int(facts["big.bin"]["size"]) == len(big), facts
    assert facts["sub"]["type"] == "dir", facts
    assert ftp.size("big.bin") == len(big)
    assert ftp.sendcmd("MDTM big.bin").startswith("213 ")

    lines = []
    ftp.retrlines("LIST", lines.append)
    assert any(l.endswith(" big.bin") for l in lines), lines

    got = io.BytesIO()
    ftp.retrbinary("RETR big.bin", got.write)
    assert got.getvalue() == big, "download differs"

    tail = io.BytesIO()
    ftp.retrbinary("RETR big.bin", tail.write, rest=len(big) - 100)
    assert tail.getvalue() == big[-100:], "REST download differs"

    ftp.cwd("sub")
    assert ftp.pwd() == "/sub", ftp.pwd()
    data = os.urandom(300_000)
    ftp.storbinary("STOR from-ftplib.bin", io.BytesIO(data))
    with open(os.path.join(root, "sub", "from-ftplib.bin"), "rb") as f:
        assert f.read() == data, "upload differs on the server"
    try:
        ftp.storbinary("STOR from-ftplib.bin", io.BytesIO(b"again"))
        raise AssertionError("overwrote an existing file")
    except ftplib.error_perm as e:
        assert str(e).startswith("553"), e

    ftp.cwd("..")
    for bad in ("../../etc/passwd", "/../etc/passwd", "nothere"):
        try:
            ftp.retrbinary("RETR " + bad, lambda b: None)
            raise AssertionError("RETR %s worked" % bad)
        except ftplib.error_perm as e:
            assert str(e).startswith("550"), e
    try:
        ftp.sendcmd("DELE nothere")
        raise AssertionError("DELE of nothing worked")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e

    assert ftp.quit().startswith("221")
    print("ftplib: OK")


if __name__ == "__main__":
    main()
