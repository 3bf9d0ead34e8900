"""Checks consultation wording for leading questions and one-sided information.

A consultation that describes only benefits and then asks "Is this something that you
think is a good idea, and would support?" measures the wording, not opinion. These checks
flag such patterns so a planner can fix them before the consultation opens, or record why
the wording is kept (the reason is published with the consultation).

The rules are a table (``RULES``): each has a name, the concern it belongs to, a pattern,
why it is a problem in plain English and a neutral alternative. Patterns are regular
expressions matched case-insensitively; ``unless`` is a pattern that, found anywhere in
the same text, shows the wording is balanced (e.g. "support or oppose"). An information
sheet is also checked as a whole (``information_sheet_issues``): it must state benefits
and name the main risks of LFR, with comparable space for both. A closed question's
choices are checked too (``option_issues``): each choice for loaded language, and the set
as a whole for balance (choices that offer support must offer opposition as well).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

#: Where an information sheet's issues are filed (questions are filed under their id).
INFORMATION_SHEET = "information_sheet"


class Concern(StrEnum):
    """The kinds of problem the check looks for."""

    ASKS_FOR_AGREEMENT = "asks_for_agreement"
    PRESUPPOSES_AN_ANSWER = "presupposes_an_answer"
    LOADED_LANGUAGE = "loaded_language"
    DOUBLE_BARRELLED = "double_barrelled"
    ONE_SIDED = "one_sided"


class Part(StrEnum):
    """What a piece of text is: a question, one of its choices, or the information
    sheet's prose."""

    QUESTION = "question"
    OPTION = "option"
    SHEET = "sheet"


@dataclass(frozen=True)
class WordingIssue:
    """One problem found in a piece of consultation text.

    ``excerpt`` is the text concerned (empty when the problem is something missing),
    ``problem`` says why it is a problem, ``suggestion`` offers neutral wording. ``field``
    is the part of the information sheet ("benefits" or "risks"), or of a question
    ("text", or "options": its choices, one per line) and ``start``/``end`` locate the
    excerpt in it (None when nothing is located).
    """

    excerpt: str
    problem: str
    suggestion: str
    rule: str
    concern: Concern
    field: str = "text"
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class WordingRule:
    """A named pattern of leading or loaded wording."""

    name: str
    concern: Concern
    pattern: re.Pattern[str]
    why: str
    suggestion: str
    parts: frozenset[Part]
    unless: re.Pattern[str] | None = None

    def issues(self, text: str, part: Part, field: str) -> list[WordingIssue]:
        """Every match of this rule in ``text`` (none when the rule does not apply)."""
        if part not in self.parts or (self.unless is not None and self.unless.search(text)):
            return []
        return [WordingIssue(excerpt=found.group(0).strip(" ,;"), problem=self.why,
                             suggestion=self.suggestion, rule=self.name,
                             concern=self.concern, field=field, start=found.start(),
                             end=found.end())
                for found in self.pattern.finditer(text)]


def _re(pattern: str) -> re.Pattern[str]:
    # Written with straight apostrophes; curly ones (as word processors type them) match too.
    return re.compile(pattern.replace("'", "['’]"), re.IGNORECASE)


QUESTIONS = frozenset({Part.QUESTION})
EVERYWHERE = frozenset({Part.QUESTION, Part.SHEET})
#: Loaded language is loaded wherever it is, a question's choices included.
EVEN_IN_CHOICES = frozenset(Part)

_NEGATIVE_AUXILIARY = (r"(?:isn't|aren't|wasn't|weren't|don't|doesn't|didn't|won't|wouldn't|"
                       r"shouldn't|can't|couldn't|haven't|hasn't|mustn't)")
_EVALUATIVE = (r"effective|fair|safe|necessary|proportionate|acceptable|appropriate|accurate|"
               r"justified|useful|reasonable|lawful|legal|ethical|helpful")
_ADVERB = r"(?:\w+ly\s+|still\s+|also\s+)?"
_AGREE = r"(?:support|agree|welcome|back|endorse|approve|favou?r)"
#: What a question may call live facial recognition (or the police using it).
_SUBJECT = (r"(?:lfr|it|this|these|(?:live\s+)?facial\s+recognition|the\s+(?:technology|"
            r"cameras?|system|deployments?|van|scheme|operation))")
#: Outcomes that are benefits: finding the people sought, less crime, more safety.
_BENEFIT = (r"(?:wanted|missing|dangerous|violent|serious|offenders?|criminals?|suspects?|"
            r"children|crimes?|stabbings?|robber(?:y|ies)|knife|murder\w*|terror\w*|rapists?|"
            r"lives|safer|safe|fewer|less|lower|reduced|better|more\s+(?:arrests|wanted|"
            r"offenders|missing)|finding|catching|arresting|stopping|preventing|saving|"
            r"protecting|locating|(?:the\s+)?(?:police|officers)\s+(?:could|can|would|were\s+"
            r"able\s+to))")
_ACHIEVES = (r"(?:finds?|found|catch(?:es)?|caught|stops?|stopped|prevents?|prevented|saves?|"
             r"saved|protects?|protected|reduces?|reduced|cuts?|locates?|located|arrests?|"
             r"arrested|takes?|took|gets?|got|keeps?|kept|makes?|made|brings?|brought)")
_FIGURES_SUGGESTION = ("Give the figure and its source instead, e.g. \"about 1 false alert "
                       "in 6,000 faces at this threshold (independent test, NPL 2023)\".")

#: The rules, in the order their flags are listed.
RULES: tuple[WordingRule, ...] = (
    # --- asks for agreement -----------------------------------------------------------
    WordingRule(
        "asks_for_support", Concern.ASKS_FOR_AGREEMENT,
        _re(rf"\b(?:(?:would|will|do|did|could|can|might)\s+you\s+{_ADVERB}{_AGREE}|"
            rf"you\s+(?:\w+\s+){{0,3}}?(?:would|will|might|could)\s+{_ADVERB}{_AGREE}|"
            rf"(?:and|or)\s+(?:would|will)\s+{_ADVERB}{_AGREE}|"
            rf"how\s+(?:strongly|much|far|firmly)\s+(?:do|would|did)\s+you\s+{_ADVERB}{_AGREE}|"
            r"how\s+(?:supportive|favou?rable|keen|enthusiastic|positive)\s+(?:are|were|would|"
            r"do|did)\s+you|how\s+(?:positively|favou?rably)\s+(?:do|would|did)\s+you|"
            r"(?:would|will|are)\s+you\s+(?:\w+\s+)?(?:be\s+)?in\s+favou?r)\b"),
        "It asks people to agree or to give their support, so it measures how willing "
        "people are to say yes (most people lean towards agreeing with whatever they are "
        "asked), not what they think.",
        "Ask for views with both sides open: \"What do you think about the use of LFR "
        "here?\" or \"To what extent do you support or oppose ...?\"",
        EVERYWHERE,
        unless=_re(r"\b(?:oppose|opposed|disagree|disapprove|against|reject|unsupportive|"
                   r"negative(?:ly)?|unfavou?rabl[ey]|unenthusiastic)\b")),
    WordingRule(
        "asks_if_good_idea", Concern.ASKS_FOR_AGREEMENT,
        _re(r"\b(?:good|great|sensible|positive|excellent|welcome)\s+(?:idea|thing|step|"
            r"move|development|initiative)\b"),
        "It presents the proposal as a good idea and asks people to confirm it.",
        "Ask \"What do you think about ...?\", or ask about both sides: \"What, if anything, "
        "do you see as the benefits and the drawbacks of ...?\"",
        EVERYWHERE,
        unless=_re(r"\b(?:bad|poor|drawbacks?|downsides?|disadvantages?)\b")),
    WordingRule(
        "asks_if_happy", Concern.ASKS_FOR_AGREEMENT,
        _re(r"\b(?:would|will|are|were|do)\s+you\s+(?:be\s+|feel\s+)?(?:happy|pleased|glad|"
            r"content|comfortable|reassured)\s+(?:for|with|that|about|if|when|to\s+(?:see|"
            r"know|hear)|knowing|seeing)\b|"
            rf"\b(?:would|will|does|did|could|might|do)\s+(?:{_SUBJECT}|that|the\s+signs?)\s+"
            r"(?:\w+\s+)?(?:reassure|comfort|please)\s+you\b"),
        "It offers only the contented answer (happy, reassured) and invites people to "
        "accept the plan.",
        "Offer both ends of the scale: \"How comfortable or uncomfortable would you feel "
        "if ...?\"",
        QUESTIONS,
        unless=_re(r"\b(?:unhappy|uncomfortable|displeased|concerned|worried)\b")),
    # --- presupposes an answer --------------------------------------------------------
    WordingRule(
        "how_much_better", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\bhow\s+(?:much|far|many\s+times)\s+(?:safer|better|more\s+(?:safe|secure|"
            r"confident|reassured|protected|comfortable)|less\s+(?:afraid|worried|"
            r"anxious|scared))\b"),
        "It takes the answer for granted (that people would feel safer or better); the "
        "only thing left to answer is how much.",
        "\"How, if at all, would LFR here affect how safe you feel?\"",
        QUESTIONS),
    WordingRule(
        "asks_if_safer", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\b(?:(?:would|will|do|did|could|might)\s+you\s+(?:\w+ly\s+)?(?:feel|be)|"
            r"(?:make|makes|made|making)\s+you(?:\s+feel)?)\s+(?:safer|more\s+(?:safe|secure|"
            r"confident|reassured|protected|comfortable)|less\s+(?:afraid|worried|anxious|"
            r"scared|fearful|at\s+risk))\b"),
        "It asks only whether people would feel safer, leaving no room to say they would "
        "feel less safe or no different, so it suggests the answer.",
        "Offer every direction: \"How, if at all, would LFR here change how safe you "
        "feel?\" or \"Would you feel more safe, less safe or no different?\"",
        QUESTIONS,
        unless=_re(r"\bif\s+at\s+all\b|\bor\s+(?:less|more)\b|\bless\s+(?:safe|secure|"
                   r"confident|comfortable)\b|\bunsafe\b|\bno\s+different\b")),
    WordingRule(
        "how_will_it_help", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\bhow\s+(?:much\s+)?(?:will|would|does|can|could|might)\s+(?:lfr|it|this|these|"
            r"(?:live\s+)?facial\s+recognition|the\s+(?:technology|cameras?|system|"
            r"deployment|van|scheme|operation))(?:\s+\w+){0,2}?\s+(?:help|benefit|improve|"
            r"reduce|cut|tackle|prevent|protect|increase|boost|raise|strengthen|enhance|"
            r"lower|decrease|deter)\w*\b"),
        "It assumes the deployment will help; someone who thinks it would not has no "
        "answer to give.",
        "\"How, if at all, would LFR here affect ...?\"",
        QUESTIONS,
        unless=_re(r"\bif\s+at\s+all\b|\bif\s+anything\b")),
    WordingRule(
        "asks_if_it_helps", Concern.PRESUPPOSES_AN_ANSWER,
        _re(rf"\b(?:do|does|did|would)\s+you\s+(?:\w+\s+)?(?:believe|think|agree|feel|expect|"
            rf"accept)\s+(?:that\s+)?{_SUBJECT}\s+(?:will|would|can|could|might|does|is\s+"
            rf"going\s+to)\s+(?:\w+\s+)?(?:help|reduce|cut|tackle|prevent|deter|lower|"
            rf"improve|protect|make)\w*\b"),
        "It asks only whether LFR will bring a benefit: someone who expects it to do harm, "
        "or nothing, is left to say no to a question about something else.",
        "\"What effect, if any, do you think LFR here would have on ...? (better, no "
        "different, worse)\"",
        QUESTIONS,
        unless=_re(r"\bif\s+at\s+all\b|\bor\s+not\b|\bor\s+(?:harm|hurt|make\s+\w+\s+"
                   r"worse|increase)\b|\bworse\b")),
    WordingRule(
        "why_is_it_good", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\bwhy\s+(?:is|are|would|will|should|does|do|might)\s+(?:\w+\s+){0,6}?"
            r"(?:a\s+good\s+idea|good|beneficial|important|necessary|needed|useful|helpful|"
            r"effective|worthwhile|valuable|justified|right|support|welcome)\b"),
        "It asks people to explain why it is good, taking for granted that it is.",
        "\"What, if anything, do you see as the benefits and the drawbacks of ...?\"",
        QUESTIONS,
        unless=_re(r"\bif\s+at\s+all\b|\bor\s+(?:why\s+)?not\b|\b(?:oppose|object|against|"
                   r"worried|concerns?)\b")),
    WordingRule(
        "premise_of_success", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\b(?:given|in\s+(?:light|view)\s+of|considering|because\s+of|thanks\s+to|"
            r"building\s+on|following)\s+(?:its|the|their|lfr's|this|these|such)\s+"
            r"(?:\w+\s+){0,2}?(?:success(?:es)?|effectiveness|proven\s+\w+|positive\s+results|"
            r"achievements|track\s+record)\b|\b(?:has|have)\s+(?:already\s+)?(?:been\s+)?"
            r"(?:proven|shown)\s+(?:to\s+(?:work|be\s+effective)|its\s+worth|effective)\b"),
        "It states a premise (that LFR has succeeded elsewhere) as settled fact and asks "
        "people to build on it; whether it works is one of the things being asked.",
        "Give the evidence in the information sheet with its source and limits (\"In 2024, "
        "N deployments in other boroughs led to M arrests and F false alerts\"), then ask "
        "plainly: \"What do you think about the use of LFR here?\"",
        EVERYWHERE),
    WordingRule(
        "conditional_benefit", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\b(?:if|provided(?:\s+that)?|as\s+long\s+as|so\s+long\s+as|assuming(?:\s+that)?)"
            rf"\s+(?:{_SUBJECT}|they)\s+(?:(?:could|would|can|will|did|does|really)\s+)?"
            r"(?:help(?:s|ed)?(?:\s+(?:to|the\s+police|police|officers))?(?:\s+\w+)?|"
            rf"(?:means?|meant)\s+{_BENEFIT}|(?:leads?|led)\s+to\s+(?:\w+\s+)?{_BENEFIT}|"
            rf"results?(?:ed)?\s+in\s+(?:\w+\s+)?{_BENEFIT}|works?|worked|"
            r"(?:is|was|were|proves?|proved)\s+(?:to\s+be\s+)?(?:\w+\s+)?(?:effective|"
            rf"successful|accurate|reliable)|{_ACHIEVES}\s+(?:\w+\s+){{0,2}}?{_BENEFIT})\b"),
        "It asks about LFR on a condition that assumes a benefit (\"if it helped find "
        "...\"), so people answer the condition, not the proposal as it is; whether it "
        "would do so is one of the things being asked.",
        "Give what it is expected to do in the information sheet, with its evidence and "
        "limits, and ask plainly: \"To what extent do you support or oppose the use of "
        "LFR here?\"",
        QUESTIONS),
    WordingRule(
        "claims_a_benefit", Concern.PRESUPPOSES_AN_ANSWER,
        # Not after "if", "whether", "think": that is a condition or a question about it.
        _re(r"(?<!if\s)(?<!whether\s)(?<!think\s)(?<!believe\s)(?<!that\s)\b"
            rf"(?:{_SUBJECT}|the\s+(?:police|met|force))\s+(?:(?:has|have|had)\s+"
            r"(?:already\s+|successfully\s+)?(?:helped|led|resulted|contributed|enabled|"
            rf"{_ACHIEVES})|(?:already\s+|successfully\s+)?(?:helped(?:\s+(?:to|the\s+police|"
            r"police|officers))?\s+\w+|led\s+to|resulted\s+in|contributed\s+to|enabled|"
            rf"{_ACHIEVES}\s+(?:over|more\s+than|nearly|almost|about|around|some|\d)))|"
            r"\b(?:were|was|have\s+been|has\s+been|had\s+been)\s+(?:arrested|caught|found|"
            r"located|stopped|taken\s+off\s+the\s+streets?|brought\s+to\s+justice)\s+"
            r"(?:\w+\s+){0,3}?(?:with|using|by|thanks\s+to|through|because\s+of)\s+"
            rf"(?:the\s+help\s+of\s+)?{_SUBJECT}\b"),
        "It states a result as fact before asking (\"LFR helped arrest ...\"), so people "
        "answer with only the case for it in mind; results belong in the information "
        "sheet, with their source and what they cost (false alerts).",
        "Give the figures in the information sheet with their source, the false alerts "
        "beside the arrests, and ask plainly: \"What do you think about the use of LFR "
        "here?\"",
        QUESTIONS),
    WordingRule(
        "asks_only_for_benefits", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\b(?:(?:what|which)\s+(?:\w+\s+){0,2}?)?(?:benefits?|advantages?|positives|"
            r"upsides?|good\s+points)\b"),
        "It asks only about benefits, taking for granted that there are some and leaving "
        "the drawbacks unasked.",
        "Ask about both sides: \"What, if anything, do you see as the benefits and the "
        "drawbacks of ...?\"",
        QUESTIONS,
        unless=_re(r"\b(?:drawbacks?|downsides?|disadvantages?|risks?|costs?|concerns?|"
                   r"negatives|harms?|problems?|dangers?|worries)\b")),
    WordingRule(
        "how_effective", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\bhow\s+(?:effective|useful|helpful|beneficial|successful|valuable|important)\s+"
            r"(?:(?:do\s+you\s+(?:think|feel|believe)\s+|would\s+you\s+say\s+)?(?:lfr|it|this|"
            r"these|(?:live\s+)?facial\s+recognition|the\s+(?:technology|cameras?|system|"
            r"deployment|van|scheme|operation))\s+(?:will|would|is|has|could|can|might)|"
            r"(?:will|would|is|are|could|can|might)\s+(?:lfr|it|this|these|(?:live\s+)?facial\s+"
            r"recognition|the\s+(?:technology|cameras?|system|deployment|van|scheme|"
            r"operation))(?:\s+be)?)\b"),
        "It asks how well it works, taking for granted that it does; someone who thinks it "
        "would not has no answer to give.",
        "\"How, if at all, would LFR here affect ...?\"",
        QUESTIONS,
        unless=_re(r"\bif\s+at\s+all\b|\bineffective\b|\bor\s+not\b")),
    WordingRule(
        "dont_you_think", Concern.PRESUPPOSES_AN_ANSWER,
        _re(r"\b(?:don't|do\s+not|wouldn't|would\s+not|can't|cannot)\s+you\s+(?:think|agree|"
            r"feel|believe|accept|see|want)\b"),
        "A negative question (\"Don't you think ...?\") tells people which answer is "
        "expected.",
        "Ask it plainly and openly: \"What do you think about ...?\"",
        EVERYWHERE),
    WordingRule(
        "negative_question", Concern.PRESUPPOSES_AN_ANSWER,
        _re(rf"(?:^|(?<=[.!?;:]\s)|(?<=\n))\s*{_NEGATIVE_AUXILIARY}\s+\w+|\b(?:is|are|would|will|"
            r"should|could|does|do)\s+(?:it|this|that|they|lfr|we)\s+not\b"),
        "A negative question (\"Isn't it ...?\", \"Would it not be ...?\") signals the "
        "answer the asker expects.",
        "Ask it plainly and openly: \"What do you think about ...?\"",
        QUESTIONS),
    WordingRule(
        "tag_question", Concern.PRESUPPOSES_AN_ANSWER,
        _re(rf"[,;]\s*(?:{_NEGATIVE_AUXILIARY}\s*(?:it|they|you|we|there|that|he|she)?|"
            r"right|surely|agreed)\s*\?"),
        "A tag question (\"..., isn't it?\") asks people to confirm a statement.",
        "Drop the tag and ask an open question: \"What do you think about ...?\"",
        QUESTIONS),
    # --- loaded language --------------------------------------------------------------
    WordingRule(
        "criminals", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:criminals|thugs?|yobs?|crooks?|villains?|gangsters?|scum|lowlifes?|"
            r"bad\s+guys|hardened\s+offenders|dangerous\s+offenders|predators|wrong[- ]uns?)\b"),
        "Emotive labels for the people sought make LFR sound aimed only at 'bad people', "
        "although the camera scans everyone who passes.",
        "Say who is sought, plainly: \"people wanted by the police\" or \"people on the "
        "watchlist (for example, wanted for robbery)\".",
        EVEN_IN_CHOICES),
    WordingRule(
        "every_tool", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:every|all\s+the|all)\s+(?:tools?|means|powers?|options?|resources?)\s+"
            r"(?:available|at\s+(?:our|their|its|the\s+police's|your)\s+disposal|we\s+have|"
            r"they\s+have|possible)\b"),
        "It frames LFR as a tool nobody could reasonably refuse the police, not as a choice "
        "with costs to weigh.",
        "Describe it as one option among others, with what it costs: \"LFR is one way the "
        "police could look for people on a watchlist; others are ...\"",
        EVEN_IN_CHOICES),
    WordingRule(
        "keeps_you_safe", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:keep|keeps|keeping|make|makes|making)\s+(?:you|us|everyone|people|"
            r"residents|your\s+(?:family|families|children|kids|community|streets?|area|"
            r"neighbou?rhood|town|high\s+street)|our\s+(?:community|streets?|area|children|"
            r"families|town|neighbou?rhood)|the\s+(?:community|public|area|streets?|"
            r"high\s+street|neighbou?rhood|town|borough|ward)|"
            r"the\s+(?:streets?|people|residents|communit(?:y|ies)|centre)\s+of\s+(?-i:[A-Z])\w+|"
            # a named place: "keep Croydon safe", "make Brixton's streets safer"
            r"(?-i:[A-Z][a-z][\w-]*)(?:'s)?(?:\s+(?-i:[A-Z])[\w-]*){0,2}(?:\s+(?:streets?|"
            r"high\s+street|town\s+centre|communit(?:y|ies)|residents|people|area))?)\s+"
            r"(?:safe|safer|secure|more\s+secure)\b"),
        "It states a hoped-for outcome as a fact, which pushes people towards agreeing; "
        "whether it makes people safer is one of the things being asked.",
        "Say what it is for and what the evidence shows: \"It aims to locate people wanted "
        "for robbery; in past deployments N alerts led to M arrests.\"",
        EVEN_IN_CHOICES),
    WordingRule(
        "protects_you", Concern.LOADED_LANGUAGE,
        _re(r"\bprotect(?:s|ing|ed)?\s+(?:you|us|everyone|residents|people(?!'s)|"
            r"the\s+(?:community|public|vulnerable)|your\s+(?:family|families|children|kids|"
            r"community|streets?|neighbou?rhood)|our\s+(?:community|streets?|children|"
            r"families|neighbou?rhood))\b"),
        "It presents protection as certain, which pushes people towards agreeing.",
        "Say what it is for and what the evidence shows: \"It aims to locate people wanted "
        "for violent offences; in past deployments N alerts led to M arrests.\"",
        EVEN_IN_CHOICES),
    WordingRule(
        "tells_the_conclusion", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:obviously|surely|of\s+course|undoubtedly|unquestionably|needless\s+to\s+"
            r"say|as\s+(?:we\s+all|everyone)\s+knows?|everyone\s+(?:knows|agrees)|most\s+"
            r"people\s+(?:agree|support|want|would\s+agree)|it\s+is\s+(?:clear|obvious)\s+"
            r"that)\b|\bclearly(?=\s*,)"),
        "It tells the reader what to conclude instead of letting them judge.",
        "Remove it; state the fact with its source, or ask the question plainly.",
        EVEN_IN_CHOICES),
    WordingRule(
        "bandwagon", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:many|most|lots\s+of|the\s+majority\s+of|a\s+majority\s+of|(?:a\s+)?"
            r"(?:growing|large|increasing)\s+numbers?\s+of|more\s+and\s+more|thousands\s+of|"
            r"hundreds\s+of|dozens\s+of|numerous|countless|so\s+many|plenty\s+of|nearly\s+all|"
            r"almost\s+all)\s+(?:of\s+)?(?:(?:our|the|your|local|other)\s+)*(?:residents|"
            r"people|locals|shoppers|businesses|traders|parents|families|victims|members\s+of\s+"
            r"the\s+public|londoners|neighbou?rs|you|those\s+we\s+(?:asked|spoke\s+to|met))"
            r"(?:\s+(?:here|locally|in\s+\w+))?,?\s+(?:\w+\s+){0,2}?(?:wants?|wanted|"
            r"supports?|supported|backs?|backed|welcomes?|welcomed|favou?rs?|agreed?|agrees|"
            r"(?:have|has)\s+(?:told|asked|called|said|written|urged|demanded)|told\s+us|"
            r"asked\s+(?:us\s+)?(?:for|to)|called\s+for|urged|demanded|says?|said|believed?|"
            r"would\s+(?:like|welcome|support|back)|are\s+(?:in\s+favou?r|asking|calling|"
            r"demanding|keen))\b"),
        "It tells people what many others think (\"many residents have told us they want "
        "it\"), which pushes them to go along with it; the consultation is there to find "
        "out what people think.",
        "Leave out what others are said to think; if you report earlier views, give the "
        "survey, its figures and both sides: \"In the 2025 ward survey, 41% supported and "
        "37% opposed LFR.\"",
        EVEN_IN_CHOICES,
        unless=_re(r"\bothers\b|\bfor\s+and\s+against\b|\bboth\s+sides\b|\b(?:some|many)\s+"
                   r"(?:\w+\s+){0,3}?(?:oppose|object|do\s+not|don't|are\s+against|"
                   r"disagree)")),
    WordingRule(
        "promotional", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:cutting[- ]edge|state[- ]of[- ]the[- ]art|world[- ](?:class|leading)|"
            r"revolutionary|ground-?breaking|game[- ]chang(?:er|ing)|next[- ]generation|"
            r"(?:highly|extremely|incredibly|very)\s+accurate|(?:100|99(?:\.\d+)?)\s*%\s*"
            r"accurate|foolproof|infallible|never\s+(?:wrong|makes?\s+mistakes)|"
            r"proven\s+(?:to|effective|technology|track\s+record)|"
            r"(?:highly|extremely|incredibly|very|hugely|remarkably|tremendously|enormously)\s+"
            r"(?:successful|effective|valuable|useful|powerful|beneficial)|"
            r"(?:valuable|vital|essential|invaluable|powerful|indispensable|crucial)\s+"
            r"(?:tool|asset|weapon|resource|capability)s?)"),
        "Promotional words invite trust instead of judgement; accuracy is a measured "
        "figure with known limits, including unequal accuracy between groups.",
        _FIGURES_SUGGESTION,
        EVEN_IN_CHOICES),
    WordingRule(
        "nothing_to_fear", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:nothing\s+to\s+(?:hide|fear|worry\s+about)|innocent\s+people\s+(?:have\s+"
            r"nothing|need\s+not|needn't|don't\s+need|should\s+not\s+worry|shouldn't\s+"
            r"worry)|law[- ]abiding\s+(?:people|citizens|residents|members|public|majority|"
            r"citizen|person))"),
        "It dismisses privacy concerns and implies that people who object have something "
        "to hide.",
        "Name the concern and what is done about it: \"The camera scans everyone who "
        "passes; faces that match nobody are deleted at once and never stored.\"",
        EVEN_IN_CHOICES),
    WordingRule(
        "emotive", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:scourge|menace|plague|crime\s+wave|epidemic\s+of|terrori[sz](?:ed|ing)|"
            r"rampant|out\s+of\s+control|lawless(?:ness)?|no[- ]go\s+areas?|war\s+on\s+crime|"
            r"flood(?:ed|ing)?\s+(?:with|by)\s+crime)\b"),
        "Emotive words raise fear and push people towards one answer.",
        "Give the figures and their source: \"Robbery reports near the station rose from "
        "40 to 82 this year (police recorded crime).\"",
        EVEN_IN_CHOICES),
    WordingRule(
        "plays_down_risk", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:minimal|negligible|tiny|minuscule|insignificant|(?:very|extremely)\s+"
            r"(?:small|low|slight|rare|unlikely)|virtually\s+(?:no|zero|nil)|practically\s+"
            r"(?:no|zero)|almost\s+(?:no|zero)|no\s+real)\s+(?:risks?|chances?|dangers?|"
            r"possibility|likelihood|numbers?|impact|intrusion|effects?|errors?)\b|"
            r"\b(?:risks?|chances?|dangers?|likelihood|impact|intrusion|possibility)\s+(?:of\s+"
            r"(?:\w+\s+){1,3})?(?:is|are|was|would\s+be|will\s+be|remains?)\s+(?:\w+\s+)?"
            r"(?:minimal|negligible|tiny|minuscule|insignificant|nil|zero|(?:very|extremely)\s+"
            r"(?:small|low|slight|rare|unlikely))\b"),
        "It plays the risk down with a word instead of a figure.",
        _FIGURES_SUGGESTION,
        EVEN_IN_CHOICES),
    WordingRule(
        "only_wanted_people", Concern.LOADED_LANGUAGE,
        _re(r"\b(?:only|just)\s+(?:looks?\s+for|scans?\s+for|searches\s+for|targets?|"
            r"identifies|catches|(?:is\s+)?interested\s+in|(?:affects?|concerns?)\s+(?:people|"
            r"those|anyone|criminals|offenders|wanted))\b"),
        "It says LFR only concerns the people sought, but the camera scans the face of "
        "everyone who passes.",
        "\"The camera scans the face of everyone who passes and compares it with a "
        "watchlist of N people; faces that match nobody are deleted at once.\"",
        EVEN_IN_CHOICES),
    # --- double-barrelled ---------------------------------------------------------------
    WordingRule(
        "two_questions_in_one", Concern.DOUBLE_BARRELLED,
        _re(r",?\s+and\s+(?:would|will|do|does|should|could|can|might)\s+(?:you\s+)?"
            r"(?:\w+\s+)?(?:support|agree|like|want|welcome|use|feel|think|be|back|accept|"
            r"approve|avoid)\b"),
        "It asks two things at once; someone whose answer differs between them cannot "
        "answer it.",
        "Split it into two questions, one for each part.",
        QUESTIONS),
    WordingRule(
        "two_qualities_in_one", Concern.DOUBLE_BARRELLED,
        _re(rf"\b({_EVALUATIVE})\s+and\s+(?!\1\b)(?:{_EVALUATIVE})\b"),
        "It asks about two qualities at once (for example fair and effective); people may "
        "think one is true and not the other.",
        "Ask about each quality in its own question.",
        QUESTIONS),
)

RULES_BY_NAME: dict[str, WordingRule] = {r.name: r for r in RULES}

# --- the information sheet as a whole -------------------------------------------------

#: Fewest words a risk section may have.
MIN_RISK_WORDS = 20
#: The risks must have at least this share of the benefits' length (in words).
MIN_RISK_TO_BENEFIT_WORDS = 1 / 3


@dataclass(frozen=True)
class RiskTopic:
    """A risk of LFR that every information sheet must name."""

    name: str
    pattern: re.Pattern[str]
    label: str
    example: str


#: The risks a sheet must name (one flag for each one missing).
RISK_TOPICS: tuple[RiskTopic, ...] = (
    RiskTopic(
        "names_false_alerts",
        _re(r"false\s+(?:alerts?|matche?s?|positives?|identifications?)|misidentif\w*|"
            r"wrong\s+person|mistaken\s+identity|wrongly\s+(?:identified|stopped|matched|"
            r"flagged)|match(?:es|ed)?\s+the\s+wrong"),
        "misidentification (false alerts)",
        "\"The system can wrongly match someone who is not on the watchlist; such a false "
        "alert can lead to an innocent person being stopped.\""),
    RiskTopic(
        "names_privacy",
        _re(r"privacy|private\s+life|personal\s+data|biometric|data\s+protection|"
            r"surveillance|(?:scans?|sees?|captures?|records?)\s+(?:the\s+faces?\s+of\s+)?"
            r"(?:every(?:one|body)|all)"),
        "privacy (everyone passing is scanned)",
        "\"The camera scans the face of everyone who passes, which affects their "
        "privacy.\""),
    RiskTopic(
        "names_unequal_accuracy",
        _re(r"\bbias(?:ed)?\b|unequal\w*|\bdiffer\w*\s+(?:\w+\s+)?(?:between|by|across|for)\b|"
            r"demographic|disproportionat\w*|ethnic\w*|\brac(?:e|ial)\b|skin\s+(?:tone|colou?r)|"
            r"\bequality\b|\bunfair\w*"),
        "unequal accuracy between groups (bias)",
        "\"Accuracy can differ between demographic groups, so false alerts may fall more "
        "on some people than others.\""),
    RiskTopic(
        "names_chilling_effect",
        _re(r"\bavoid\w*|\bdeter\w*|stay\s+away|feel\s+(?:watched|monitored|uneasy|"
            r"uncomfortable)|\bchill\w*|\bprotest\w*|\bassembl\w*|self-?censor\w*|"
            r"behave\s+differently|less\s+likely\s+to\s+(?:visit|go|come|use|attend|speak)|"
            r"put\s+(?:\w+\s+)?off\s+(?:visiting|going|coming)"),
        "the chilling effect (people avoiding the area or deterred from gathering)",
        "\"Some people may avoid the area, or feel deterred from meeting or protesting "
        "there, while the cameras are in use.\""),
    RiskTopic(
        "names_data_retention",
        _re(r"\bretain\w*|\bretention\b|\bdelet\w*|\bdiscard\w*|\bdestroy\w*|\berase\w*|"
            r"how\s+long|(?:kept|stored|held)\s+(?:\w+\s+){0,3}?(?:for|until|no\s+longer)|"
            r"never\s+(?:stored|kept|recorded|written)"),
        "data retention (what is kept, and for how long)",
        "\"Faces that match nobody are deleted at once; an alert's image is kept for up to "
        "31 days for checks and complaints, then deleted.\""),
)

_WORD = re.compile(r"[\w'’-]+")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _rule_issues(text: str, part: Part, field: str) -> list[WordingIssue]:
    """Every rule's matches, without repeating the same concern for overlapping text."""
    found: list[WordingIssue] = []
    for rule in RULES:
        for issue in rule.issues(text, part, field):
            if not any(_overlap(issue, other) and issue.concern is other.concern
                       for other in found):
                found.append(issue)
    return found


def _overlap(a: WordingIssue, b: WordingIssue) -> bool:
    return (a.start is not None and b.start is not None and a.end is not None
            and b.end is not None and a.start < b.end and b.start < a.end)


def leading_question_issues(question: str,
                            options: Sequence[str] = ()) -> list[WordingIssue]:
    """Leading, loaded or double-barrelled wording in one consultation question, and in
    its choices when it has some (see ``option_issues``); empty when it reads neutral."""
    return _rule_issues(question, Part.QUESTION, "text") + option_issues(options)


# --- a closed question's choices --------------------------------------------------------

#: Where a question's choices are flagged; excerpts are located in the choices written
#: one per line, as the builder shows them.
OPTIONS = "options"

#: A choice that takes no side, or both ("Neither support nor oppose", "Don't know").
_MIDDLE_CHOICE = _re(r"\bneither\b|\bno\s+(?:opinion|view|preference|strong\s+feelings?)\b|"
                     r"\bdon't\s+know\b|\bnot\s+sure\b|\bunsure\b|\bundecided\b|"
                     r"\bprefer\s+not\b|\bmixed\b|\bit\s+depends\b")
#: A choice on the side against (checked before the side for: "Do not support").
_AGAINST_CHOICE = _re(r"\b(?:oppos\w*|against|disagree\w*|disapprov\w*|object\w*|reject\w*|"
                      r"unsupportive|unfavou?rabl[ey]|negative|bad\s+idea|(?:do\s+not|don't|"
                      r"would\s+not|wouldn't|not|never)\s+(?:\w+\s+)?(?:support|agree|approve|"
                      r"favou?r|back|welcome|want)\w*)\b|^\s*no\b(?!\s+(?:change|difference|"
                      r"effect|opinion|view|preference|idea))")
#: A choice on the side for.
_FOR_CHOICE = _re(r"\b(?:support\w*|agree\w*|approv\w*|in\s+favou?r|favou?rabl[ey]|welcom\w*|"
                  r"for\s+it|back\s+it|positive|good\s+idea)\b|^\s*yes\b")

_BALANCED_CHOICES = ("Offer both sides and a middle, the same number on each side: "
                     "\"Strongly support / Tend to support / Neither support nor oppose / Tend "
                     "to oppose / Strongly oppose / Don't know\".")


def _side(choice: str) -> str | None:
    """"for", "against", or None for a choice that takes no side (or both)."""
    if _MIDDLE_CHOICE.search(choice):
        return None
    if _AGAINST_CHOICE.search(choice):
        return "against"
    if _FOR_CHOICE.search(choice):
        return "for"
    return None


def option_issues(options: Sequence[str]) -> list[WordingIssue]:
    """Problems with a closed question's choices: loaded language in any choice (the same
    rules as in a question), and a one-sided set: choices that offer support or agreement
    with no way to oppose or disagree (or the reverse) make the results lean one way
    whatever people think. ``start``/``end`` locate an excerpt in the choices written one
    per line."""
    issues: list[WordingIssue] = []
    offset = 0
    for choice in options:
        issues += [replace(i, start=None if i.start is None else i.start + offset,
                           end=None if i.end is None else i.end + offset)
                   for i in _rule_issues(choice, Part.OPTION, OPTIONS)]
        offset += len(choice) + 1
    sides: dict[str, list[str]] = {"for": [], "against": []}
    for choice in options:
        side = _side(choice)
        if side is not None:
            sides[side].append(choice)
    for offered, missing, verbs in (("for", "against", ("support", "oppose")),
                                    ("against", "for", ("oppose", "support"))):
        if sides[offered] and not sides[missing]:
            listed = ", ".join(f'"{c.strip()}"' for c in sides[offered])
            issues.append(WordingIssue(
                "", f"The choices let people {verbs[0]} it ({listed}) but give no way to "
                f"{verbs[1]} it, so the results can only lean one way, whatever people "
                "think.", _BALANCED_CHOICES, rule="one_sided_choices",
                concern=Concern.ONE_SIDED, field=OPTIONS))
    return issues


def information_sheet_issues(benefits: str, risks: str) -> list[WordingIssue]:
    """Problems with an information sheet: it must state benefits, name the concrete
    risks (misidentification, privacy, bias, the chilling effect, data retention) in
    comparable space, and use no loaded language. A word count alone is not substance:
    each risk missing is flagged, however long the section."""
    issues: list[WordingIssue] = []
    if not benefits.strip():
        issues.append(WordingIssue(
            "", "The information sheet states no benefits: people cannot weigh a proposal "
            "whose purpose is not given.",
            "Say what the deployment is for and what it is expected to achieve, with the "
            "evidence: \"It aims to locate people wanted for robbery near the station.\"",
            rule="states_benefits", concern=Concern.ONE_SIDED, field="benefits"))
    risk_words, benefit_words = _words(risks), _words(benefits)
    if risk_words < MIN_RISK_WORDS:
        issues.append(WordingIssue(
            _normalised(risks)[:80],
            f"The risks are described in {risk_words} word{'s' if risk_words != 1 else ''} "
            f"(at least {MIN_RISK_WORDS} are needed): an information sheet that gives only "
            "the benefits leads people towards supporting the proposal.",
            "Describe the risks as plainly as the benefits: misidentification (false alerts), "
            "privacy, unequal accuracy between groups (bias), people avoiding the area "
            "(the chilling effect), and what is kept and for how long (data retention).",
            rule="describes_risks", concern=Concern.ONE_SIDED, field="risks"))
    else:
        for topic in RISK_TOPICS:
            if not topic.pattern.search(risks):
                issues.append(WordingIssue(
                    "", f"The risks do not mention {topic.label}, one of the main risks of "
                    "live facial recognition.",
                    f"Add a sentence such as {topic.example}",
                    rule=topic.name, concern=Concern.ONE_SIDED, field="risks"))
        if benefit_words * MIN_RISK_TO_BENEFIT_WORDS > risk_words:
            issues.append(WordingIssue(
                "", f"The benefits take {benefit_words} words and the risks only {risk_words}: "
                "a sheet that gives the benefits far more space than the risks is one-sided.",
                "Give the risks comparable space, or shorten the benefits.",
                rule="balanced_space", concern=Concern.ONE_SIDED, field="risks"))
    issues += _rule_issues(benefits, Part.SHEET, "benefits")
    issues += _rule_issues(risks, Part.SHEET, "risks")
    return issues


def consultation_issues(benefits: str, risks: str, questions: Iterable[tuple[str, str]],
                        options: Mapping[str, Sequence[str] | None] | None = None
                        ) -> dict[str, list[WordingIssue]]:
    """Every problem, by where it is: ``INFORMATION_SHEET`` and each question id (only
    the places with problems). ``questions`` are (id, text) pairs; ``options`` are the
    choices of the closed questions, by question id (their flags are filed under it)."""
    issues: dict[str, list[WordingIssue]] = {}
    sheet = information_sheet_issues(benefits, risks)
    if sheet:
        issues[INFORMATION_SHEET] = sheet
    for qid, text in questions:
        found = leading_question_issues(text, (options or {}).get(qid) or ())
        if found:
            issues[qid] = found
    return issues


# --- flags kept on purpose --------------------------------------------------------------

#: Shortest reason accepted for keeping flagged wording (it is published).
MIN_REASON_CHARS = 40


def is_kept(issue: WordingIssue, exception: Mapping[str, Any] | None) -> bool:
    """Whether a recorded reason covers this flag: it was given for this place and named
    this rule (a flag that appeared after the reason was written is not covered)."""
    return exception is not None and issue.rule in exception.get("rules", ())


def unresolved_issues(issues: Mapping[str, Sequence[WordingIssue]],
                      exceptions: Mapping[str, Mapping[str, Any]]
                      ) -> dict[str, list[WordingIssue]]:
    """The flags no recorded reason covers: these stop a consultation from opening."""
    left: dict[str, list[WordingIssue]] = {}
    for where, found in issues.items():
        open_ = [i for i in found if not is_kept(i, exceptions.get(where))]
        if open_:
            left[where] = open_
    return left


def awaiting_countersignature(issues: Mapping[str, Sequence[WordingIssue]],
                              exceptions: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The places whose flagged wording is kept by a planner's reason that no member of
    oversight has countersigned yet: kept wording needs two people, like an override."""
    return [where for where, found in issues.items()
            if any(is_kept(i, exceptions.get(where)) for i in found)
            and not (exceptions.get(where) or {}).get("countersigned_by")]


def describe_issues(issues: Mapping[str, Sequence[WordingIssue]]) -> str:
    """The flags in one line, for an error message."""
    return "; ".join(f"{where}: {i.problem}" + (f" ({i.excerpt!r})" if i.excerpt else "")
                     for where, found in issues.items() for i in found)
