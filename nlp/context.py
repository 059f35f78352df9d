"""Find context that lowers or cancels a flag: genre cues, and cues scoped to one mention.

Genre cues (news, law enforcement, research, harm reduction, medical, a buyer's "wanted", a
complaint about a seller, merchandise) come from `cues.toml`. Those that describe one item
(`BLOCK_SCOPED_KINDS`) are scoped to the block (line) they stand in, as medspaCy's ConText
scopes a modifier; news, law enforcement and research describe the page. A cue in a short
block that names no substance (a menu or sidebar item: "Testing kits") is site boilerplate
and counts for nothing, unless the block stands right under one that names a substance: then
it is that item's description and governs it ("Diazepam 5mg tablets" over "Prescription only
medicine."). Block-scoped cues count for nothing when the text has an offer block free of
them -- a block naming a substance beside its own sale evidence ("naloxone" on one product
card does not cancel the other cards). A text of one block (a title, a paragraph) is judged
as a whole.

A mention is *neutralised* -- it names a substance without offering it --
when it is negated ("no fentanyl", "fentanyl-free"), asked about ("What are nitazenes?") or
part of a harm-reduction product ("fentanyl test strips", "detects carfentanil"), or only the
topic of a statement ("fentanyl precursors", "stronger than fentanyl"). Topic is not a context
kind of its own: it only keeps the mention from counting as something offered.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from nlp.analysis import CONTEXT_KINDS
from nlp.cues import KindFilter
from nlp.mentions import MentionHit

# Cue kinds that govern only the blocks they stand in; news, law-enforcement and research cues
# describe the page as a whole (a story's paragraphs do not each repeat "police said").
BLOCK_SCOPED_KINDS = frozenset({"harm_reduction", "medical", "wanted", "complaint", "merchandise"})
# A block of at most this many words that names no substance is a menu or sidebar item.
BOILERPLATE_WORDS = 5
_WORDS = re.compile(r"\w+")

# "[.!?;]+(?=\s|$)|\n", written to start on one character class so that the engine skips
# straight to the candidates (a pattern starting with a repeat or an alternation of classes
# is tried at every position).
_BOUNDARY = re.compile(r"[.!?;\n](?:(?<=\n)|(?<=[.!?;])[.!?;]*(?=\s|$))")
_OPENERS = " \t\"'*-\u2022>([:"
_QUESTION_START = re.compile(
    r"(?:what|why|how|who|where|when|which|is|are|was|were|does|do|did|can|could|should|would"
    r"|will|has|have|anyone|anybody|any1)(?!\w)"
    # "Do you need ...?", "Anyone need carfentanil?": a vendor's pitch, not a question.
    r"(?![ \t]+(?:you|u|ya|we|need|needs|want|wants|looking|interested)(?!\w))",
    re.I,
)
_NEGATION_BEFORE = re.compile(
    r"(?:(?<!\w)(?:no|not|never|without|zero|nor|non)|n't|(?<!\w)free (?:of|from))"
    r"(?:[ \t]+[\w'/-]+){0,2}[ \t]*$",
    re.I,
)
# A seller saying what it does not sell: "We do not supply controlled substances or precursors
# such as 4-ANPP", "we never sell fentanyl analogues" (the rest of the sentence is governed).
_SUPPLY_NEGATED = re.compile(
    r"(?<!\w)(?:(?:do|does|did|will|would|can|could|shall)(?:[ \t]+not|n't)|never|cannot|won't)"
    r"[ \t]+(?:supply|sell|stock|ship|offer|provide|carry|deal[ \t]+in|list|export|trade)(?!\w)"
    r"[^.!?\n]{0,100}$",
    re.I,
)
_NEGATION_AFTER = re.compile(r"[ \t]*-?[ \t]*free(?!\w)", re.I)
_PRODUCT_AFTER = re.compile(
    r"[ \t]*-?[ \t]*(?:test(?:ing)?[ \t]*(?:strips?|kits?|cards?)|detection|reagents?)(?!\w)", re.I
)
_PRODUCT_BEFORE = re.compile(
    r"(?<!\w)(?:detects?|detecting|detection of|tests? for|testing for|screens? for|screening for"
    r"|presence of|identif(?:y|ies|ying)|distinguish(?:es)?|reacts? with)(?!\w)[^.!?\n]{0,80}$",
    re.I,
)
# The substance as the topic of a statement, not the thing on offer: "fentanyl precursors",
# "a nitazene overdose", "chemicals used to make fentanyl", "stronger than fentanyl".
_TOPIC_AFTER = re.compile(
    r"[ \t]*-?[ \t]*(?:precursors?|overdoses?|deaths?|poisonings?|crisis|epidemic|exposure"
    r"|trafficking|traffickers?|seizures?|use disorder|addiction|awareness|vaccines?|antidotes?"
    r"|dependence|dependency|withdrawal|detox"
    r"|derivatives?|related)(?!\w)",
    re.I,
)
_TOPIC_BEFORE = re.compile(
    r"(?<!\w)(?:used to make|to make|to produce|to manufacture|synthesis of"
    r"|precursors? (?:of|for|to)|overdoses?|deaths?|poisonings?|stronger than|weaker than"
    r"|more potent than|(?:mixed|cut|laced) (?:into|with)|sold as|disguised as|made from"
    r"|derived from)(?!\w)[^.!?\n]{0,40}$",
    re.I,
)
_NEGATION_WINDOW = 48
_PRODUCT_WINDOW = 120
_TOPIC_WINDOW = 64


@dataclass(frozen=True, slots=True)
class ContextResult:
    """Context found in a text."""

    kinds: tuple[str, ...]  # in CONTEXT_KINDS order
    cues: dict[str, tuple[str, ...]]  # kind -> distinct cues, in order of appearance
    neutralised: dict[int, str]  # index of a mention -> context kind (or "topic") neutralising it
    # kind -> cues that did not count: site boilerplate, or outside the offer blocks
    outside: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Sentences:
    """Sentence boundaries of a text, for finding the sentence around a span.

    Found on the first question: most texts name no substance and never ask one.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.marks: list[str] = []
        self._found = False

    def _find(self) -> None:
        matches = list(_BOUNDARY.finditer(self.text))
        self.starts = [m.start() for m in matches]
        self.ends = [m.end() for m in matches]
        self.marks = [m.group() for m in matches]
        self._found = True

    def around(self, start: int, end: int) -> tuple[int, int, str]:
        """Return (sentence start, sentence end, terminating punctuation) around a span."""
        if not self._found:
            self._find()
        i = bisect_right(self.ends, start) - 1
        sentence_start = self.ends[i] if i >= 0 else 0
        j = bisect_left(self.starts, end)
        if j < len(self.starts):
            return sentence_start, self.starts[j], self.marks[j]
        return sentence_start, len(self.text), ""


def _scope(text: str, hit: MentionHit, sentences: _Sentences) -> tuple[str, str] | None:
    """Return (context kind, cue) if the mention is not an offer of the substance."""
    start, end = hit.norm_start, hit.norm_end
    sentence_start, sentence_end, mark = sentences.around(start, end)
    product = _PRODUCT_AFTER.match(text, end)
    if product is not None:
        return "harm_reduction", product.group().strip(" \t-").lower()
    before = _PRODUCT_BEFORE.search(text, max(sentence_start, start - _PRODUCT_WINDOW), start)
    if before is not None:
        return "harm_reduction", before.group().split()[0].lower()
    topic = _TOPIC_AFTER.match(text, end)
    if topic is None:
        topic = _TOPIC_BEFORE.search(text, max(sentence_start, start - _TOPIC_WINDOW), start)
    if topic is not None:
        return "topic", topic.group().strip(" \t-").split()[0].lower()
    negation = _NEGATION_BEFORE.search(text, max(sentence_start, start - _NEGATION_WINDOW), start)
    if negation is not None:
        return "negation", negation.group().strip().lower()
    refusal = _SUPPLY_NEGATED.search(text, sentence_start, start)
    if refusal is not None:
        return "negation", " ".join(refusal.group().split()[:3]).lower()
    if _NEGATION_AFTER.match(text, end):
        return "negation", "-free"
    if "?" in mark:
        sentence = text[sentence_start:sentence_end].lstrip(_OPENERS)
        if _QUESTION_START.match(sentence):
            return "question", (sentence[:60] + mark).lower()
    return None


_POSSESSIVE_BEFORE = re.compile(
    r"(?<!\w)(?:our|my)[ \t]+(?:own[ \t]+|new[ \t]+|premium[ \t]+)?$", re.I
)


def vendor_voice(text: str, hit: MentionHit) -> tuple[int, int] | None:
    """Return the span of "our <substance>" when a seller speaks of its product, else None.

    "Our 3-MMC is lab tested" is a shop's voice; "our fentanyl crisis" is a topic.
    """
    start, end = hit.norm_start, hit.norm_end
    before = _POSSESSIVE_BEFORE.search(text, max(0, start - 20), start)
    if before is None or _TOPIC_AFTER.match(text, end):
        return None
    return before.start(), end


def line_starts(text: str) -> list[int]:
    """Return the start of every line of the text (the first is 0)."""
    starts = [0]
    at = text.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


def find_context(
    text: str,
    hits: Sequence[MentionHit],
    matcher: KindFilter,
    sale_spans: Sequence[tuple[int, int]] = (),
) -> ContextResult:
    """Find genre cues in the normalised text and the mentions they or local cues neutralise.

    `sale_spans` are the spans of sale evidence in the normalised text: with them, a block
    naming a substance beside one is an offer block, which block-scoped cues must reach.
    """
    starts = line_starts(text)
    named_blocks = {bisect_right(starts, h.norm_start) - 1 for h in hits}

    def block_of(position: int) -> int:
        return bisect_right(starts, position) - 1

    def boilerplate(block: int) -> bool:
        if block in named_blocks or block - 1 in named_blocks or len(starts) == 1:
            return False  # named, or the description under a named heading
        end = starts[block + 1] if block + 1 < len(starts) else len(text)
        return len(_WORDS.findall(text, starts[block], end)) <= BOILERPLATE_WORDS

    cues: dict[str, dict[str, None]] = {}
    outside: dict[str, dict[str, None]] = {}
    scoped_blocks: set[int] = set()
    scoped_cues: list[tuple[str, str]] = []
    for found in matcher.find(text):
        block = block_of(found.start)
        if boilerplate(block):
            outside.setdefault(found.kind, {})[found.value] = None
        elif found.kind in BLOCK_SCOPED_KINDS:
            scoped_cues.append((found.kind, found.value))
            scoped_blocks.add(block)
            if block not in named_blocks and block - 1 in named_blocks:
                # A description governs the heading right above it ("Diazepam 5mg tablets"
                # over "Prescription only medicine. ..."): one item, two lines.
                scoped_blocks.add(block - 1)
        else:
            cues.setdefault(found.kind, {})[found.value] = None
    neutralised: dict[int, str] = {}
    sentences = _Sentences(text)
    for index, hit in enumerate(hits):
        scoped = _scope(text, hit, sentences)
        if scoped is not None:
            kind, cue = scoped
            neutralised[index] = kind
            if kind in BLOCK_SCOPED_KINDS:
                # "free fentanyl test strips" in a moderator's reply cancels no vendor's post.
                scoped_cues.append((kind, cue))
                scoped_blocks.add(block_of(hit.norm_start))
            elif kind in CONTEXT_KINDS:
                cues.setdefault(kind, {})[cue] = None
    sale_blocks = {block_of(start) for start, _ in sale_spans}
    offer_blocks = {
        block_of(h.norm_start) for i, h in enumerate(hits) if i not in neutralised
    } & sale_blocks
    free = len(starts) > 1 and bool(offer_blocks - scoped_blocks)
    for kind, value in scoped_cues:
        (outside if free else cues).setdefault(kind, {})[value] = None
    return ContextResult(
        kinds=tuple(k for k in CONTEXT_KINDS if k in cues),
        cues={k: tuple(cues[k]) for k in CONTEXT_KINDS if k in cues},
        neutralised=neutralised,
        outside={k: tuple(v) for k, v in outside.items() if k not in cues},
    )
