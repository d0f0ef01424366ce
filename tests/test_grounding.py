"""The grounding guard: quotes must come from the passages, answers must not invent numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag import grounding
from rag.retrieval import Source

PASSAGES = [
    "Le programme Big Booster a été le théâtre d’une nouvelle coopération pour la Métropole de Lyon.",
    "C’est lors du bootcamp de Boston qu’un accord a été signé en présence de Marty Walsh, Maire de Boston.",
]


def test_quote_found_word_for_word_points_at_its_passage():
    assert grounding.find_quote("un accord a été signé en présence de Marty Walsh, Maire de Boston.", PASSAGES) == 1


def test_quote_with_small_copy_slips_is_still_found():
    # typographic apostrophe replaced, accents dropped, case changed
    assert grounding.find_quote("C'est lors du bootcamp de Boston qu'un accord a ete signe", PASSAGES) == 1


def test_quote_not_in_the_context_is_rejected():
    assert grounding.find_quote("Le budget de l'accord est de 10 millions d'euros.", PASSAGES) is None
    assert grounding.find_quote("Marty Walsh a signé l'accord à Paris en 2019 avec le préfet.", PASSAGES) is None


def test_one_word_quote_is_not_evidence():
    assert grounding.find_quote("Boston", PASSAGES) is None


def test_reply_parts_are_parsed_in_either_order():
    assert grounding.split_reply("ANSWER: Marty Walsh.\nQUOTE: Maire de Boston.") == ("Maire de Boston.", "Marty Walsh.")
    assert grounding.split_reply("QUOTE: Maire de Boston.\nANSWER: Marty Walsh.") == ("Maire de Boston.", "Marty Walsh.")
    assert grounding.split_reply("ANSWER: Marty") == (None, "Marty")
    assert grounding.split_reply("ANS") == (None, None)


@pytest.mark.parametrize("answer, kept", [
    ("Le campus a une surface de 12 000 m² (twelve thousand).", "Le campus a une surface de 12 000 m²."),
    ("Le projet a coûté 38 millions d'euros (thirty-eight million).", "Le projet a coûté 38 millions d'euros."),
    ("It hosts 10 start-ups (dix).", "It hosts 10 start-ups."),
    ("Il compte dix (10) start-ups.", "Il compte dix (10) start-ups."),  # digits stay
    ("Trois acteurs (les laboratoires, les pôles) et 2 pôles.", "Trois acteurs (les laboratoires, les pôles) et 2 pôles."),
    ("Le jury compte (trente) membres.", "Le jury compte (trente) membres."),  # the only number stays
])
def test_an_aside_only_spelling_out_a_number_of_the_answer_is_dropped(answer, kept):
    assert grounding.split_reply(f"ANSWER: {answer}\nQUOTE: Le jury réunit trente experts.")[1] == kept


def test_none_means_no_answer():
    for text in ("NONE", "none.", None, "Aucune"):
        assert grounding.is_none(text)
    assert not grounding.is_none("Non, le partenariat ne couvre pas cela.")


def test_numbers_absent_from_the_passages_are_flagged():
    evidence = "L'intention de partenariat englobe trois domaines. Budget : 1,5 million d'euros en 2024."
    assert grounding.unsupported_numbers("Il y a 3 domaines.", evidence) == []
    assert grounding.unsupported_numbers("Le budget est de 1,5 million.", evidence) == []
    assert grounding.unsupported_numbers("Le budget est de 10 millions.", evidence) == ["10"]
    assert grounding.unsupported_numbers("Signé en 2019.", evidence) == ["2019"]


def test_a_number_still_streaming_is_not_judged_yet():
    evidence = "Le centre peut accueillir jusqu'à 400 start-up."
    partial = "Le centre peut accueillir 4"
    assert grounding.unsupported_numbers(partial, evidence) == ["4"]
    assert grounding.unsupported_numbers(grounding.settled_answer(partial), evidence) == []
    assert grounding.settled_answer("jusqu'à 300 0") == "jusqu'à "
    assert grounding.settled_answer("400 start-up") == "400 start-up"


def test_a_document_that_never_names_what_the_question_names_is_not_an_answer():
    budget_note = "Le budget 2024 de la Métropole de Lyon est de 4,1 milliards d'euros."
    retrieved = budget_note + "\n" + PASSAGES[1]
    question = "Quel est le budget de l'accord entre Lyon et Boston ?"
    assert grounding.names_missing_from(question, budget_note, retrieved) == ["boston"]
    assert grounding.names_missing_from(question, PASSAGES[1] + " Lyon", retrieved) == []
    # a name no passage knows (a translation, a typo) proves nothing either way
    assert grounding.names_missing_from("Who leads the Greater Lyon Metropolis?", budget_note, retrieved) == []
    # a name is matched in any of its forms: the English "American" is the French "américaine"
    american = "C'est le premier partenariat de Lyon avec une ville américaine."
    assert grounding.names_missing_from(
        "Is it Lyon's first partnership with an American city?", american, american + "\nThe American cities."
    ) == []
    # months and days are dates, written with a capital in English only
    assert grounding.names_missing_from("What happens in October?", budget_note, retrieved + " October") == []


def test_answers_that_only_say_the_passages_lack_it_are_refusals():
    assert grounding.says_not_in_passages("Le texte ne mentionne pas le budget de l'accord.")
    assert grounding.says_not_in_passages("Le budget n'est pas précisé dans les passages.")
    assert grounding.says_not_in_passages("The passages do not mention the weather.")
    assert not grounding.says_not_in_passages("Marty Walsh, the mayor of Boston, attended the signing.")


def test_an_answer_repeating_its_request_is_told_from_one_repeating_the_passages():
    request = "Your answer cannot be given: it only repeats the question; give the fact: «Le jury compte douze experts.»"
    passages = "Le jury compte douze experts."
    assert grounding.repeats_request("It only repeats the question.", request, passages)
    assert not grounding.repeats_request("Oui : le jury compte douze experts.", request, passages)
    assert not grounding.repeats_request("Le jury est composé d'experts.", request, passages)


def test_supporting_passage_prefers_the_one_holding_the_answer():
    assert grounding.supporting_passage("Marty Walsh, maire de Boston", PASSAGES[0], PASSAGES) == 1
    assert grounding.supporting_passage("Big Booster", None, PASSAGES) == 0


def test_the_passage_holding_the_answers_number_supports_it_across_languages():
    passages = [
        "Le projet du centre de Nantes a coûté 25 millions d'euros, financés par Nantes Métropole.",
        "The Quai 21 campus cost 38 million euros (thirty-eight million).",
    ]
    assert grounding.supporting_passage("Le projet a coûté 38 millions d'euros.", None, passages) == 1


def test_grammar_allows_only_the_passages_sentences_as_quote():
    grammar = grounding.reply_grammar(['Il a dit "oui". Puis il est parti\\ loin.'])
    assert '"Il a dit \\"oui\\"."' in grammar
    assert '"Puis il est parti\\\\ loin."' in grammar
    assert '"NONE"' in grammar


@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=4), st.data())
def test_any_sentence_of_a_passage_is_found_in_that_passage(passages, data):
    position = data.draw(st.integers(0, len(passages) - 1))
    for sentence in grounding.sentences(passages[position]):
        if len(grounding.words(sentence)) >= 2:
            assert grounding.find_quote(sentence, passages) is not None


def test_a_title_is_read_with_its_passage_but_never_quotable():
    title = "[Vidéo] Lyon et Boston signent un accord"
    source = Source(document="video.txt", text="Marty Walsh, Maire de Boston, était présent.", score=0.9, title=title)
    assert source.labelled == f"[{title}]\n{source.text}"
    assert "Vidéo" not in grounding.reply_grammar([source.text])
    assert grounding.find_quote(title, [source.text]) is None
    assert grounding.sentences(source.text) == ["Marty Walsh, Maire de Boston, était présent."]


def test_an_answer_lifted_from_the_worked_examples_is_caught():
    from rag.prompts import EXAMPLES_TEXT

    evidence = "\n".join(PASSAGES)
    lifted = "Le plan vélo comprend deux mesures : des pistes cyclables sécurisées et des aides à l'achat de vélos."
    assert len(grounding.borrowed_words(lifted, EXAMPLES_TEXT, evidence)) >= 3
    assert grounding.borrowed_words("Marty Walsh est le maire de Boston.", EXAMPLES_TEXT, evidence) == []


def test_words_found_in_no_passage_are_listed_with_inflections_allowed():
    evidence = "Les domaines d'action du partenariat : la mobilité."
    assert grounding.unsupported_words("Le partenariat couvre le domaine de la mobilité.", evidence) == ["couvre"]


def test_answers_give_what_the_question_asks_for():
    assert grounding.missing_answer_type("Combien de domaines ?", "L'accord englobe plusieurs domaines.") == "a number"
    assert grounding.missing_answer_type("Combien de domaines ?", "Il compte trois domaines.") is None
    assert grounding.missing_answer_type("How many start-ups?", "It hosts 400 start-ups.") is None
    assert grounding.missing_answer_type("Combien de domaines ?", "Une structure accueille des start-up.") == "a number"
    assert grounding.missing_answer_type("À quelle date l'accord a-t-il été signé ?", "Lors du bootcamp.") == "a date"
    assert grounding.missing_answer_type("What date was it signed?", "On 12 May.") is None
    assert grounding.missing_answer_type("Who signed it?", "Marty Walsh signed it.") is None
    assert grounding.missing_answer_type("Quel jour la maintenance est-elle prévue ?", "Elle a lieu samedi.") is None
    # A place or a person asked for, and only a date given.
    assert grounding.missing_answer_type("Where was the agreement signed?", "The agreement was signed in March 2024.") == "a place"
    assert grounding.missing_answer_type("Où l'accord a-t-il été signé ?", "L'accord a été signé le 12 février.") == "a place"
    assert grounding.missing_answer_type("Qui a signé l'accord ?", "L'accord a été signé en 2016.") == "a person"
    assert grounding.missing_answer_type("Where was the agreement signed?", "It was signed in Turin in March 2024.") is None
    assert grounding.missing_answer_type("Who signed it?", "Marty Walsh signed it in 2016.") is None
    # "qui"/"who" inside a question are relative pronouns, and a year can be a figure.
    assert grounding.missing_answer_type("Quel budget a la ville qui accueille le salon ?", "Le budget est de 2024.") is None
    assert grounding.missing_answer_type("Où se tient le salon ?", "Le salon se tient.") is None


def test_the_items_a_quoted_sentence_announces_are_the_list_lines_after_it():
    passage = "Le plan compte deux mesures :\n• des pistes cyclables ;\n• des aides.\nLe maire a salué le plan."
    assert grounding.announced_items("Le plan compte deux mesures", passage) == ["• des pistes cyclables ;", "• des aides."]
    assert grounding.announced_items("Le maire a salué le plan.", passage) == []
    assert grounding.announced_items(None, passage) == []


def test_a_long_copy_of_a_passage_is_not_an_answer():
    passage = " ".join(f"mot{number}" for number in range(80))
    assert grounding.copies_passage(" ".join(f"mot{number}" for number in range(5, 60)), [passage])
    assert not grounding.copies_passage("Il y a trois domaines d'action.", [passage])


def test_a_number_written_in_digits_is_not_an_unknown_word():
    assert grounding.unsupported_words("3", "trois principaux domaines d'action") == []


def test_the_quote_is_the_opening_of_a_sentence_and_is_completed_from_the_passage():
    passage = PASSAGES[1]
    grammar = grounding.reply_grammar([passage])
    assert '"C’est lors du bootcamp de Boston qu’un accord a été"' in grammar
    assert "Maire de Boston" not in grammar
    opening = "C’est lors du bootcamp de Boston qu’un accord a été"
    assert grounding.find_quote(opening, PASSAGES) == 1
    assert grounding.sentence_containing(opening, passage) == passage


def test_the_start_of_the_quote_line_is_not_streamed_as_answer():
    assert grounding.settled_answer("Le Big Booster\nQUO") == "Le Big Booster"
    assert grounding.settled_answer("Le Big Booster") == "Le Big Booster"


def test_a_yes_no_answer_opens_with_yes_or_no_then_the_fact():
    from llama_cpp import LlamaGrammar

    grammar = grounding.reply_grammar(PASSAGES, none_answer=False, yes_no=("Oui", "Non"))
    assert 'line ::= ("Oui" | "Non") ", "' in grammar and '"NONE" |' not in grammar.split("quote ::=")[0]
    assert 'answer ::= "NONE" | line' in grounding.reply_grammar(PASSAGES, yes_no=("Oui", "Non"))
    for variant in (grammar, grounding.reply_grammar(PASSAGES, none_answer=False)):
        LlamaGrammar.from_string(variant, verbose=False)  # valid GBNF


def test_clauses_whose_facts_no_single_document_holds_are_found():
    article = "Un Cambridge Innovation Center (CIC) pourrait venir à Lyon, avec Marty Walsh."
    contest = "La finale de Big Booster aura lieu le 20 novembre 2025 à Lyon."
    moved = "Le Cambridge Innovation Center de Lyon ouvrira le 20 novembre 2025."
    assert grounding.facts_from_several_documents(moved, [article, contest]) == [moved]
    both = "La finale de Big Booster a lieu le 20 novembre 2025, et le Cambridge Innovation Center pourrait venir à Lyon."
    assert grounding.facts_from_several_documents(both, [article, contest]) == []
    asked = "Oui, une entreprise de six ans peut candidater à Big Booster."
    assert grounding.facts_from_several_documents(asked, [contest], "Une entreprise de six ans peut-elle candidater ?") == []
    # An English month is capitalised, the same date in French is not: it is a date, not a name to hold.
    mission = "Une mission de vingt-cinq entreprises se rendra à Montréal en octobre 2024."
    english = "A mission of 25 companies will go to Montréal in October 2024."
    assert grounding.facts_from_several_documents(english, [mission, "The contest closes in October."]) == []


def test_numbers_written_in_words_count_as_their_digits():
    assert {"250", "3"} <= grounding.numbers_in("deux cent cinquante start-up dans trois domaines")
    assert "250" in grounding.numbers_in("two hundred and fifty companies")
    assert grounding.unsupported_numbers("Il y a 250 places.", "deux cent cinquante places") == []


def test_an_answer_may_go_on_with_list_lines_after_its_first_line():
    from llama_cpp import LlamaGrammar

    grammar = grounding.reply_grammar(PASSAGES)
    assert 'answer ::= line item{0,8}' in grammar and 'item ::= "\\n" ("- " | "• " | [1-9] ". ")' in grammar
    LlamaGrammar.from_string(grammar, verbose=False)
