"""The search words of a ticket and of a query (shared/core/words.py)."""

from shared.core.words import MAX_TOKENS, matches, query_tokens, ticket_tokens, words


def test_words_are_lower_case_without_accents_punctuation_or_stop_words():
    assert words("The Café's PRINTER is on fire!") == ["cafe", "printer", "fire"]
    assert words("<script>alert(1)</script>") == ["script", "alert", "script"]


def test_one_letter_words_are_dropped_and_long_ones_cut():
    assert words("a b c vpn") == ["vpn"]
    assert words("x" * 50) == ["x" * 30]


def test_a_tickets_tokens_are_distinct_subject_first_and_capped():
    tokens = ticket_tokens("Printer jams", "Ada Lovelace", "The printer jams on page two")
    assert tokens == ["printer", "jams", "ada", "lovelace", "page", "two"]
    many = " ".join(f"word{i}" for i in range(100))
    assert len(ticket_tokens(many, "Name", many)) == MAX_TOKENS


def test_only_the_start_of_the_description_counts():
    tokens = ticket_tokens("s1", "n1", "y" * 2000 + " hidden")
    assert "hidden" not in tokens


def test_a_query_reads_its_longest_word_first():
    assert query_tokens("vpn printer the vpn") == ["printer", "vpn"]
    assert query_tokens("the and") == []


def test_every_query_word_must_begin_a_ticket_word():
    assert matches(["print", "jam"], ["printer", "jams"])
    assert not matches(["print", "fax"], ["printer", "jams"])
    assert matches([], ["anything"])
