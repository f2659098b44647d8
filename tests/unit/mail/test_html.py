"""The one HTML-to-text path (its shape, linear time, the cap) and sanitising for display."""

from __future__ import annotations

import time

import pytest

from shared.mail.html import MAX_HTML_CHARS, sanitise, to_text


def test_html_to_text_keeps_its_shape():
    html = ("<html><head><style>p{}</style><title>t</title></head><body><h1>Title</h1>"
            "<p>One &amp; <b>two</b><br>three</p><ul><li>a</li><li>b</li></ul>"
            "<blockquote><p>quoted</p></blockquote><pre>  keep\n    this</pre>"
            "<script>alert(1)</script><!-- note --><p>5 &lt; 6</p></body></html>")
    assert to_text(html) == ("Title\n\nOne & two\nthree\n\n- a\n- b\n\n> quoted\n\n"
                             "  keep\n    this\n\n5 < 6")


@pytest.mark.parametrize("unit", ["<a ", "<!--", "</", "<a href='", "<![if "])
def test_hostile_html_is_read_in_linear_time(unit):
    def took(size: int) -> float:
        started = time.perf_counter()
        to_text(unit * (size // len(unit)))
        return time.perf_counter() - started

    small, large = took(50_000), took(400_000)
    # Eight times the input: the stdlib parser took about 64 times as long on "<a ".
    assert large < max(small * 24, 0.5), (small, large)


def test_html_beyond_the_cap_is_not_read():
    text = to_text("<p>start</p>" + "x" * MAX_HTML_CHARS + "<p>never read</p>")
    assert text.startswith("start") and "never read" not in text


def test_nested_quotes_keep_their_depth_and_blank_html_is_empty_text():
    assert to_text("<blockquote>one<blockquote>two</blockquote></blockquote>after") == (
        "> one\n>> two\n\nafter")
    assert to_text("  \n ") == ""


def test_sanitised_html_runs_nothing_and_links_open_no_window_reference():
    safe = sanitise('<p onclick="steal()">hi<script>alert(1)</script>'
                    '<a href="javascript:alert(1)">bad</a><a href="https://e.example/">ok</a></p>')
    assert "onclick" not in safe and "<script" not in safe and "alert" not in safe
    assert "javascript:" not in safe
    assert '<a href="https://e.example/" rel="noopener noreferrer nofollow">ok</a>' in safe
    assert "hi" in safe and "bad" in safe  # the text stays; only the danger goes


def test_sanitise_reads_no_further_than_the_cap():
    assert "late" not in sanitise("<p>" + "x" * MAX_HTML_CHARS + "late</p>")


def test_tables_links_and_lists_stay_readable():
    html = ('<p>Hosts:</p><table><tr><th>Host</th><th>Status</th></tr><tr><td>web1</td><td></td><td>down</td></tr>'
            '</table><ol><li>restart</li></ol><p>See <a href="https://status.example/x?a=1&amp;b=2">status</a>, '
            '<a href="https://kb.example/">https://kb.example/</a>, <a href="mailto:it@x.example">it@x.example</a>'
            ' and <a href="javascript:alert(1)">this</a>.</p>')
    assert to_text(html) == ("Hosts:\n\nHost | Status\nweb1 | down\n\n- restart\n\n"
                             "See status <https://status.example/x?a=1&b=2>, https://kb.example/, it@x.example"
                             " and this.")


def test_yahoos_quoting_div_reads_as_a_quote():
    html = ('<div>new</div><div class="yahoo_quoted" id="y1"><div>On Tue, Jane wrote:</div><div><div>old</div></div>'
            '</div><div class="other">after</div>')
    assert to_text(html) == "new\n> On Tue, Jane wrote:\n> old\nafter"
