"""The in-memory word index behind the knowledge base and the similar tickets."""

from shared.kb.searchindex import COMMON_FLOOR, WordIndex


def doc(doc_id: str, words: list[str], title_words: int = 0, public: bool = True) -> dict:
    return {"id": doc_id, "words": words, "title_words": title_words, "public": public}


def ids(ranked: list) -> list[str]:
    return [d["id"] for d, _ in ranked]


def test_prefixes_rarity_and_titles_decide_the_order():
    index = WordIndex()
    index.apply(doc("a", ["printer", "offline", "spooler"], title_words=2))
    index.apply(doc("b", ["driver", "printer"], title_words=1))
    index.apply(doc("c", ["password", "outlook"], title_words=2, public=False))
    assert ids(index.rank(["print", "offline"])) == ["a", "b"]      # "print" finds "printer"
    assert ids(index.rank(["pass"])) == ["c"]
    assert ids(index.rank(["pass"], public_only=True)) == []
    assert ids(index.rank(["printer"], leave_out="a")) == ["b"]


def test_a_new_state_replaces_the_old_and_gone_removes():
    index = WordIndex()
    index.apply(doc("a", ["vpn", "drops"]))
    index.apply(doc("a", ["wifi", "drops"]))
    assert ids(index.rank(["vpn"])) == [] and ids(index.rank(["wifi"])) == ["a"]
    index.apply({"id": "a", "gone": True})
    assert ids(index.rank(["drops"])) == [] and index.docs == {}
    index.apply(doc("b", ["x1"]))
    index.reset()
    assert index.docs == {} and ids(index.rank(["x1"])) == []


def test_a_word_in_most_documents_gives_way_to_a_rarer_one():
    index = WordIndex()
    for i in range(COMMON_FLOOR * 2):
        index.apply(doc(f"d{i:04d}", ["common"] + (["rare"] if i == 7 else [])))
    assert ids(index.rank(["common", "rare"], limit=1)) == ["d0007"]
    # alone, the common word still answers (its first documents)
    assert len(index.rank(["common"], limit=5)) == 5
