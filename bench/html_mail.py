"""How long reading one HTML-only email takes, on hostile and ordinary HTML.

    python -m bench.html_mail [--sizes 10000 30000 60000] [--timeout 120]

Each case is a whole message through `shared.mail.inbound.message.parse_email` (text
version, sanitised HTML, attachments), in a child process with a time limit, so a quadratic
parser shows as a number or a timeout instead of hanging the run. Prints one line per
case: the HTML size in bytes and the seconds it took.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from email.message import EmailMessage

CASES = {
    # Unclosed start tags: the standard library's HTMLParser rescans the rest each time.
    "unclosed '<a '": lambda n: "<a " * (n // 3),
    "unclosed '<!--'": lambda n: "<!--" * (n // 4),
    "'</' runs": lambda n: "</" * (n // 2),
    "ordinary newsletter": lambda n: ("<table><tr><td><p>Hello <b>team</b>, see "
                                      "<a href='https://example.com/x'>this</a>.</p>"
                                      "</td></tr></table>\n") * (n // 110),
}


def _message(html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "help@example.com"
    msg["Subject"] = "html"
    msg.set_content(html, subtype="html")
    return bytes(msg)


def _parse(raw: bytes) -> None:
    from shared.mail.inbound.message import parse_email
    parse_email(raw)


def run(size: int, name: str, timeout: float) -> str:
    html = CASES[name](size)
    raw = _message(html)
    process = multiprocessing.Process(target=_parse, args=(raw,))
    started = time.perf_counter()
    process.start()
    process.join(timeout)
    took = time.perf_counter() - started
    if process.is_alive():
        process.kill()
        process.join()
        return f"{name:22} {len(html):>9} bytes  > {timeout:.0f} s (stopped)"
    return f"{name:22} {len(html):>9} bytes  {took:7.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 60_000])
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    for name in CASES:
        for size in args.sizes:
            print(run(size, name, args.timeout), flush=True)


if __name__ == "__main__":
    main()
