#!/usr/bin/env python3
"""A real FTP server (pyftpdlib) for authbridge's tests, on 127.0.0.1.

    ftpd.py --port N --users FILE --commands FILE --home DIR [--cert CRT --key KEY]

FILE of users: one JSON object per line, {"login": ..., "password": ...}.
With --cert/--key the server offers explicit FTPS (AUTH TLS) and requires it
before USER; without, it offers no TLS at all. Every command verb the server
receives is appended to the --commands file (never arguments: PASS carries the
password), so a test can prove from the server side what a client sent.
"""
import argparse
import json
import os

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--commands", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    os.makedirs(args.home, exist_ok=True)
    home = args.home
    authorizer = DummyAuthorizer()
    with open(args.users, encoding="utf-8") as users:
        for line in users:
            if line.strip():
                user = json.loads(line)
                authorizer.add_user(user["login"], user["password"], home, perm="elr")

    base = TLS_FTPHandler if args.cert else FTPHandler

    class Handler(base):
        def pre_process_command(self, line, cmd, arg):
            with open(args.commands, "a", encoding="utf-8") as log:
                log.write(cmd + "\n")
            return super().pre_process_command(line, cmd, arg)

    Handler.authorizer = authorizer
    # No delay after a wrong password: the tests send them on purpose.
    Handler.auth_failed_timeout = 0
    if args.cert:
        Handler.certfile = args.cert
        Handler.keyfile = args.key
        Handler.tls_control_required = True

    server = FTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
