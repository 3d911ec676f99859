#!/usr/bin/env python3
"""Every command of a writable netkit ftp server, driven by Python's ftplib.

Usage: ftplib_commands.py HOST PORT ROOT OUTSIDE
ROOT is the server's directory (writable, no --overwrite) holding big.bin,
one, sub/a.txt, .hidden and the symlink out -> OUTSIDE. Prints
"ftplib commands: OK" and exits 0 when everything behaved; any failure
raises (non-zero exit).
"""
import ftplib
import io
import os
import socket
import stat
import sys


def refused(code, fn, *args):
    """fn(*args) must fail with an FTP error reply starting with code."""
    try:
        fn(*args)
    except ftplib.all_errors as e:
        assert str(e).startswith(code), "%s%r: %s (wanted %s)" % (fn.__name__, args, e, code)
        return
    raise AssertionError("%s%r worked, wanted %s" % (fn.__name__, args, code))


def listing(root, rel="."):
    return sorted(os.listdir(os.path.join(root, rel)))


def main():
    host, port, root, outside = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(os.path.join(root, "big.bin"), "rb") as f:
        big = f.read()
    outside_before = listing(outside)

    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    assert ftp.sendcmd("HELP").startswith("214"), "HELP before login"
    ftp.login()

    # MKD/XMKD, CWD, MKD of an existing name.
    assert ftp.mkd("newdir") == "/newdir"
    refused("550", ftp.mkd, "newdir")
    assert ftp.sendcmd("XMKD newdir/x").startswith('257 "/newdir/x"')
    ftp.cwd("newdir")

    # STOR, APPE (atomic, onto an existing file and a new one), STOU.
    first, more = os.urandom(200_000), os.urandom(100_001)
    ftp.storbinary("STOR a.bin", io.BytesIO(first))
    ftp.storbinary("APPE a.bin", io.BytesIO(more))
    with open(os.path.join(root, "newdir", "a.bin"), "rb") as f:
        assert f.read() == first + more, "APPE result differs"
    ftp.storbinary("APPE fresh.bin", io.BytesIO(b"new"))
    assert open(os.path.join(root, "newdir", "fresh.bin"), "rb").read() == b"new"
    refused("553", ftp.storbinary, "STOR a.bin", io.BytesIO(b"x"))
    for expected in ("a.bin.1", "a.bin.2"):
        data_host, data_port = ftp.makepasv()
        conn = socket.create_connection((data_host, data_port), timeout=10)
        resp = ftp.sendcmd("STOU a.bin")
        assert resp == "150 FILE: " + expected, resp
        conn.sendall(b"unique")
        conn.close()
        assert expected in ftp.voidresp()
        assert open(os.path.join(root, "newdir", expected), "rb").read() == b"unique"

    # REST + STOR resumes an upload (a pure append needs no --overwrite).
    whole = os.urandom(50_000)
    ftp.storbinary("STOR half.bin", io.BytesIO(whole[:20_000]))
    ftp.storbinary("STOR half.bin", io.BytesIO(whole[20_000:]), rest=20_000)
    assert open(os.path.join(root, "newdir", "half.bin"), "rb").read() == whole
    refused("553", ftp.storbinary, "STOR half.bin", io.BytesIO(b"x"), 8192, None, 10)
    refused("554", ftp.storbinary, "STOR half.bin", io.BytesIO(b"x"), 8192, None, 10**9)
    ftp.delete("half.bin")

    # RNFR/RNTO: rename, refusals, RNTO without RNFR.
    ftp.rename("a.bin", "b.bin")
    assert "b.bin" in ftp.nlst() and "a.bin" not in ftp.nlst()
    refused("553", ftp.rename, "b.bin", "fresh.bin")  # exists, no --overwrite
    refused("550", ftp.rename, "nothere", "c.bin")
    refused("503", ftp.sendcmd, "RNTO c.bin")
    assert ftp.sendcmd("RNFR b.bin").startswith("350")
    assert ftp.sendcmd("NOOP").startswith("200")
    refused("503", ftp.sendcmd, "RNTO c.bin")  # RNTO must come right after RNFR
    ftp.rename("/newdir/x", "/moved")  # a directory, across directories
    assert os.path.isdir(os.path.join(root, "moved"))
    refused("550", ftp.rename, "/moved", "/moved/inside")

    # DELE, RMD/XRMD.
    ftp.delete("fresh.bin")
    refused("550", ftp.delete, "fresh.bin")
    refused("550", ftp.delete, "/moved")  # a directory
    refused("550", ftp.rmd, "b.bin")  # a file
    ftp.cwd("/")
    refused("550", ftp.rmd, "newdir")  # not empty
    assert ftp.sendcmd("XRMD moved").startswith("250")
    for name in ("b.bin", "a.bin.1", "a.bin.2"):
        ftp.delete("newdir/" + name)
    ftp.rmd("newdir")
    assert not os.path.exists(os.path.join(root, "newdir"))
    refused("550", ftp.rmd, "/")

    # The jail: .., hidden names, symlinks out, deceptive names.
    ftp.mkd("d")
    ftp.cwd("d")
    assert ftp.mkd("../../../up") == "/up"  # .. stops at the root
    ftp.cwd("/")
    assert os.path.isdir(os.path.join(root, "up"))
    for fn, arg, code in [
        (ftp.mkd, ".hidden-dir", "553"),
        (ftp.delete, ".hidden", "550"),
        (ftp.delete, "out", "550"),
        (ftp.delete, "out/secret", "550"),
        (ftp.mkd, "out/evil", "550"),
        (ftp.rmd, "out", "550"),
        (ftp.mkd, "gpj\u202e.exe", "553"),
        (ftp.mkd, "tab\there", "553"),
    ]:
        refused(code, fn, arg)
    refused("553", ftp.storbinary, "STOR gpj\u202e.exe", io.BytesIO(b"x"))
    refused("553", ftp.storbinary, "STOR .profile", io.BytesIO(b"x"))
    refused("550", ftp.storbinary, "STOR out/evil", io.BytesIO(b"x"))
    refused("553", ftp.storbinary, "APPE .hidden", io.BytesIO(b"x"))
    refused("553", ftp.storbinary, "STOU .x", io.BytesIO(b"x"))
    refused("553", ftp.rename, "one", ".one")
    refused("550", ftp.rename, "out", "out2")
    refused("550", ftp.rename, "one", "out/one")
    refused("550", ftp.sendcmd, "SITE CHMOD 777 out/secret")
    assert os.path.exists(os.path.join(root, ".hidden"))
    assert listing(outside) == outside_before, "something changed outside the root"

    # STAT (server, file, directory), HELP, SITE, ALLO, MODE, STRU.
    status = ftp.sendcmd("STAT")
    assert status.startswith("211-") and "Logged in as anonymous" in status, status
    s = ftp.sendcmd("STAT one")
    assert s.startswith("213-") and s.rstrip().endswith("213 End of status"), s
    assert " one" in s, s
    s = ftp.sendcmd("STAT /")
    assert " big.bin" in s and " sub" in s and "hidden" not in s, s
    refused("550", ftp.sendcmd, "STAT nothere")
    h = ftp.sendcmd("HELP")
    assert h.startswith("214-") and "RNFR" in h and "EPRT" in h, h
    assert ftp.sendcmd("HELP dele").startswith("214")
    refused("502", ftp.sendcmd, "HELP BOGUS")
    assert "CHMOD" in ftp.sendcmd("SITE HELP")
    assert ftp.sendcmd("SITE CHMOD 600 one").startswith("200")
    assert stat.S_IMODE(os.stat(os.path.join(root, "one")).st_mode) == 0o600
    refused("501", ftp.sendcmd, "SITE CHMOD 4755 one")
    refused("500", ftp.sendcmd, "SITE BOGUS")
    assert ftp.sendcmd("MFMT 20200102030405 one") == "213 Modify=20200102030405; one"
    assert int(os.stat(os.path.join(root, "one")).st_mtime) == 1577934245
    assert ftp.sendcmd("MDTM one") == "213 20200102030405"
    refused("501", ftp.sendcmd, "MFMT 20201340000000 one")
    refused("501", ftp.sendcmd, "MFMT one")
    refused("550", ftp.sendcmd, "MFMT 20200102030405 sub")
    refused("550", ftp.sendcmd, "MFMT 20200102030405 out/secret")
    assert ftp.sendcmd("ALLO 1000").startswith("202")
    assert ftp.sendcmd("MODE S").startswith("200")
    assert ftp.sendcmd("STRU F").startswith("200")

    # MLSD/MLST facts say what this (writable, no overwrite) server allows.
    facts = dict(ftp.mlsd())
    assert facts["one"]["perm"] == "adfr", facts["one"]
    assert facts["one"]["unix.mode"] == "0600", facts["one"]
    assert facts["sub"]["perm"] == "cdeflmp", facts["sub"]
    assert "perm=celmp;" in ftp.sendcmd("MLST /")

    # ABOR: no transfer; during a download; during an upload.
    assert ftp.abort().startswith("225")
    # A file far larger than the socket buffers, so the transfer is running
    # when ABOR comes (sparse: no disk used).
    with open(os.path.join(root, "huge.bin"), "wb") as f:
        f.truncate(1 << 30)
    conn = ftp.transfercmd("RETR huge.bin")
    assert conn.recv(65536)
    resp = ftp.abort()
    assert resp.startswith("426"), resp
    assert ftp.voidresp().startswith("226")
    conn.close()
    assert ftp.pwd() == "/"
    os.remove(os.path.join(root, "huge.bin"))
    conn = ftp.transfercmd("STOR cut.bin")
    conn.sendall(os.urandom(300_000))
    resp = ftp.abort()
    assert resp.startswith("426"), resp
    assert ftp.voidresp().startswith("226")
    conn.close()
    assert "cut.bin" not in ftp.nlst()
    assert not [n for n in os.listdir(root) if n.startswith(".netkit")], os.listdir(root)

    # Active mode (PORT), download and upload; the bounce attack is refused.
    ftp.set_pasv(False)
    got = io.BytesIO()
    ftp.retrbinary("RETR big.bin", got.write)
    assert got.getvalue() == big, "active download differs"
    ftp.storbinary("STOR active.bin", io.BytesIO(b"active"))
    assert open(os.path.join(root, "active.bin"), "rb").read() == b"active"
    refused("500", ftp.sendcmd, "PORT 10,1,2,3,19,137")
    refused("500", ftp.sendcmd, "EPRT |1|192.0.2.1|5000|")
    refused("504", ftp.sendcmd, "PORT 127,0,0,1,0,25")
    refused("501", ftp.sendcmd, "PORT 1,2,3")
    refused("522", ftp.sendcmd, "EPRT |2|::1|5000|")
    refused("522", ftp.sendcmd, "EPRT |7|x|5000|")
    ftp.set_pasv(True)

    assert ftp.quit().startswith("221")
    print("ftplib commands: OK")


if __name__ == "__main__":
    main()
