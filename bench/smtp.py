"""What one email costs the sender over SMTP: a connection per mail against kept-open ones.

    python -m bench.smtp [--mails 300] [--runs 3]

Starts a MailDev of its own on free ports and sends the same acknowledgement-sized mails
through `SmtpMailer` twice: with `keep=0` (every mail opens, greets and quits its own
connection, as the mailer did before it kept connections) and with the default pool.
Prints the wall time and this process's CPU time per mail, medians of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from devtools import services
from shared.core.settings import MailSettings
from shared.mail.compose import compose
from shared.mail.smtp import SmtpMailer


async def per_mail(mailer: SmtpMailer, settings: MailSettings, mails: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per mail, sent one after another."""
    messages = [compose(settings=settings, to=f"bench-{i}@example.org", subject=f"[#{i}] Bench",
                        text="We have your request.\n" * 20, html="<p>We have your request.</p>" * 20,
                        message_id=f"<bench-{i}-{time.time_ns()}@example.com>")
                for i in range(mails)]
    await mailer.send(messages[0])  # warm-up (the pool's first connection)
    wall, cpu = time.perf_counter(), time.process_time()
    for message in messages:
        await mailer.send(message)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall * 1000 / mails, cpu * 1000 / mails


async def measure(mails: int, runs: int) -> dict[str, dict[str, float]]:
    smtp, web = services.free_ports(2)
    server = services.maildev(smtp=smtp, web=web, log_dir=Path(tempfile.mkdtemp(prefix="bench-smtp-")))
    server.start()
    settings = MailSettings(port=smtp)
    result: dict[str, dict[str, float]] = {}
    try:
        for label, keep in (("connection per mail", 0), ("kept-open connections", 4)):
            walls, cpus = [], []
            for _ in range(runs):
                mailer = SmtpMailer(settings, keep=keep)
                wall, cpu = await per_mail(mailer, settings, mails)
                await mailer.close()
                walls.append(wall)
                cpus.append(cpu)
            result[label] = {"wall_ms": round(statistics.median(walls), 2),
                             "cpu_ms": round(statistics.median(cpus), 2)}
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for label, figures in asyncio.run(measure(args.mails, args.runs)).items():
        print(f"{label}: {figures['wall_ms']} ms wall, {figures['cpu_ms']} ms CPU per mail")


if __name__ == "__main__":
    main()
