#!/usr/bin/python3
"""asyncssh_peer.py - AsyncSSH (python3-asyncssh) as a peer of sshtun/sshtund.

Run with Debian's /usr/bin/python3 (python3 on PATH may lack the module).

  server PORT HOSTKEY AUTHKEYS REKEY
      An AsyncSSH server on 127.0.0.1:PORT that runs every exec request with
      /bin/sh -c, stdin/stdout/stderr piped, and reports its exit status;
      rekeys every REKEY bytes ("1M" style suffixes).  Prints "ready".

      Agent and X11 forwarding are allowed: a session that asked for them
      gets SSH_AUTH_SOCK / DISPLAY (and nothing of this process's own).

  client PORT USER KEY KNOWN_HOSTS REKEY COMMAND INFILE OUTFILE
      Connect to 127.0.0.1:PORT as USER with KEY, run COMMAND with INFILE
      ("-": nothing) as stdin and its stdout into OUTFILE, rekeying every
      REKEY bytes; prints the exit status ("signal-NAME" for exit-signal,
      "none" without either) and passes the command's stderr on.  On an
      error prints "error: ..." and exits 1.

  fwdclient PORT USER KEY KNOWN_HOSTS AGENT DISPLAY COMMAND
      Connect as above with agent forwarding from the agent socket AGENT
      and X11 forwarding of DISPLAY (each "-": none), run COMMAND and print
      its stdout and stderr, then its exit status as "rc=N".

Every run is bounded by the caller (timeout(1)).
"""
import asyncio
import os
import signal
import sys

import asyncssh


def size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if s and s[-1].upper() in mult:
        return int(s[:-1]) * mult[s[-1].upper()]
    return int(s)


async def run_command(process):
    """One exec request: /bin/sh -c COMMAND, streams copied both ways."""
    cmd = process.command
    if cmd is None:
        process.exit(127)
        return
    # XAUTHORITY stays: the server's X11 listener files the session's
    # cookie there (start the server with one of its own).
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "DISPLAY")}
    if process.channel.get_agent_path():
        env["SSH_AUTH_SOCK"] = process.channel.get_agent_path()
    if process.channel.get_x11_display():
        env["DISPLAY"] = process.channel.get_x11_display()
    local = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", cmd, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)

    async def pump_in():
        try:
            while True:
                d = await process.stdin.read(65536)
                if not d:
                    break
                local.stdin.write(d)
                await local.stdin.drain()
        except (BrokenPipeError, ConnectionResetError, asyncssh.Error):
            pass
        finally:
            try:
                local.stdin.close()
            except Exception:
                pass

    async def pump_out(src, dst):
        while True:
            d = await src.read(65536)
            if not d:
                break
            dst.write(d)
            await dst.drain()

    feeder = asyncio.ensure_future(pump_in())
    await asyncio.gather(pump_out(local.stdout, process.stdout),
                         pump_out(local.stderr, process.stderr))
    rc = await local.wait()
    feeder.cancel()
    if rc < 0:
        process.exit_with_signal(signal.Signals(-rc).name[3:])
    else:
        process.exit(rc)


class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def public_key_auth_supported(self):
        return True

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        return True

    def server_requested(self, listen_host, listen_port):
        return True


async def server(port, hostkey, authkeys, rekey):
    await asyncssh.create_server(
        Server, "127.0.0.1", int(port), server_host_keys=[hostkey],
        authorized_client_keys=authkeys, process_factory=run_command,
        rekey_bytes=size(rekey), encoding=None, allow_pty=False,
        agent_forwarding=True, x11_forwarding=True)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def client(port, user, key, known_hosts, rekey, command, infile, outfile):
    async with asyncssh.connect(
            "127.0.0.1", int(port), username=user, client_keys=[key],
            known_hosts=known_hosts, agent_path=None, rekey_bytes=size(rekey),
            config=None) as conn:
        err = bytearray()
        async with conn.create_process(command, encoding=None) as proc:
            async def feed():
                if infile != "-":
                    with open(infile, "rb") as f:
                        while True:
                            d = f.read(65536)
                            if not d:
                                break
                            proc.stdin.write(d)
                            await proc.stdin.drain()
                proc.stdin.write_eof()

            async def drain_err():
                while True:
                    d = await proc.stderr.read(65536)
                    if not d:
                        break
                    err.extend(d)

            async def drain_out():
                with open(outfile, "wb") as f:
                    while True:
                        d = await proc.stdout.read(65536)
                        if not d:
                            break
                        f.write(d)

            await asyncio.gather(feed(), drain_err(), drain_out())
            await proc.wait_closed()
            st = proc.exit_status
            if st is None or st < 0:
                sig = proc.exit_signal
                st = "signal-" + sig[0] if sig else "none"
        sys.stderr.write(err.decode(errors="replace"))
        print(st, flush=True)


async def fwdclient(port, user, key, known_hosts, agent, display, command):
    async with asyncssh.connect(
            "127.0.0.1", int(port), username=user, client_keys=[key],
            known_hosts=known_hosts, config=None,
            agent_path=None if agent == "-" else agent,
            agent_forwarding=agent != "-") as conn:
        kw = {}
        if display != "-":
            kw = {"x11_forwarding": True, "x11_display": display}
        result = await conn.run(command, check=False, **kw)
        sys.stdout.write(result.stdout)
        sys.stdout.write(result.stderr)
        print("rc=%s" % result.exit_status, flush=True)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        if mode == "server":
            asyncio.run(server(*args))
        elif mode == "client":
            asyncio.run(client(*args))
        elif mode == "fwdclient":
            asyncio.run(fwdclient(*args))
        else:
            sys.exit("unknown mode " + mode)
    except (OSError, asyncssh.Error) as e:
        print("error:", type(e).__name__, e, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
