"""Every branch of the answering pipeline, driven by a scripted chat model: each check, repair and refusal.

The scripted model (conftest.ScriptedChat) replies what each test says, in order, and records the messages it
was sent; no model is loaded, so these run in milliseconds.
"""

import pytest
from langchain_core.messages import AIMessage

from conftest import ScriptedChat, SmallContextChat
from rag.answering import CHECKS, REPAIR_TOKENS, Answerer
from rag.prompts import EXAMPLES, answer_messages
from rag.retrieval import Source

ARTICLE = Source(
    document="lyon-boston-accord.txt",
    title="Accord Lyon–Boston",
    language="fr",
    score=0.8,
    id="a1",
    text=(
        "C'est lors du bootcamp Big Booster de Boston qu'un accord a été signé en présence de Karine "
        "Dognin-Sauze et de Marty Walsh, Maire de Boston.\n"
        "L'intention de partenariat englobe trois principaux domaines d'action.\n"
        "Le futur centre accueillera deux cent cinquante start-up dans un seul bâtiment."
    ),
)
BUDGET = Source(
    document="metropole-budget-2024.txt",
    title="Budget 2024 de la Métropole de Lyon",
    language="fr",
    score=0.5,
    id="b1",
    text="Le conseil de la Métropole de Lyon a adopté un budget de 4,1 milliards d'euros pour l'année 2024.",
)
SOURCES = [ARTICLE, BUDGET]
SIGNED = "Karine Dognin-Sauze et Marty Walsh ont signé l'accord lors du bootcamp."
QUOTE = "C'est lors du bootcamp Big Booster de Boston"


class ProbabilityChat(ScriptedChat):
    """A scripted model that also tells its probability of NONE as the answer's first word, as llama.cpp does."""

    none_probability: float = 0.0

    def warm_up(self, messages):
        """Nothing to read ahead."""

    def first_word_probability(self, messages, reply_start, word, passages=()):
        assert (reply_start, word) == ("ANSWER:", "NONE")
        assert passages and all(passage in messages[-1].content for passage in passages)
        return self.none_probability


def answer(replies, question="Qui a signé l'accord ?", language="fr", sources=SOURCES, max_calls=3, model=None, **answerer):
    model = model or ScriptedChat(messages=iter([AIMessage(reply) for reply in replies]), sent=[])
    stream = list(Answerer(model, max_model_calls=max_calls, **answerer).stream(question, language, sources, []))
    final = stream[-1]
    assert final.model_calls == len(model.sent) <= max_calls
    return final, model.sent, stream


def reply(text, quote=QUOTE):
    return f"ANSWER: {text}\nQUOTE: {quote}"


def test_a_grounded_answer_is_given_with_its_passage_first_and_streams_as_it_comes():
    final, sent, stream = answer([reply(SIGNED)])
    assert final.answered and final.text == SIGNED and final.check is None and final.repairs == []
    assert final.sources[0] is ARTICLE and final.quote.startswith(QUOTE) and final.quote.endswith("Maire de Boston.")
    assert len(sent) == 1
    partial = [a.text for a in stream[:-1]]
    assert partial and all(SIGNED.startswith(text) for text in partial) and len(partial[0]) < len(SIGNED)


def test_the_cited_passage_is_the_one_holding_the_answer_not_the_one_quoted():
    final, _, _ = answer([reply("Le budget est de 4,1 milliards d'euros pour 2024.")], question="Quel est le budget 2024 ?")
    assert final.answered and final.sources[0] is BUDGET
    assert final.quote == BUDGET.text  # the sentence of the cited passage, not the quote from another


def test_no_passage_means_a_refusal_without_calling_the_model():
    final, sent, _ = answer([], sources=[])
    assert not final.answered and final.check == "no-answer" and sent == []
    assert final.explanation == "Aucun passage ne contient la réponse."


def test_none_is_refused_in_the_questions_language_with_what_was_missing():
    final, _, _ = answer(["ANSWER: NONE\nQUOTE: NONE"], question="Who won the World Cup?", language="en")
    assert not final.answered and final.check == "no-answer"
    assert final.text.startswith("The documents don't say") and final.explanation == "No passage holds the answer."


def test_an_answer_saying_the_passages_lack_it_is_a_refusal():
    final, _, _ = answer([reply("Les passages ne mentionnent pas le budget de l'accord.")])
    assert not final.answered and final.check == "no-answer"


def test_a_number_in_no_passage_is_answered_again_then_refused():
    invented = reply("L'accord a été signé en 2019 par Marty Walsh et Karine Dognin-Sauze.")
    final, sent, _ = answer([invented, invented])
    assert not final.answered and final.check == "numbers" and "2019" in final.reason
    assert "2019 are in no passage" in sent[1][-1].content


def test_a_number_in_no_passage_corrected_on_the_second_try_is_answered():
    final, _, _ = answer([reply("Le centre accueillera 300 start-up."), reply("Le centre accueillera 250 start-up.")])
    assert final.answered and final.text == "Le centre accueillera 250 start-up." and final.repairs[0].startswith("numbers:")


def test_an_answer_that_stops_before_its_list_is_answered_again_and_the_list_kept():
    listed = "Étaient présents :\n- Karine Dognin-Sauze ;\n- Marty Walsh, Maire de Boston."
    final, sent, _ = answer([reply("Le bootcamp Big Booster de Boston a réuni :"), reply(listed)], question="Qui était là ?")
    assert final.answered and final.text == listed and final.repairs[0].startswith("list:")
    assert "names none of its items" in sent[1][-1].content


BUDGET_LINES = Source(**{**BUDGET.__dict__, "text": (
    "Le budget de l'innovation s'élève à 48 millions d'euros. Il se répartit en trois lignes :\n"
    "• 15 millions d'euros pour les start-up ;\n• 12 millions d'euros pour la recherche ;\n"
    "• 21 millions d'euros pour le commerce."
)})


def test_an_answer_naming_few_items_of_the_list_it_quotes_is_answered_again_with_them():
    listed = "Il se répartit entre les start-up (15 M€), la recherche (12 M€) et le commerce (21 M€)."
    final, sent, _ = answer(
        [reply("Le budget se répartit en trois lignes.", "Il se répartit en trois lignes :"), reply(listed, "15 millions")],
        question="Comment le budget de l'innovation se répartit-il ?", sources=[BUDGET_LINES],
    )
    assert final.answered and final.text == listed and final.repairs[0].startswith("items:")
    assert "announces 3 items and it names 0" in sent[1][-1].content


def test_a_count_question_is_answered_by_the_count_not_the_list():
    final, sent, _ = answer(
        [reply("Le budget se répartit en trois lignes.", "Il se répartit en trois lignes :")],
        question="En combien de lignes le budget se répartit-il ?", sources=[BUDGET_LINES],
    )
    assert final.answered and final.repairs == [] and len(sent) == 1


def test_a_yes_or_no_that_repeats_the_question_is_answered_again_with_the_fact_it_quotes():
    question = "Le budget de l'innovation dépasse-t-il 40 millions d'euros ?"
    bare, fact = "Oui, le budget de l'innovation dépasse 40 millions d'euros.", "Oui, il s'élève à 48 millions d'euros."
    quote = "Le budget de l'innovation s'élève à 48 millions"
    final, sent, _ = answer([reply(bare, quote), reply(fact, quote)], question=question, sources=[BUDGET_LINES])
    assert final.answered and final.text == fact and final.repairs[0].startswith("yes-no:")
    assert "give the fact of the passages that shows it: «Le budget de l'innovation s'élève à 48 millions d'euros.»" in sent[1][-1].content


def test_a_yes_or_no_that_still_repeats_the_question_is_given_with_the_sentence_it_quotes():
    question = "Le budget de l'innovation dépasse-t-il 40 millions d'euros ?"
    bare, quote = "Oui, le budget de l'innovation dépasse 40 millions d'euros.", "Le budget de l'innovation s'élève à 48 millions"
    final, _, _ = answer([reply(bare, quote), reply(bare, quote)], question=question, sources=[BUDGET_LINES])
    assert final.answered and final.text == (
        "Oui, le budget de l'innovation dépasse 40 millions d'euros : « Le budget de l'innovation s'élève à 48 millions d'euros. »"
    )
    # a sentence quoted from another passage than the one the answer comes from is left out
    final, _, _ = answer([reply(bare, QUOTE), reply(bare, QUOTE)], question=question, sources=[BUDGET_LINES, ARTICLE])
    assert final.answered and final.text == bare
    # a sentence about something else than the question asks is left out ("Il se répartit en trois lignes")
    lines = "Il se répartit en trois lignes"
    final, _, _ = answer([reply(bare, lines), reply(bare, lines)], question=question, sources=[BUDGET_LINES])
    assert final.answered and final.text == bare
    # asked in English, the French sentence is no answer's words: the yes stays as the model wrote it
    english = "Yes, the innovation budget is above 40 million euros."
    final, _, _ = answer(
        [reply(english, quote), reply(english, quote)], question="Is the innovation budget above 40 million euros?",
        language="en", sources=[BUDGET_LINES],
    )
    assert final.answered and final.text == english


def test_a_yes_or_no_whose_retry_finds_nothing_is_given_as_first_written_with_its_sentence():
    question = "Le budget de l'innovation dépasse-t-il 40 millions d'euros ?"
    bare = "Oui, le budget de l'innovation dépasse 40 millions d'euros."
    final, sent, _ = answer(
        [reply(bare, "Le budget de l'innovation"), "ANSWER: NONE\nQUOTE: NONE"], question=question, sources=[BUDGET_LINES]
    )
    assert final.answered and final.text.startswith(bare[:-1] + " : « Le budget de l'innovation s'élève") and len(sent) == 2


def test_a_number_written_in_words_in_the_passage_supports_its_digits():
    final, _, _ = answer([reply("Le centre accueillera 250 start-up.", "Le futur centre accueillera")])
    assert final.answered, final.reason


def test_a_quote_found_in_no_passage_is_refused():
    final, _, _ = answer([reply(SIGNED, "Le maire de Lyon a signé un traité à Paris.")])
    assert not final.answered and final.check == "quote"


def test_an_answer_line_running_on_is_stopped_and_asked_afresh_without_the_examples():
    runaway = "ANSWER: " + " ".join([ARTICLE.text.replace("\n", " ")] * 3) + "\n• [Accord]\nQUOTE: " + QUOTE
    final, sent, stream = answer([runaway, reply(SIGNED)])
    assert final.answered and final.text == SIGNED and final.repairs[0].startswith("cut: it copies out a passage")
    assert len(sent[1]) == 2  # the rules and the question only: a fresh start, not the run-on conversation
    assert all(len(partial.text.split("\n")[0]) < 400 for partial in stream)  # stopped before the junk


def test_a_reply_that_stops_before_its_quote_twice_is_refused():
    final, _, _ = answer(["ANSWER: Karine Dognin-Sauze et", "ANSWER: Karine Dognin-Sauze et"])
    assert not final.answered and final.check == "cut" and "stopped before its QUOTE line" in final.reason


def test_an_answer_made_of_words_in_no_passage_is_refused():
    final, _, _ = answer([reply("Les pompiers volontaires organisent une kermesse chaque printemps.")])
    assert not final.answered and final.check == "words"


def test_an_answer_from_a_document_that_never_names_what_the_question_names_is_refused():
    final, _, _ = answer(
        [reply("Le budget est de 4,1 milliards d'euros pour 2024.", "Le conseil de la Métropole de Lyon")],
        question="Quel est le budget de l'accord avec Boston ?",
    )
    assert not final.answered and final.check == "document" and "boston" in final.reason


def test_a_document_is_read_whole_to_tell_whether_it_names_what_the_question_names():
    budget = reply("Le budget est de 4,1 milliards d'euros pour 2024.", "Le conseil de la Métropole de Lyon")
    question = "Quel est le budget de l'accord avec Boston ?"
    whole = {BUDGET.document: BUDGET.labelled + "\nUne part finance l'accord avec Boston."}
    final, _, _ = answer([budget], question=question, document_text=lambda path: whole.get(path, ""))
    assert final.answered and final.sources[0] is BUDGET, final.reason  # another passage of it names Boston
    final, _, _ = answer([budget], question=question, document_text=lambda path: BUDGET.labelled)
    assert not final.answered and final.check == "document" and "boston" in final.reason


def test_facts_of_two_documents_put_together_are_answered_again_then_refused():
    moved = reply("Le budget de Karine Dognin-Sauze est de 4,1 milliards d'euros.")  # the budget note's figure
    final, sent, _ = answer([moved, moved])
    assert not final.answered and final.check == "mixed" and final.repairs[0].startswith("mixed:")
    assert "no document holds together" in sent[1][-1].content


def test_facts_that_another_passage_of_the_same_document_holds_together_are_not_moved():
    budget = reply("Karine Dognin-Sauze présente le budget de 4,1 milliards d'euros.", "Le conseil de la Métropole de Lyon")
    whole = {BUDGET.document: BUDGET.labelled + "\nKarine Dognin-Sauze présente ce budget de 4,1 milliards d'euros."}
    final, _, _ = answer([budget], question="Qui présente le budget ?", document_text=lambda path: whole.get(path, ""))
    assert final.answered and final.repairs == [], final.reason
    final, _, _ = answer([budget, budget], question="Qui présente le budget ?")
    assert final.check == "mixed"


def test_facts_of_two_documents_in_two_clauses_are_an_answer_from_both():
    both = reply("Karine Dognin-Sauze a signé l'accord; la Métropole de Lyon a un budget de 4,1 milliards d'euros.")
    final, _, _ = answer([both], question="Qui a signé l'accord et quel est le budget de la Métropole ?")
    assert final.answered, final.reason


REVIEW = Source(
    document="bordeaux-quebec-bilan.md", title="Entente Bordeaux–Québec : un premier bilan", language="fr", score=0.7,
    id="r1", text="Le bilan a été présenté par Claudine Roy, adjointe au maire de Bordeaux, et par Mathieu Gagnon.",
)
MAYORS_OFFICE = Source(
    document="boston-sister-cities.md", title="Boston's international partnerships", language="en", score=0.4,
    id="s1", text="The program is run by the Mayor's Office. Strasbourg is one of Boston's sister cities.",
)
RESIDENCY = Source(
    document="montreal-passerelle-programme.md", title="Passerelle", language="en", score=0.7, id="p1",
    text="Residents spend six months in Montréal. Selection is made by a joint committee of six members.",
)
STEERING = Source(
    document="grenoble-montreal-accord.txt", title="Grenoble et Montréal", language="fr", score=0.5, id="g1",
    text="Un comité de pilotage se réunira une fois par an.",
)


@pytest.fixture(scope="module")
def embed_words():
    """The default multilingual embedding (real, packaged), as ``Chatbot`` gives it to the answering checks."""
    from rag.embeddings import UniversalSentenceEncoderEmbeddings

    return UniversalSentenceEncoderEmbeddings(threads=1).embed_documents


def test_a_word_of_the_question_held_translated_in_the_answers_document_is_mentioned(embed_words):
    """"Deputy Mayor" in an English question, "adjointe au maire" in the French document that answers."""
    question = "With whom did the Bordeaux Deputy Mayor present the review?"
    gagnon = reply("She presented it with Mathieu Gagnon.", "Le bilan a été présenté par Claudine Roy")
    final, _, _ = answer([gagnon], question=question, language="en", sources=[REVIEW, MAYORS_OFFICE], embed_words=embed_words)
    assert final.answered and final.sources[0] is REVIEW, final.reason
    final, _, _ = answer([gagnon], question=question, language="en", sources=[REVIEW, MAYORS_OFFICE])
    assert not final.answered and final.check == "document" and "mayor" in final.reason  # without the embedding


def test_a_name_of_a_place_is_not_taken_as_translated(embed_words):
    """Names stay as they are in every language: the review of the Bordeaux–Québec accord never mentions
    Montréal, however close the two cities' names are in the embedding space."""
    question = "Who presented the review in Montréal?"
    roy = reply("Claudine Roy and Mathieu Gagnon presented the review.", "Le bilan a été présenté par Claudine Roy")
    final, _, _ = answer([roy], question=question, language="en", sources=[REVIEW, RESIDENCY], embed_words=embed_words)
    assert not final.answered and final.check == "document" and "montreal" in final.reason


def test_facts_held_together_by_a_document_of_the_other_language_in_translation_are_not_moved(embed_words):
    """"Le Comité … six membres" from the English "a joint committee of six members": one document holds both."""
    six = reply("Le Comité de sélection compte six membres.", "Selection is made by a joint committee")
    question = "Combien de membres compte le comité de sélection ?"
    final, _, _ = answer([six], question=question, sources=[RESIDENCY, STEERING], embed_words=embed_words)
    assert final.answered and final.repairs == [], final.reason
    final, _, _ = answer([six, six], question=question, sources=[RESIDENCY, STEERING])
    assert not final.answered and final.check == "mixed"  # without the embedding


def test_an_answer_lifted_from_the_worked_examples_is_asked_again_without_them():
    lifted = EXAMPLES[0][3].split("\n")[0].removeprefix("ANSWER: ")  # the tram example's answer
    final, sent, _ = answer([reply(lifted), reply("Marty Walsh"), "Marty Walsh a signé l'accord."])
    assert final.answered and final.text == "Marty Walsh a signé l'accord." and final.repairs[0].startswith("examples:")
    assert len(sent[0]) > 2 and len(sent[1]) == 2  # the rules and the question only
    assert sent[2][:2] == sent[1]  # a later repair continues the conversation without examples


def test_a_count_question_answered_without_a_number_is_answered_again():
    final, sent, _ = answer(
        [reply("L'intention de partenariat englobe des domaines d'action."), reply("Elle englobe trois domaines.")],
        question="Combien de domaines d'action l'accord compte-t-il ?",
    )
    assert final.answered and final.text == "Elle englobe trois domaines." and len(sent) == 2


def test_a_count_question_still_without_a_number_after_its_repair_is_refused():
    final, _, _ = answer(
        [reply("L'accord englobe plusieurs domaines d'action."), "ANSWER: NONE\nQUOTE: NONE"],
        question="Combien de personnes ont assisté à la signature ?",
    )
    assert not final.answered and final.check == "no-answer" and final.repairs[0].startswith("type:")


def test_a_copied_passage_is_answered_again_and_kept_when_the_retry_fails():
    copied = ARTICLE.text.replace("\n", " ")
    final, sent, _ = answer([reply(copied), "ANSWER: NONE\nQUOTE: NONE"])
    assert final.answered and final.text == copied and final.repairs[0].startswith("copy:")  # grounded: kept
    assert len(sent) == 2


def test_a_bare_name_is_restated_as_a_sentence():
    final, sent, _ = answer([reply("Marty Walsh"), "Marty Walsh, maire de Boston, a signé l'accord."])
    assert final.answered and final.text == "Marty Walsh, maire de Boston, a signé l'accord."
    assert final.repairs == ["short: the answer is not a sentence"] and len(sent) == 2


def test_an_answer_in_the_wrong_language_is_restated_in_the_questions_language():
    english = "Karine Dognin-Sauze and Marty Walsh signed the agreement at the bootcamp."
    final, sent, _ = answer([reply(english), SIGNED])
    assert final.answered and final.text == SIGNED and final.repairs[0].startswith("language:")
    assert "French" in sent[1][-1].content


def test_a_list_restated_in_the_questions_language_keeps_its_items_and_nothing_after():
    english = "Karine Dognin-Sauze and Marty Walsh signed the agreement at the bootcamp."
    restated = "Ont signé l'accord :\n- Karine Dognin-Sauze ;\n- Marty Walsh, Maire de Boston."
    final, _, _ = answer([reply(english), restated + "\nJ'espère que cela aide."])
    assert final.answered and final.text == restated


def test_untranslated_words_are_restated_as_a_whole_sentence():
    french_passage = Source(**{**ARTICLE.__dict__, "text": ARTICLE.text + "\nLes domaines : robotique et biotechnologies."})
    final, sent, _ = answer(
        [reply("The fields are robotique and biotechnologies."), "The fields are robotics and biotechnology."],
        question="Which fields?", language="en", sources=[french_passage],
    )
    assert final.text == "The fields are robotics and biotechnology." and final.repairs[0].startswith("language:")


def test_a_restatement_that_repeats_its_request_is_not_given_as_the_answer():
    echo = "The answer is not in English."
    final, sent, _ = answer([reply(SIGNED), echo], question="Who signed the agreement?", language="en")
    assert "the answer is not in English" in sent[1][-1].content
    assert final.answered and final.text == SIGNED  # the draft as first written, as for any failed restatement


def test_a_new_answer_that_repeats_its_request_is_no_repair():
    echo = reply("The question asks for a number and the answer gives none.")
    final, sent, _ = answer(
        [reply("L'intention de partenariat englobe des domaines d'action."), echo],
        question="Combien de domaines d'action l'accord compte-t-il ?",
    )
    assert not final.answered and final.check == "type" and len(sent) == 2


def test_a_restatement_that_invents_a_number_is_not_kept():
    english = "Karine Dognin-Sauze and Marty Walsh signed the agreement at the bootcamp."
    invented = "Karine Dognin-Sauze et Marty Walsh ont signé l'accord en 2019."
    final, _, _ = answer([reply(english), invented, reply(invented)])
    assert final.answered and final.text == english  # the grounded original, not the invented number


def test_no_question_costs_more_than_the_call_budget():
    bare = reply("Marty Walsh")
    final, sent, _ = answer([bare, "Walsh", "Walsh", "Walsh"], max_calls=2)
    assert len(sent) == 2 and final.answered  # the bare answer is kept rather than a third call


def test_with_one_call_allowed_nothing_is_repaired():
    final, sent, _ = answer([reply("Marty Walsh")], max_calls=1)
    assert len(sent) == 1 and final.text == "Marty Walsh" and final.repairs == []


def test_without_worked_examples_the_model_sees_only_the_rules_and_the_question():
    final, sent, _ = answer([reply(SIGNED)], worked_examples=False)
    assert final.answered and len(sent[0]) == 2  # system rules, then the question with its passages


def test_a_likely_none_is_refused_before_any_reply_is_generated():
    model = ProbabilityChat(messages=iter([AIMessage(reply(SIGNED))]), sent=[], none_probability=0.7)
    final, sent, _ = answer([], model=model, abstain_threshold=0.6)
    assert not final.answered and final.check == "no-answer" and "0.70" in final.reason and sent == []
    assert final.no_answer_probability == 0.7


def test_an_unlikely_none_lets_the_model_answer_and_the_checks_judge():
    model = ProbabilityChat(messages=iter([AIMessage(reply(SIGNED))]), sent=[], none_probability=0.4)
    final, sent, _ = answer([], model=model, abstain_threshold=0.6)
    assert final.answered and final.text == SIGNED and final.no_answer_probability == 0.4


def test_every_check_says_what_was_missing_in_both_languages():
    for check in CHECKS:
        assert set(check.explanation) == {"fr", "en"} and all(check.explanation.values()), check.name
        assert check.repair in {None, "answer again", "without examples", "restate"}



def test_none_inside_a_restated_sentence_is_no_answer_and_the_grounded_draft_stays():
    english = "Karine Dognin-Sauze and Marty Walsh signed the agreement at the bootcamp."
    final, _, _ = answer([reply(english), "La réponse est NONE."])
    assert final.answered and final.text == english


def test_a_repair_that_would_not_fit_in_the_models_context_is_not_asked():
    """The first prompt leaves just the room kept for a repair; this one (a long reply, then the request) needs more."""
    prompt = answer_messages([s.labelled for s in SOURCES], "Qui a signé l'accord ?", "fr", [])
    invented = reply("Marty Walsh et Karine Dognin-Sauze ont signé l'accord entre Lyon et Boston au bootcamp Big Booster en 2019.")
    model = SmallContextChat(
        messages=iter([AIMessage(invented)]), sent=[],
        context=sum(len(message.content) for message in prompt) + 200 + REPAIR_TOKENS,
    )
    final, sent, _ = answer([], model=model)
    assert not final.answered and final.check == "numbers" and final.repairs == [] and len(sent) == 1
