"""Knowledge retrieval over an avatar's documents: BM25 over short passages.

Documents are plain text or Markdown, up to ~50k tokens per avatar. They are split into passages of a
paragraph or so (headings stay attached to the text under them, so a question naming a section finds
it), and ranked with Okapi BM25 — lexical, instant to build per session, and good enough to ground a
spoken answer; no embedding model to download.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

PASSAGE_WORDS = 90  # long paragraphs are cut at sentence ends near this size

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
# Function words carry no topic; keeping them lets "what is the …" match every passage.
_FUNCTION_WORDS = """a an and are as at be been but by can could do does did for from had has have how i if in
into is it its me my no not of on or our please so tell than that the their them then there these they this to
us was we were what when where which who why will with would you your about any just know"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())


@dataclass(frozen=True)
class KnowledgeDocument:
    name: str
    content: str


@dataclass(frozen=True)
class Passage:
    document: str
    text: str
    heading: str = ""

    @property
    def searchable(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


def tokenize(text: str) -> list[str]:
    """Lower-case content words, lightly stemmed so `parking`, `parked` and `park` meet."""
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def stem(word: str) -> str:
    """Strip the commonest English suffixes (plural `s`, `ing`, `ed`, final `e`): crude and consistent."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def split_passages(document: KnowledgeDocument) -> list[Passage]:
    passages: list[Passage] = []
    heading = ""
    for block in re.split(r"\n\s*\n", document.content):
        lines = []
        for line in block.strip().splitlines():
            match = _HEADING.match(line)
            if match:
                heading = match.group(1).strip()
            elif line.strip():
                lines.append(line.strip().lstrip("-*• ").strip())
        body = " ".join(lines)
        if not body:
            continue
        passages.extend(Passage(document.name, chunk, heading) for chunk in _chunks(body))
    return passages


def _chunks(body: str) -> Iterable[str]:
    current: list[str] = []
    size = 0
    for sentence in sentences(body):
        words = len(sentence.split())
        if current and size + words > PASSAGE_WORDS:
            yield " ".join(current)
            current, size = [], 0
        current.append(sentence)
        size += words
    if current:
        yield " ".join(current)


class KnowledgeBase:
    def __init__(self, documents: Sequence[KnowledgeDocument]) -> None:
        self.passages = [passage for document in documents for passage in split_passages(document)]
        corpus = [tokenize(passage.searchable) for passage in self.passages]
        self._index = BM25Okapi(corpus) if any(corpus) else None

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        """The best passages for `query`, best first; only passages sharing a content word with it."""
        terms = tokenize(query)
        if self._index is None or not terms:
            return []
        scores = self._index.get_scores(terms)
        wanted = set(terms)
        ranked = sorted(range(len(self.passages)), key=lambda i: float(scores[i]), reverse=True)
        hits = []
        for i in ranked:
            # BM25 floors the IDF of very common terms, so a bare score > 0 does not mean a match.
            if wanted.isdisjoint(tokenize(self.passages[i].searchable)):
                continue
            hits.append(Hit(self.passages[i], float(scores[i])))
            if len(hits) == limit:
                break
        return hits


def best_sentence(passage: Passage, query: str) -> str:
    """The sentence of `passage` that best matches `query`: words rare among its sentences count most."""
    terms = set(tokenize(query))
    parts = sentences(passage.text) or [passage.text]
    words = [set(tokenize(sentence)) for sentence in parts]
    weight = {
        term: math.log(1 + len(parts) / sum(term in w for w in words))
        for term in terms
        if any(term in w for w in words)
    }
    scores = [sum(weight.get(term, 0.0) for term in w & terms) for w in words]
    return parts[max(range(len(parts)), key=lambda i: (scores[i], -i))]
