"""Rule patterns against catastrophic backtracking: the desk's RE2 engine
(`shared.automation.rules.pattern_holds`, on the 20,000 characters a rule may read)
beside the standard library's `re` on a few dozen characters.

    python -m bench.regex_rules
"""

from __future__ import annotations

import re
import time

from shared.automation.rules import pattern_holds

PATTERNS = (r"(a+)+$", r"^(\w+\s?)*$", r"(x+x+)+y", r"(a|aa)+$")


def main() -> None:
    text = "a" * 20_000 + "!"
    for pattern in PATTERNS:
        started = time.perf_counter()
        pattern_holds(pattern, text)
        print(f"RE2 {pattern!r} on {len(text):,} characters: "
              f"{1000 * (time.perf_counter() - started):.2f} ms")
    for n in (20, 22, 24):
        started = time.perf_counter()
        re.search(r"(a+)+$", "a" * n + "!")
        print(f"stdlib re '(a+)+$' on {n + 1} characters: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
