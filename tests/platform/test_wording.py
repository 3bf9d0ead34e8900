"""The leading-question check (governance.wording), on real examples: each flag says what
(the excerpt), why and a neutral alternative; neutral questions are never flagged; an
information sheet must name the main risks as well as the benefits. Pure: no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlfr.governance.wording import (
    INFORMATION_SHEET,
    RULES,
    Concern,
    WordingIssue,
    consultation_issues,
    describe_issues,
    information_sheet_issues,
    is_kept,
    leading_question_issues,
    option_issues,
    unresolved_issues,
)

#: The question that ended the real e-mail described in DESIGN.md.
REAL_EMAIL_QUESTION = "Is this something that you think is a good idea, and would support?"

#: A fair information sheet (the demo's): benefits, and the main risks named plainly.
FAIR_BENEFITS = ("Finding people who are missing and at risk, or wanted by a court, more "
                 "quickly than officers could by looking for them.")
FAIR_RISKS = ("The cameras see everyone who passes, which affects privacy. False alerts can "
              "lead to people being stopped who are not wanted, and accuracy can differ "
              "between demographic groups, so errors may fall unequally (bias). Some people "
              "may avoid the high street while the cameras are there. Faces that match "
              "nobody are deleted at once.")

#: (question, the rule that must flag it, the excerpt it must point at).
LEADING: list[tuple[str, str, str]] = [
    # asks for agreement
    (REAL_EMAIL_QUESTION, "asks_if_good_idea", "good idea"),
    (REAL_EMAIL_QUESTION, "asks_for_support", "and would support"),
    # the misses issue 13 quoted, and more real cases
    ("How strongly do you support the use of LFR on the high street?", "asks_for_support",
     "How strongly do you support"),
    ("How much would you support cameras at the station?", "asks_for_support",
     "How much would you support"),
    ("Given its success in other boroughs, should LFR be used on the high street?",
     "premise_of_success", "Given its success"),
    ("In light of the proven results in Croydon, where should LFR be used next?",
     "premise_of_success", "In light of the proven results"),
    ("LFR has been shown to work; what do you think about its use here?",
     "premise_of_success", "has been shown to work"),
    ("How effective do you think LFR will be at reducing robbery?", "how_effective",
     "How effective do you think LFR will"),
    ("How useful would the cameras be for finding missing people?", "how_effective",
     "How useful would the cameras be"),
    ("LFR has been extremely successful in other boroughs; what do you think?",
     "promotional", "extremely successful"),
    ("LFR is a valuable tool for the police; what do you think about its use here?",
     "promotional", "valuable tool"),
    ("The risk is negligible; what do you think about LFR here?", "plays_down_risk",
     "risk is negligible"),
    ("The chance of a false alert is very low; how do you feel about LFR here?",
     "plays_down_risk", "chance of a false alert is very low"),
    ("Would you support the use of LFR on the high street?", "asks_for_support",
     "Would you support"),
    ("Do you agree that LFR should be used at the station?", "asks_for_support",
     "Do you agree"),
    ("Is this something you would support?", "asks_for_support", "you would support"),
    ("Would you welcome cameras at the market?", "asks_for_support", "Would you welcome"),
    ("Are you in favour of LFR at the market?", "asks_for_support", "Are you in favour"),
    ("How strongly do you support LFR?", "asks_for_support", "How strongly do you support"),
    ("Is LFR a good idea for Vauxhall?", "asks_if_good_idea", "good idea"),
    ("Would you be happy for LFR to be used at the station?", "asks_if_happy",
     "Would you be happy for"),
    ("How supportive are you of LFR?", "asks_for_support", "How supportive are you"),
    ("How positive do you feel about cameras at the market?", "asks_for_support",
     "How positive do you"),
    ("Would it reassure you to know LFR is in use?", "asks_if_happy",
     "Would it reassure you"),
    ("Would you feel reassured knowing the van is there?", "asks_if_happy",
     "Would you feel reassured knowing"),
    # presupposes an answer
    ("How much safer would you feel with LFR cameras at the station?", "how_much_better",
     "How much safer"),
    ("How much more confident would you be walking home?", "how_much_better",
     "How much more confident"),
    ("Why is LFR a good idea for the high street?", "why_is_it_good",
     "Why is LFR a good idea"),
    ("Why should residents welcome LFR?", "why_is_it_good", "Why should residents welcome"),
    ("How will LFR help reduce robbery here?", "how_will_it_help", "How will LFR help"),
    ("How much would LFR increase your confidence in policing?", "how_will_it_help",
     "How much would LFR increase"),
    ("Would you feel safer knowing wanted people are being caught?", "asks_if_safer",
     "Would you feel safer"),
    ("Would the cameras make you feel more secure?", "asks_if_safer",
     "make you feel more secure"),
    ("Would you support or oppose LFR if it helped find dangerous sex offenders?",
     "conditional_benefit", "if it helped find"),
    ("Is LFR an acceptable use of technology if it helps find missing children?",
     "conditional_benefit", "if it helps find"),
    ("Would you object to LFR if it meant fewer stabbings?", "conditional_benefit",
     "if it meant fewer"),
    ("LFR helped arrest over 1,000 wanted people last year. What do you think about "
     "using it here?", "claims_a_benefit", "LFR helped arrest"),
    ("The cameras have already caught 40 suspects; should they come back?",
     "claims_a_benefit", "The cameras have already caught"),
    ("Last year 200 people were arrested with the help of LFR. What do you think?",
     "claims_a_benefit", "were arrested with the help of LFR"),
    ("What benefits do you see from LFR being used in Lambeth?", "asks_only_for_benefits",
     "What benefits"),
    ("Do you think residents should have the benefit of LFR?", "asks_only_for_benefits",
     "benefit"),
    ("Don't you think LFR will help find wanted people?", "dont_you_think",
     "Don't you think"),
    ("Don\u2019t you agree the van should come back?", "dont_you_think",
     "Don\u2019t you agree"),
    ("Isn't it time we used modern technology?", "negative_question", "Isn't it"),
    ("Wouldn't it be better to find wanted people quickly?", "negative_question",
     "Wouldn't it"),
    ("Would it not be sensible to use every tool available?", "negative_question",
     "Would it not"),
    ("It makes sense to use the cameras, doesn't it?", "tag_question", "doesn't it?"),
    # loaded language
    ("Should the police use LFR to catch criminals?", "criminals", "criminals"),
    ("Should thugs be able to walk our streets freely?", "criminals", "thugs"),
    ("Would you like the police to keep you safe with LFR?", "keeps_you_safe",
     "keep you safe"),
    ("Should the Met use LFR to keep Croydon safe?", "keeps_you_safe", "keep Croydon safe"),
    ("Would LFR make Brixton's streets safer?", "keeps_you_safe",
     "make Brixton's streets safer"),
    ("Many residents have told us they want LFR. What do you think?", "bandwagon",
     "Many residents have told"),
    ("A growing number of local people support LFR; how do you feel about it?", "bandwagon",
     "A growing number of local people support"),
    ("How should police protect the community from violent crime?", "protects_you",
     "protect the community"),
    ("Obviously LFR helps; where should it be used next?", "tells_the_conclusion",
     "Obviously"),
    ("What do you think of this cutting-edge technology?", "promotional", "cutting-edge"),
    ("What do you think of a system that is highly accurate?", "promotional",
     "highly accurate"),
    ("Innocent people have nothing to fear from LFR; do you have any concerns?",
     "nothing_to_fear", "Innocent people have nothing"),
    ("Law-abiding residents have nothing to hide; should we go ahead?", "nothing_to_fear",
     "Law-abiding residents"),
    ("Given the crime wave near the station, what should police do?", "emotive",
     "crime wave"),
    ("LFR only looks for wanted people. What do you think?", "only_wanted_people",
     "only looks for"),
    ("With a negligible risk of error, what do you think of LFR?", "plays_down_risk",
     "negligible risk"),
    # double-barrelled
    (REAL_EMAIL_QUESTION, "two_questions_in_one", "and would support"),
    ("Do you use the high street, and would you avoid it on the day?",
     "two_questions_in_one", "and would you avoid"),
    ("Do you think LFR is fair and effective?", "two_qualities_in_one",
     "fair and effective"),
    # a benefit asked about alone, and a tool nobody could refuse (left after round two)
    ("Do you believe LFR will help reduce knife crime in Croydon?", "asks_if_it_helps",
     "Do you believe LFR will help reduce"),
    ("Would you agree that the cameras will help deter crime?", "asks_if_it_helps",
     "Would you agree that the cameras will help deter"),
    ("Should the police use every tool available to find wanted people?", "every_tool",
     "every tool available"),
]

#: Ordinary neutral questions a planner might write: none may be flagged.
NEUTRAL = [
    "Do you think LFR will make things better, worse or no different here?",
    "Do you think LFR would help, or make things worse?",
    "Do you think LFR here would reduce crime or not?",
    "Do you think it would help, if at all?",
    "What do you think about the use of live facial recognition on the high street?",
    "What do you think about the use of LFR on the high street?",
    "How, if at all, would LFR cameras affect how you use the high street?",
    "How would LFR here affect how you use the high street?",
    "How, if at all, would it affect how you use the high street that day?",
    "How comfortable or uncomfortable would you feel walking past an LFR van?",
    "To what extent do you support or oppose the use of LFR at this site?",
    "To what extent do you agree or disagree that the signs were easy to understand?",
    "Would you support or oppose a deployment on market day?",
    "Which of these concerns, if any, matter most to you?",
    "What, if anything, would make you more or less likely to visit the market that day?",
    "What information would you want before a deployment?",
    "How did you hear about this deployment?",
    "How much notice would you want before a deployment in your area?",
    "Where should signs be placed so that people see them?",
    "Do you have any questions about how images are handled?",
    "What, if anything, do you see as the benefits and the drawbacks of this deployment?",
    "How clearly did the information sheet explain the risks?",
    "How safe or unsafe do you feel on the high street after dark?",
    "Is there anything else you would like to tell us?",
    "How often do you visit the area around the station?",
    "Would you like to receive notice of future deployments?",
    "How would you prefer to be told about deployments: leaflet, e-mail or a meeting?",
    "What concerns, if any, do you have about being scanned?",
    "Which groups in your community should we speak to?",
    "Have you ever been stopped by police after a facial recognition alert?",
    "How much do you trust the police to use this technology fairly?",
    "Should the police publish the number of false alerts after each deployment?",
    "What do you think of the proposed match threshold of 0.64?",
    "Do you think the deployment would change how you feel in the area?",
    "Why do you think some people support it and others oppose it?",
    "What would help you decide whether to come to a public meeting?",
    "How should the police protect the privacy of people who are scanned?",
    "What should happen to the images of people who are not on the watchlist?",
    "Who should decide who is put on the watchlist?",
    "How long should the police keep images of people who trigger a false alert?",
    "What would you want to know about how the watchlist is built?",
    "Were you aware that LFR was used in Lambeth last year?",
    "How easy or difficult was it to find information about this deployment?",
    "What could the police do differently to explain the deployment?",
    "Is the location of the cameras appropriate, in your view?",
    "How likely or unlikely would you be to avoid the area while the cameras are there?",
    "If you were stopped after an alert, what would you expect the officers to do?",
    "What do you think about the signs planned for each entrance?",
    "Would you want to be told when your face has been scanned?",
    "Please describe any experience you have had with police use of cameras.",
    "Is there a better place or time for this deployment, and why?",
    "How important or unimportant is it to you that results are published?",
    "What, if any, effect would the deployment have on how safe you feel?",
    "Do you know how to complain about a police stop?",
    "Which days of the week do you usually visit the market?",
    "How did the leaflet affect your view, if at all?",
    "Does anyone in your household use the station every day?",
    "What would make the information sheet easier to understand?",
    # near misses of the rules on benefits, safety, reassurance and what others think
    "What do you think about LFR, its benefits and its risks?",
    "How, if at all, would LFR change how safe you feel?",
    "To what extent do you support or oppose LFR?",
    "How supportive or unsupportive are you of LFR here?",
    "How positive or negative do you feel about LFR at the market?",
    "Would you feel more safe, less safe or no different with LFR here?",
    "Would you feel safer or less safe with cameras at the station?",
    "How safe or unsafe would you feel walking past the cameras?",
    "How, if at all, would LFR affect your confidence in policing?",
    "How reassured or concerned would you be to see the van?",
    "What, if anything, do you see as the benefits and the risks of LFR here?",
    "Which benefits and which drawbacks matter most to you, if any?",
    "Some residents support LFR and others oppose it. What do you think?",
    "Many residents use the market on Saturdays; how, if at all, would LFR change your visit?",
    "Many people feel strongly about LFR, for and against; what is your view?",
    "If the cameras found a match, what should officers do first?",
    "If an alert led to you being stopped, how would you expect to be treated?",
    "Would you avoid the area if it meant being scanned?",
    "If LFR were used here, how would it affect you?",
    "Do you think LFR helped reduce crime in Croydon last year?",
    "Were you told how many people the cameras scanned last year?",
    "What would you want Croydon residents to know about LFR?",
    "How could the police keep residents informed about deployments in Croydon?",
]


@pytest.mark.parametrize(("question", "rule", "excerpt"), LEADING,
                         ids=[f"{r}: {q[:40]}" for q, r, _ in LEADING])
def test_leading_wording_is_flagged_with_what_why_and_a_suggestion(
        question: str, rule: str, excerpt: str) -> None:
    issues = leading_question_issues(question)
    matching = [i for i in issues if i.rule == rule]
    assert matching, f"{rule} did not flag {question!r}; flags: {issues}"
    issue = matching[0]
    assert issue.excerpt == excerpt
    assert issue.start is not None and excerpt in question[issue.start:issue.end]
    assert len(issue.problem) > 30 and len(issue.suggestion) > 20
    assert issue.field == "text"


@pytest.mark.parametrize("question", NEUTRAL)
def test_neutral_questions_are_not_flagged(question: str) -> None:
    assert leading_question_issues(question) == []


def test_the_issue_13_misses_are_flagged_in_a_sheet_too() -> None:
    """The wording that slipped through before, as a planner wrote it."""
    sheet = information_sheet_issues(
        "LFR has been extremely successful in other boroughs and is a very valuable tool.",
        "The risk is negligible. " + FAIR_RISKS)
    rules = {i.rule for i in sheet}
    assert {"promotional", "plays_down_risk"} <= rules
    excerpts = {i.excerpt for i in sheet}
    assert {"extremely successful", "very valuable", "risk is negligible"} <= excerpts


def test_a_token_risks_section_fails_on_substance_not_length() -> None:
    """Twenty-two words that name no risk: every concrete risk is flagged as missing."""
    token = ("There are some risks involved in using this technology, which we have "
             "considered carefully, and we are confident they are properly managed.")
    rules = {i.rule for i in information_sheet_issues(FAIR_BENEFITS, token)}
    assert {"names_false_alerts", "names_privacy", "names_unequal_accuracy",
            "names_chilling_effect", "names_data_retention"} <= rules
    assert information_sheet_issues(FAIR_BENEFITS, FAIR_RISKS) == []


def test_the_real_email_is_flagged_on_every_count() -> None:
    """Agreement, presented as a good idea, two questions in one; and its information
    (benefits only) fails the sheet check."""
    concerns = {i.concern for i in leading_question_issues(REAL_EMAIL_QUESTION)}
    assert concerns == {Concern.ASKS_FOR_AGREEMENT, Concern.DOUBLE_BARRELLED}
    sheet = information_sheet_issues(
        "Live facial recognition is cutting-edge technology that helps us catch criminals "
        "and keep the community safe.", "")
    rules = {i.rule for i in sheet}
    assert {"describes_risks", "promotional", "criminals", "keeps_you_safe"} <= rules
    assert all(i.suggestion for i in sheet)


def test_suggestions_are_themselves_neutral() -> None:
    """A suggestion that quotes a question must pass the check it comes from."""
    import re

    for rule in RULES:
        for quoted in re.findall(r'"([^"]+\?)"', rule.suggestion):
            assert leading_question_issues(quoted) == [], (rule.name, quoted)


def test_every_rule_is_exercised_and_has_plain_explanations() -> None:
    assert {r for _, r, _ in LEADING} == {r.name for r in RULES}
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.why.endswith(".") and rule.why[0].isupper(), rule.name
        assert rule.suggestion, rule.name


def test_balanced_wording_is_not_asking_for_agreement() -> None:
    assert leading_question_issues("Do you support LFR here?")
    assert leading_question_issues("Do you support or oppose LFR here?") == []
    assert leading_question_issues("Is LFR here a good idea?")
    assert leading_question_issues("Is LFR here a good or a bad idea?") == []
    assert leading_question_issues("Would you be comfortable with LFR here?")
    assert leading_question_issues(
        "Would you be comfortable or uncomfortable with LFR here?") == []


def test_overlapping_flags_of_one_concern_are_reported_once() -> None:
    issues = leading_question_issues("Don't you agree?")
    assert [i.rule for i in issues] == ["dont_you_think"]


# --- the information sheet --------------------------------------------------------------

def test_a_fair_sheet_passes() -> None:
    assert information_sheet_issues(FAIR_BENEFITS, FAIR_RISKS) == []


def test_a_sheet_without_risks_or_benefits_is_one_sided() -> None:
    issues = information_sheet_issues("", "")
    assert [i.rule for i in issues] == ["states_benefits", "describes_risks"]
    assert all(i.concern is Concern.ONE_SIDED for i in issues)
    short = information_sheet_issues(FAIR_BENEFITS, "Some privacy risk.")
    assert [i.rule for i in short] == ["describes_risks"]
    assert "3 words" in short[0].problem and short[0].field == "risks"


@pytest.mark.parametrize(("missing", "risks"), [
    ("names_false_alerts",
     "The camera scans everyone who passes, which affects their privacy, and accuracy can "
     "differ between demographic groups, so some people may be treated unfairly. People "
     "may avoid the area; faces that match nobody are deleted at once."),
    ("names_privacy",
     "False alerts can lead to people being stopped who are not wanted, and accuracy can "
     "differ between demographic groups, so errors may fall on some more than others. People "
     "may avoid the area; faces that match nobody are deleted at once."),
    ("names_unequal_accuracy",
     "False alerts can lead to people being stopped who are not wanted; the camera scans "
     "everyone who passes, which affects their privacy, and people may avoid the area. An "
     "alert's image is kept for 31 days."),
    ("names_chilling_effect",
     "False alerts can lead to people being stopped who are not wanted; the camera scans "
     "everyone who passes, which affects their privacy; accuracy can differ between "
     "demographic groups; an alert's image is kept for 31 days, then deleted."),
    ("names_data_retention",
     "False alerts can lead to people being stopped who are not wanted; the camera scans "
     "everyone who passes, which affects their privacy; accuracy can differ between "
     "demographic groups; some people may stay away from the market that day."),
])
def test_each_main_risk_must_be_named(missing: str, risks: str) -> None:
    issues = information_sheet_issues(FAIR_BENEFITS, risks)
    assert [i.rule for i in issues] == [missing]
    assert issues[0].suggestion.startswith("Add a sentence such as")


def test_risks_given_far_less_space_than_benefits_is_flagged() -> None:
    long_benefits = " ".join([FAIR_BENEFITS] * 8)
    issues = information_sheet_issues(long_benefits, FAIR_RISKS)
    assert [i.rule for i in issues] == ["balanced_space"]
    assert "benefits take" in issues[0].problem


def test_loaded_language_in_the_sheet_is_located_in_its_part() -> None:
    benefits = "It keeps the high street safe from thugs."
    risks = FAIR_RISKS + " There is a negligible chance of a false alert."
    issues = information_sheet_issues(benefits, risks)
    assert {(i.rule, i.field, i.excerpt) for i in issues} == {
        ("keeps_you_safe", "benefits", "keeps the high street safe"),
        ("criminals", "benefits", "thugs"),
        ("plays_down_risk", "risks", "negligible chance")}
    for i in issues:
        text = benefits if i.field == "benefits" else risks
        assert i.start is not None and text[i.start:i.end] == i.excerpt


def test_question_only_rules_do_not_apply_to_statements_in_the_sheet() -> None:
    """"Fair and effective" in a statement is a claim, not a double-barrelled question."""
    benefits = FAIR_BENEFITS + " The aim is for the deployment to be fair and effective."
    assert information_sheet_issues(benefits, FAIR_RISKS) == []


# --- a closed question's choices ------------------------------------------------------------

#: The red-team's choices: support three ways, no way to oppose, and a loaded slogan.
SLANTED_CHOICES = ["Strongly support", "Support", "Support with conditions",
                   "Keep the criminals off our streets"]


def test_choices_are_checked_for_loaded_language_and_balance() -> None:
    """The question reads neutral; its choices do not."""
    question = "What do you think about LFR on the high street?"
    assert leading_question_issues(question) == []
    issues = leading_question_issues(question, SLANTED_CHOICES)
    assert [(i.rule, i.field) for i in issues] == [("criminals", "options"),
                                                   ("one_sided_choices", "options")]
    loaded, one_sided = issues
    lines = "\n".join(SLANTED_CHOICES)
    assert loaded.start is not None and lines[loaded.start:loaded.end] == "criminals"
    assert one_sided.excerpt == "" and one_sided.concern is Concern.ONE_SIDED
    assert '"Support with conditions"' in one_sided.problem
    assert "no way to oppose" in one_sided.problem
    assert "Neither support nor oppose" in one_sided.suggestion


@pytest.mark.parametrize("choices", [
    ["Strongly support", "Support", "Support with conditions", "Don't know"],
    ["Yes", "Yes, with conditions", "Not sure"],
    ["Agree", "Strongly agree", "Neither agree nor disagree"],
    ["Very favourable", "Favourable", "No opinion"],
    ["Strongly oppose", "Oppose", "Neither support nor oppose"],
])
def test_one_sided_choices_are_flagged(choices: list[str]) -> None:
    assert [i.rule for i in option_issues(choices)] == ["one_sided_choices"]


@pytest.mark.parametrize("choices", [
    ["Yes", "No"],
    ["Support", "Do not support"],
    ["Strongly support", "Tend to support", "Neither support nor oppose", "Tend to oppose",
     "Strongly oppose", "Don't know"],
    ["Agree", "Neither agree nor disagree", "Disagree"],
    ["Support with conditions", "Against"],
    ["I would use it more", "No change", "I would use it less"],
    ["Leaflet", "E-mail", "A public meeting"],
    ["Every day", "Every week", "Less often", "Never"],
])
def test_balanced_or_sideless_choices_are_not_flagged(choices: list[str]) -> None:
    assert option_issues(choices) == []


def test_only_loaded_language_rules_apply_to_a_choice() -> None:
    """A choice is an answer, not a question: "I would support it" asks nothing."""
    assert option_issues(["I would support it", "I would oppose it"]) == []
    assert {i.rule for i in option_issues(["Yes: it keeps our streets safe", "No"])} == {
        "keeps_you_safe"}
    assert {i.rule for i in option_issues(["Yes, like most people", "No",
                                           "Many residents want it"])} == {"bandwagon"}


def test_choice_flags_are_filed_under_their_question() -> None:
    issues = consultation_issues(FAIR_BENEFITS, FAIR_RISKS, [
        ("q1", "What do you think about LFR here?"),
        ("q2", "What do you think about LFR here?")],
        options={"q1": ["Yes", "No"], "q2": SLANTED_CHOICES})
    assert set(issues) == {"q2"}
    assert {i.field for i in issues["q2"]} == {"options"}
    # Without the choices (the earlier callers), only the text is checked.
    assert consultation_issues(FAIR_BENEFITS, FAIR_RISKS,
                               [("q2", "What do you think about LFR here?")]) == {}


# --- the whole consultation and kept flags -------------------------------------------------

def test_consultation_issues_are_filed_by_place() -> None:
    issues = consultation_issues("", "", [("q1", "What do you think of LFR here?"),
                                          ("q2", "Would you support LFR here?")])
    assert set(issues) == {INFORMATION_SHEET, "q2"}


def test_a_reason_covers_only_the_flags_it_was_given_for() -> None:
    issues = consultation_issues(FAIR_BENEFITS, FAIR_RISKS, [
        ("q1", "Would you support LFR here?"),
        ("q2", "Is LFR a good idea, and would you back it?")])
    assert set(unresolved_issues(issues, {})) == {"q1", "q2"}
    reason = {"reason": "x" * 40, "rules": ["asks_for_support"]}
    left = unresolved_issues(issues, {"q1": reason, "q2": reason})
    assert set(left) == {"q2"}  # q2's good-idea and two-in-one flags are not covered
    assert {i.rule for i in left["q2"]} == {"asks_if_good_idea", "two_questions_in_one"}
    assert not is_kept(issues["q1"][0], None)
    assert "q2: " in describe_issues(left) and "'good idea'" in describe_issues(left)


# --- properties ----------------------------------------------------------------------------

_TOPICS = st.sampled_from([
    "the use of LFR on the high street", "cameras at the station", "the watchlist",
    "the signs at each entrance", "the deployment on market day", "the threshold",
    "how images are deleted", "the van outside the library", "notice by e-mail"])
_NEUTRAL_FRAMES = st.sampled_from([
    "What do you think about {}?", "How, if at all, would {} affect you?",
    "What, if anything, concerns you about {}?", "To what extent do you support or oppose {}?",
    "How comfortable or uncomfortable are you with {}?", "What would you change about {}?"])
_LEADING_FRAMES = st.sampled_from([
    "Would you support {}?", "Don't you think {} is needed?", "Is {} a good idea?",
    "How much safer would you feel with {}?", "Do you agree with {}?",
    "Why is {} a good idea?", "Surely {} makes sense?"])


@given(_NEUTRAL_FRAMES, _TOPICS)
def test_neutral_frames_stay_unflagged_whatever_the_topic(frame: str, topic: str) -> None:
    assert leading_question_issues(frame.format(topic)) == []


@given(_LEADING_FRAMES, _TOPICS, st.sampled_from([str.upper, str.lower, str.capitalize]))
def test_leading_frames_are_flagged_whatever_the_topic_and_case(
        frame: str, topic: str, case: object) -> None:
    question = case(frame.format(topic))  # type: ignore[operator]
    assert leading_question_issues(question)


@given(st.lists(st.text(max_size=80), max_size=6))
def test_choice_excerpts_point_into_the_choices_one_per_line(choices: list[str]) -> None:
    lines = "\n".join(choices)
    for issue in option_issues(choices):
        assert issue.field == "options" and issue.problem and issue.suggestion
        if issue.start is not None and issue.end is not None:
            assert issue.excerpt and issue.excerpt in lines[issue.start:issue.end]


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_any_text_is_checked_without_error_and_excerpts_point_into_it(text: str) -> None:
    for issue in leading_question_issues(text) + information_sheet_issues(text, text):
        assert isinstance(issue, WordingIssue) and issue.problem
        if issue.start is not None and issue.end is not None:
            assert issue.excerpt and issue.excerpt in text[issue.start:issue.end]
