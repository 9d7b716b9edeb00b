"""Citations: numbering sources, the prompt that carries them, and checking a reply's [n] against them."""

from app.core.chat.attribution import attribute, extract_answer
from app.core.chat.citations import (ANSWER_FORMAT, STRICT_FORMAT, SYSTEM_PROMPT, DocumentsUse, Source, answer_problem,
                                     build_messages, check_reply, parse_citations, relevant)
from app.core.documents.retriever import Hit


def _sources(n):
    return [Source(i, f"/docs/f{i}.pdf", i * 10, i * 10, "", f"text {i}", 1.0 / i) for i in range(1, n + 1)]


def test_citations_keep_only_given_sources():
    text, cited, invalid = parse_citations("Mount it high [1]. Clean monthly [2, 7]. Recycle it [9]. See [2].",
                                           _sources(3))
    assert cited == [1, 2] and invalid == [7, 9]
    assert text == "Mount it high [1]. Clean monthly [2]. Recycle it. See [2]."


def test_no_sources_means_no_citation_survives():
    text, cited, invalid = parse_citations("As shown in [1] and [2].", [])
    assert cited == [] and invalid == [1, 2] and "[" not in text


def test_prompt_numbers_sources_with_file_and_page_and_respects_budget():
    sources = _sources(3)
    messages, given = build_messages("Why?", sources)
    user = messages[-1]["content"]
    assert "Excerpt 1 (f1.pdf, page 10):\ntext 1" in user and "Excerpt 3 (f3.pdf, page 30):" in user
    # sources first, then the question, then how to answer (small models follow what comes last)
    assert user.index("Excerpt 3 (f3.pdf") < user.index("Question: Why?") < user.index(ANSWER_FORMAT)
    assert user.endswith(ANSWER_FORMAT) and messages[0]["content"] == SYSTEM_PROMPT
    assert given == sources
    strict, _ = build_messages("Why?", sources, strict=True)
    assert strict[-1]["content"].endswith(STRICT_FORMAT) and "Question: Why?" in strict[-1]["content"]
    _, few = build_messages("Why?", sources, count_tokens=len, budget=len(messages[0]["content"]) + 70)
    assert 1 <= len(few) < 3 and few == sources[:len(few)]
    messages, given = build_messages("Why?", [])
    assert given == [] and "nothing relevant" in messages[0]["content"]


def test_relevance_needs_similarity_or_all_keywords():
    def hit(sim, full=False):
        return Hit("id", "/f", 1, 1, "", "t", 0.1, similarity=sim, full_match=full)

    hits = [hit(0.6), hit(0.1), hit(0.1, full=True)]
    assert relevant(hits, 0.3) == [hits[0], hits[2]]


def test_check_reply_fills_a_copy_of_the_use_and_it_survives_json():
    use = DocumentsUse(["manual"], _sources(2))
    text, checked = check_reply("Mount it high [1]. Clean it [2, 5]. Recycle it [4].", use)
    assert text == "Mount it high [1]. Clean it [2]. Recycle it."
    assert checked.cited == [1, 2] and checked.invalid == [5, 4]
    assert use.cited == [] and use.invalid == []  # the one handed to another thread is left as it was
    nothing = DocumentsUse(["manual"], [], nothing_found=True)
    text, checked = check_reply("See [1].", nothing)
    assert "[" not in text and checked.invalid == [1]
    assert nothing.note == "Nothing relevant was found in “manual”."
    again = DocumentsUse.from_json(checked.to_json())
    assert again == checked
    both = DocumentsUse.from_json(DocumentsUse(["a", "b"], _sources(1), [1]).to_json())
    assert both.sources == _sources(1) and both.cited == [1] and DocumentsUse.from_json(None) is None


def test_answer_problem_finds_bare_citations_and_echoed_instructions():
    for bare in ("[1]", " [1][2]. ", "[1, 2]", "See [3].", ""):
        assert answer_problem(bare) == "bare", bare
    # the old prompt's instruction, echoed word for word by Qwen2.5-0.5B, and the new one's example sentence
    assert answer_problem("The documents do not say, and do not make up an answer.") == "echo"
    assert answer_problem("Answer the question in one to three sentences and cite the excerpt numbers") == "echo"
    # the excerpts pasted back one per line (Qwen2.5-0.5B on devset d05/d15), not an answer
    assert answer_problem('[1] set ytics (1,2,3) #displays "1.0"\n[2] set ytics (1,2,3) #displays "1.0"') == "list"
    assert answer_problem("[1] Debian Reference en.pdf, page 183\n[2] Debian Reference en.pdf, page 191") == "list"
    heading = "Chapter 1: Introduction and preliminaries"
    assert answer_problem(f"[2] {heading} [4] {heading} [5] {heading}") == "list"  # one line, said over and over
    assert answer_problem("[2] Excerpts from the user's documents discuss missing values in R.") == "echo"
    # distinct sentences, each led by its citation, answer (d45): not a pasted list
    assert answer_problem("[1] Such links are placed in separate development packages.\n[2] They are usually "
                          "named libfoo-dev.") == ""
    # answers are answers, short ones and the "not covered" reply included, one that starts with its citation too
    for fine in ("Use set xdata time to read dates [1].", "Run git stash [2].", "The excerpts say nothing about it.",
                 "The default terminal comes from GNUTERM, if defined [1][3].",
                 "[1] Git expects files with Unix line endings.\nSet core.autocrlf to fix it [2].",
                 "- set key outside [1]\n- set key below [2]"):
        assert answer_problem(fine) == "", fine


def test_a_retried_or_problem_reply_says_so_and_survives_json():
    use = DocumentsUse(["manual"], _sources(2), retried=True, answer_problem="bare", searched_for="reset router",
                       expansion_ms={"rewrite": 12.5})
    assert "source numbers only" in use.note
    assert DocumentsUse.from_json(use.to_json()) == use


def test_a_reply_without_citations_gets_them_from_word_overlap_and_says_so():
    sources = [Source(1, "/d/a.pdf", 3, 3, "", "Vacuum the dust filter every month so warm air flows.", 1.0),
               Source(2, "/d/a.pdf", 4, 4, "", "The warranty covers manufacturing defects for five years.", 0.5)]
    text, added = attribute("Vacuum the dust filter every month. The warranty lasts five years! Thanks", sources)
    assert text == "Vacuum the dust filter every month [1]. The warranty lasts five years [2]! Thanks"
    assert added == [1, 2]
    assert attribute("Bake bread at home.", sources) == ("Bake bread at home.", [])
    assert "Hearth added the citations" in DocumentsUse(["m"], sources, [1], attributed=True).note


def test_attribution_cites_whole_sentences_of_prose_only():
    sources = [Source(1, "/d/fit.pdf", 4, 4, "", "By default fit writes its log to the file fit.log in the current "
                      "directory; see set fit (p. 144) for the other settings.", 1.0),
               Source(2, "/d/plot.pdf", 9, 9, "", "The command set key outside moves the legend box to the right of "
                      "the graph, outside the plotting area.", 0.5)]
    # a full stop inside a file name or after "p" does not end a sentence: no "fit [1].log", no "(p [1]. 144)"
    text, added = attribute("It writes the log to fit.log in the current directory, see set fit (p. 144).", sources)
    assert text == "It writes the log to fit.log in the current directory, see set fit (p. 144) [1]." and added == [1]
    # code (fenced or inline) is never cited into, nor split at its full stops
    reply = "Type `set key outside.` first.\n```\nset key outside\n```\nThis moves the legend box to the right."
    text, added = attribute(reply, sources)
    assert text == ("Type `set key outside.` first [2].\n```\nset key outside\n```\n"
                    "This moves the legend box to the right [2].") and added == [2]
    # a sentence that only restates the question (or invents beyond it) is not evidence of any source
    question = "How do I move the legend box outside the graph?"
    assert attribute("You move the legend box outside the graph.", sources, question) == (
        "You move the legend box outside the graph.", [])
    assert attribute("You move the legend box with the mouse wheel and a kitten.", sources, question)[1] == []


def test_an_extracted_answer_quotes_the_sentences_that_best_match_the_question():
    sources = [Source(1, "/d/a.pdf", 2, 2, "", "Mount the heater on a solid wall. Use the four screws supplied.", 1.0),
               Source(2, "/d/a.pdf", 3, 3, "", "Error code XK-4471-Q means the tilt sensor tripped: stand the unit "
                      "upright and press reset. A blinking amber light means the probe is disconnected.", 0.5)]
    text, cited = extract_answer("What does error code XK-4471-Q mean?", sources)
    assert text == ("“Error code XK-4471-Q means the tilt sensor tripped: stand the unit upright and press reset.” "
                    "[2]") and cited == [2]
    assert extract_answer("Who painted the Mona Lisa?", sources) == ("", [])
    # one shared word is chance ("default"), and a question repeated by a FAQ heading answers nothing
    assert extract_answer("Which paper is the default when printing?", [
        Source(1, "/d/faq.pdf", 1, 1, "", "Default size is letter. Why is printing so slow on paper?", 1.0)]) == ("", [])
    use = DocumentsUse(["manual"], sources, cited, retried=True, answer_problem="bare", extracted=True)
    assert "best match the question" in use.note and "source numbers only" in use.note
    assert DocumentsUse.from_json(use.to_json()) == use
