"""Dovecot's files for the local desk and the tests: its configuration, its accounts and
its mail folders, all under one data folder.

Dovecot 2.3 comes from Debian's `dovecot-imapd` (the Makefile installs it). It runs as the
user who starts it, with the configuration rendered here from `devtools/dovecot.conf`:

    <data>/dovecot.conf             the configuration (rewritten at every start)
    <data>/dovecot-oauth2.conf.ext  the oauth2 passdb's settings, when a token service is set
    <data>/users                    the accounts, a passwd-file
    <data>/mail/<domain>/<local>/   each account's home, its maildir in Maildir/
    <data>/tls/                     the self-signed certificate for STARTTLS and imaps
    <data>/run, <data>/state        Dovecot's sockets and state

`devtools.services.dovecot` starts it; `devtools.tokens` is the token service its oauth2
passdb asks.
"""

from __future__ import annotations

import grp
import math
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from string import Template

BINARY = Path("/usr/sbin/dovecot")
TEMPLATE = Path(__file__).resolve().parent / "dovecot.conf"

# Account names go into a colon-separated file and a path: keep them to plain addresses.
_USER = re.compile(r"^[a-z0-9._+-]+@[a-z0-9.-]+$")


class DovecotError(RuntimeError):
    """Dovecot's files could not be written, or an account name is not usable."""


def config_path(data: Path) -> Path:
    return data / "dovecot.conf"


def users_path(data: Path) -> Path:
    return data / "users"


def home(data: Path, user: str) -> Path:
    local, domain = _check_user(user).split("@")
    return data / "mail" / domain / local


def folder_path(data: Path, user: str, folder: str = "INBOX") -> Path:
    """The maildir folder of `folder` (Maildir++ layout: INBOX at the root, others as
    `.Name`, `/` in a name becoming `.`)."""
    maildir = home(data, user) / "Maildir"
    if folder.upper() == "INBOX":
        return maildir
    return maildir / ("." + folder.replace("/", "."))


def _check_user(user: str) -> str:
    user = user.lower()
    if not _USER.match(user):
        raise DovecotError(f"not a usable account name: {user!r} (expected local@domain)")
    return user


def add_user(data: Path, user: str, password: str) -> None:
    """Create the account (or change its password) and its empty INBOX. A running Dovecot
    sees the change within a second (it looks at the file's mtime and size at most once a
    second)."""
    user = _check_user(user)
    if any(c in password for c in ":\n\r\0"):
        raise DovecotError("a password here cannot hold ':', a line break or NUL")
    path = users_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if line.split(":", 1)[0] != user]
    lines.append(f"{user}:{{PLAIN}}{password}::::::")
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.chmod(0o600)
    _own(temporary)
    # Dovecot reloads the file when its mtime (in whole seconds) or size changes: a second
    # account of the same length added within the second would go unseen without this.
    previous = path.stat().st_mtime if path.exists() else 0.0
    stamp = max(time.time(), math.floor(previous) + 1.0)
    os.utime(temporary, (stamp, stamp))
    temporary.replace(path)  # a login never reads half a file
    maildir = folder_path(data, user)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for path in (maildir.parent.parent, maildir.parent, maildir, *(maildir / s for s in
                                                                      ("cur", "new", "tmp"))):
        _own(path)


def write_config(data: Path, *, imap_port: int, imaps_port: int,
                 introspection_url: str | None = None) -> Path:
    """Render the configuration for this data folder and these ports; with
    `introspection_url`, XOAUTH2 and OAUTHBEARER logins are checked against it (RFC 7662
    token introspection, POST token=...; user:password in the URL for Basic auth)."""
    if not BINARY.exists():
        raise DovecotError(f"{BINARY} is missing: install Debian's dovecot-imapd "
                           "(`make install` does it)")
    data = data.resolve()
    for sub in ("run", "state", "mail", "tls"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    users_path(data).touch(mode=0o600, exist_ok=True)
    _own(users_path(data))
    _ensure_certificate(data / "tls")
    oauth2 = ""
    if introspection_url:
        ext = data / "dovecot-oauth2.conf.ext"
        ext.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {introspection_url}\n"
            # No tokeninfo URL: every token goes to introspection, which says whose it is.
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
            "timeout_msecs = 5000\n"
        )
        ext.chmod(0o600)
        _own(ext)
        oauth2 = ("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                  f"  args = {ext}\n}}")
    if os.getuid() == 0:
        _check_reachable(data)
        data.chmod(0o711)  # the mail owner must reach data/mail
        _own(data / "mail")
    text = Template(TEMPLATE.read_text()).substitute(
        data=str(data), instance=str(imap_port), imap_port=imap_port, imaps_port=imaps_port,
        **_process_users(),
        oauth2_passdb=oauth2, oauth2_mechanisms=" xoauth2 oauthbearer" if oauth2 else "",
    )
    path = config_path(data)
    path.write_text(text)
    return path


def mail_owner() -> tuple[int, int]:
    """The uid and gid mail is read and written as: the user who starts Dovecot. Dovecot
    refuses root for mail and for its login processes, so when root starts it (a
    container, say) mail and Dovecot's own processes belong to Debian's `dovecot` user
    and logins run as `dovenull`."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    account = pwd.getpwnam("dovecot")
    return account.pw_uid, account.pw_gid


def _process_users() -> dict[str, str | int]:
    uid, gid = mail_owner()
    name = pwd.getpwuid(uid).pw_name
    return {"uid": uid, "gid": gid, "user": name, "group": grp.getgrgid(gid).gr_name,
            "login_user": "dovenull" if os.getuid() == 0 else name}


def _check_reachable(data: Path) -> None:
    """Root's data folder must be reachable by the mail owner (pytest's own temporary
    folders, for one, are private to their user)."""
    uid, _gid = mail_owner()
    for parent in data.parents:
        info = parent.stat()
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            raise DovecotError(
                f"Dovecot's data folder {data} is under {parent}, which its mail user "
                f"({pwd.getpwuid(uid).pw_name}) cannot enter: choose a folder outside it")


def _own(path: Path) -> None:
    """Give `path` to the mail owner (only root has anything to give)."""
    if os.getuid() == 0:
        os.chown(path, *mail_owner())


def _ensure_certificate(folder: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost, made once per data folder."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DovecotError("openssl is missing: it makes Dovecot's self-signed certificate")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "3650", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    key.chmod(0o600)


def remove_folder_indexes(data: Path, user: str, folder: str = "INBOX") -> None:
    """Forget the folder's UIDs (Dovecot must be stopped): the next start gives it a new
    UIDVALIDITY and numbers its messages again, as a server that lost its indexes does."""
    path = folder_path(data, user, folder)
    if not path.is_dir():
        raise DovecotError(f"no folder {folder!r} for {user}")
    for item in path.iterdir():
        if item.name == "dovecot-uidlist" or item.name.startswith("dovecot.index"):
            item.unlink()
