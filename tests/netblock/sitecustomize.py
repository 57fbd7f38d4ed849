"""Loaded by every Python process started with this folder on PYTHONPATH: no network.

Connections to anything but the loopback interface raise ``OSError``, and every attempt
is appended to the file named by ``$NETBLOCK_LOG`` so a test can prove none was made.
The notebook kernel itself talks to papermill over loopback, which stays allowed.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("NETBLOCK_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _note(what):
    if _LOG:
        with open(_LOG, "a") as handle:
            handle.write(f"{os.getpid()} {what}\n")


def _is_loopback(host):
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_connect, _connect_ex, _getaddrinfo = (socket.socket.connect, socket.socket.connect_ex,
                                       socket.getaddrinfo)


def _guard(address):
    if isinstance(address, tuple) and not _is_loopback(str(address[0])):
        _note(f"connect {address[0]}:{address[1]}")
        raise OSError(101, f"Network is blocked in this test (tried {address[0]}:{address[1]})")


def connect(self, address):
    _guard(address)
    return _connect(self, address)


def connect_ex(self, address):
    _guard(address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(str(host)):
        _note(f"resolve {host}")
        raise socket.gaierror(socket.EAI_NONAME,
                              f"Name resolution is blocked in this test ({host})")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = (connect, connect_ex,
                                                                       getaddrinfo)
