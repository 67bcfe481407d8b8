"""A real SMTP server for the email tests, on aiosmtpd (PyPI, pinned by the test).

Settings come as one JSON object on the command line:
  out        directory each received message is written to (raw bytes, N.eml)
  security   "none", "starttls" (STARTTLS offered and required) or "tls" (implicit)
  cert, key  the server certificate and key (PEM) for "starttls" and "tls"
  user, password   when set, AUTH is required and only these credentials pass
  exclude    AUTH mechanisms not offered (["PLAIN"] leaves LOGIN)

Recipients steer the answers: a local part starting with "unknown" gets
"550 5.1.1 ... User unknown", "busy" gets "451 4.3.0 ...", "hang" gets no answer to
DATA at all.

Every event is one JSON line on standard output: {"event": "listening", "port": N}
first, then "connect" (with the connection's number), "auth" (the login that passed)
and "message" (the envelope, the parsed headers and parts, the file). The server stops
when standard input closes (the test process ended).
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

settings = json.loads(sys.argv[1])
out_dir = settings["out"]
os.makedirs(out_dir, exist_ok=True)
connections = 0
messages = 0


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == settings.get("user")
        and auth_data.password.decode() == settings.get("password")
    )
    emit({"event": "auth", "mechanism": mechanism, "ok": ok,
          "conn": getattr(server, "conn_id", None)})
    # handled=False: smtp_AUTH answers "535 5.7.8 Authentication credentials invalid"
    return AuthResult(success=ok, handled=False)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("unknown"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local.startswith("busy"):
            return f"451 4.3.0 <{address}>: Temporary lookup failure"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        global messages
        if any(a.split("@")[0].lower().startswith("hang") for a in envelope.rcpt_tos):
            await asyncio.sleep(3600)
        messages += 1
        raw = envelope.original_content
        path = os.path.join(out_dir, f"{messages}.eml")
        with open(path, "wb") as f:
            f.write(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "cte": part.get("Content-Transfer-Encoding"),
                "content": part.get_content(),
            })
        emit({
            "event": "message",
            "conn": server.conn_id,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content_type": msg.get_content_type(),
            "ascii": raw.isascii(),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "parts": parts,
            "file": path,
        })
        return "250 2.0.0 Ok: queued as 4Q7XYZ"


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings["cert"], settings["key"])
    return ctx


def factory():
    global connections
    connections += 1
    security = settings.get("security", "none")
    kwargs = {"hostname": "mx.test.example", "timeout": 30}
    if security == "starttls":
        kwargs.update(tls_context=tls_context(), require_starttls=True)
    if settings.get("user"):
        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_exclude_mechanism=settings.get("exclude", []),
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS the whole
            # connection is encrypted
            auth_require_tls=security != "tls",
        )
    server = SMTP(Handler(), **kwargs)
    server.conn_id = connections
    emit({"event": "connect", "conn": connections})
    return server


async def main():
    loop = asyncio.get_running_loop()
    security = settings.get("security", "none")
    srv = await loop.create_server(
        factory, "127.0.0.1", 0,
        ssl=tls_context() if security == "tls" else None,
    )
    emit({"event": "listening", "port": srv.sockets[0].getsockname()[1]})
    # stop when the test process goes away
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
