"""Attachment names as senders give them, and what the desk keeps and shows."""

import pytest

from shared.core.filenames import MAX_CHARS, safe_filename


@pytest.mark.parametrize("given,kept", [
    ("C:\\Users\\ada\\report.pdf", "report.pdf"),   # a Windows path
    ("../../etc/passwd", "passwd"),                   # no way out of the folder
    ("D:evil.exe", "evil.exe"),                        # a drive letter alone
    ("  ..hidden.txt.. ", "hidden.txt"),               # no leading or trailing dots, spaces
    ("inv\u202eoice_fdp.exe", "invoice_fdp.exe"),     # a right-to-left override cannot hide .exe
    ("a\r\nBcc: x.txt", "aBcc: x.txt"),                # no line break to split a header
    ("résumé.docx", "résumé.docx"),                    # real names stay as they are
])
def test_only_a_plain_last_component_is_kept(given: str, kept: str):
    assert safe_filename(given) == kept


@pytest.mark.parametrize("given", ["", "...", " / ", "C:", "\u200b"])
def test_nothing_usable_gives_an_empty_name(given: str):
    assert safe_filename(given) == ""


def test_a_long_name_is_cut_but_keeps_a_short_extension():
    kept = safe_filename("x" * 300 + ".pdf")
    assert len(kept) <= MAX_CHARS and kept.endswith(".pdf")
    cut = safe_filename("x" * 300 + ".averyveryverylongextension")
    assert len(cut) == MAX_CHARS and cut == "x" * MAX_CHARS
