"""Quoted-history stripping measured on our reply corpus (tests/unit/mail/replies.py):
for the desk's parser and for the libraries we compared, the share of replies whose new
text came out exactly, with history left in, and with new text lost.

    python -m bench.replies [--failures] [--corpus PATH]

--corpus measures a JSON list of replies ({id, source, language, subject, body, html,
expected, forward}) instead, e.g. the public parsers' test suites (bench/README.md).

HTML bodies become text through the desk's one HTML-to-text path for every parser; the
text parsers then read that. quotequail also reads the HTML itself (its `quote_html`).
A library that is not installed is skipped (they are dev-only: requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from shared.mail.html import to_text
from shared.mail.inbound.quoted import is_reply_subject, strip_quoted
from tests.unit.mail.replies import CORPUS, Reply, judge

Parser = Callable[[Reply], str]


def _text(case: Reply) -> str:
    return to_text(case.body) if case.html else case.body


def ours(case: Reply) -> str:
    return strip_quoted(_text(case), is_reply=is_reply_subject(case.subject))


def _libraries() -> dict[str, Parser]:
    found: dict[str, Parser] = {}
    try:
        from mailparser_reply import EmailReplyParser
        from mailparser_reply.constants import MAIL_LANGUAGES
        every = EmailReplyParser(languages=[code for code in MAIL_LANGUAGES if code != "david"])
        found["mail-parser-reply"] = lambda case: every.read(_text(case)).replies[0].content
    except ImportError:
        pass
    try:
        import quotequail

        def quotequail_text(case: Reply) -> str:
            # unwrap: the text above the reply or forward it recognises (quote() keeps the attribution).
            if case.html:
                found_html = quotequail.unwrap_html(case.body)
                return to_text(found_html["html_top"]) if found_html and "html_top" in found_html else _text(case)
            found_text = quotequail.unwrap(case.body)
            return found_text["text_top"] if found_text and "text_top" in found_text else case.body
        found["quotequail"] = quotequail_text
    except ImportError:
        pass
    try:
        from email_reply_parser import EmailReplyParser as GitHubParser
        found["email-reply-parser"] = lambda case: GitHubParser.parse_reply(_text(case))
    except ImportError:
        pass
    return found


def load(path: Path) -> list[Reply]:
    """Replies from a JSON corpus kept outside the repository; the source is the family."""
    return [Reply(item["id"], item["language"], item["source"], item["subject"], item["body"], item["expected"],
                  html=item["html"], forward=item["forward"]) for item in json.loads(path.read_text("utf8"))]


def measure(parser: Parser, cases: list[Reply]) -> tuple[float, float, float, list[str]]:
    """(exact %, history-left %, new-text-lost %, ids of the cases not exact)."""
    exact = left = lost = 0
    failures = []
    for case in cases:
        try:
            got = parser(case)
        except Exception as exc:  # a library that fails on a case has lost its new text
            got = f"<{type(exc).__name__}>"
        is_exact, has_left, has_lost = judge(case, got or "")
        exact += is_exact
        left += has_left
        lost += has_lost
        if not is_exact:
            failures.append(f"{case.id}{' (history left)' if has_left else ''}{' (NEW TEXT LOST)' if has_lost else ''}")
    n = len(cases)
    return 100 * exact / n, 100 * left / n, 100 * lost / n, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", action="store_true", help="list the cases each parser got wrong")
    parser.add_argument("--corpus", type=Path, help="a JSON corpus to measure instead of ours")
    args = parser.parse_args()
    cases = load(args.corpus) if args.corpus else CORPUS
    languages = sorted({case.language for case in cases})
    print(f"{len(cases)} cases ({sum(c.forward for c in cases)} forwards, {sum(c.html for c in cases)} HTML), "
          f"{len(languages)} languages: {' '.join(languages)}")
    groups = sorted({case.family for case in cases}) if args.corpus else []
    print(f"{'parser':<20} {'exact':>7} {'history left':>13} {'new text lost':>14}")
    for name, run in {"desk (ours)": ours, **_libraries()}.items():
        exact, left, lost, failures = measure(run, cases)
        print(f"{name:<20} {exact:>6.1f}% {left:>12.1f}% {lost:>13.1f}%")
        for group in groups:  # per source corpus
            part = [case for case in cases if case.family == group]
            exact, left, lost, _ = measure(run, part)
            print(f"  {group + f' ({len(part)})':<18.18} {exact:>6.1f}% {left:>12.1f}% {lost:>13.1f}%")
        if args.failures:
            for failure in failures:
                print(f"    {failure}")


if __name__ == "__main__":
    main()
