"""A toy three-task corpus generated in code, so the quickstart runs with no download.

The sentences come from a small English-like grammar and a fixed seed per split, so every
machine gets the same corpus and nothing is shipped as a file. The grammar is built to be
learnable but not trivial, the way the real tasks are:

- context decides some tags: "Florence", "Jordan", "Kent", "Sydney" and "Chelsea" are people
  as subjects or after "met" and places after "in"/"to"/"from"/"near" or "visited"; "May" is
  a surname and a month; "plans", "reports", "cuts" and "increases" are NNS in a noun phrase
  and VBZ after a subject; "Vasland" is a place alone and part of an organisation in
  "Vasland Telecom";
- entity and chunk boundaries differ: "the Bank of Zorvia" is one ORG over three chunks, and
  "the Zorvian minister" has a MISC inside a noun phrase;
- dev and test draw about a quarter of their names from pools train never uses, so a model
  has to read context and word shape rather than memorise names.

Each token carries a Penn-like POS tag, a BIO chunk tag and a BIO NER tag.

Generated here; the ``embedded`` dataset reader (``embedded.py``) serves it to tasks, and
``ssl corpus`` writes it as CoNLL files (``write_conll``).
"""
from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Literal, TypeVar

from sparse_sharing.files import atomic_write

T = TypeVar("T")
Token = tuple[str, str, str, str]  # word, POS, chunk (BIO), NER (BIO)
Split = Literal["train", "dev", "test"]

SPLITS: tuple[str, ...] = ("train", "dev", "test")
_SIZES = {"train": 2000, "dev": 300, "test": 300}
_SEEDS = {"train": 2020_02_07, "dev": 2020_02_08, "test": 2020_02_09}
_NOVEL_NAME_RATE = {"train": 0.0, "dev": 0.25, "test": 0.25}
_MIN_TOKENS, _MAX_TOKENS = 8, 25
_DOCSTART = "-DOCSTART- -X- O O"
COLUMNS = {"pos": 1, "chunk": 2, "ner": 3}  # a tag column's place in the files `write_conll` writes
FILE_SCHEMES = {"pos": "none", "chunk": "bio", "ner": "bio"}  # how those files encode spans

# Names. Each pool is (seen in every split, seen only in dev/test).
_PLACE_OR_PERSON = ["Florence", "Jordan", "Kent", "Sydney", "Chelsea"]
_FIRST = (["Anna", "Tom", "Maria", "Piotr", "Lena", "David", "Sara", "Ivan", "Grace", "Omar"]
          + ["Florence", "Sydney", "Chelsea", "Jordan"],
          ["Nadia", "Felix", "Ingrid", "Tariq", "Mei"])
_LAST = (["Kowalski", "Berg", "Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "May", "Reyes"]
         + ["Jordan", "Kent"],
         ["Petrov", "Achebe", "Sorensen", "Quispe", "Duval"])
_PLACES = ([("Zorvia",), ("Elara",), ("Vasland",), ("Oslo",), ("Lagos",), ("Quito",), ("New", "York"),
            ("Port", "Elara"), ("North", "Vasland"), ("San", "Remo")] + [(p,) for p in _PLACE_OR_PERSON],
           [("Kirovo",), ("Tessaly",), ("Brannock",), ("East", "Marwick"), ("Lake", "Tovin")])
_ORGS = ([("Bank", "of", "Zorvia"), ("Ministry", "of", "Trade"), ("Kestrel", "Motors"), ("United", "Farmers"),
          ("Vasland", "Telecom"), ("Nordex",), ("Altura",), ("Elara", "Airways")],
         [("Bank", "of", "Tessaly"), ("Helix", "Systems"), ("Ostrava", "Steel"), ("Corvane",)])
_MISC_ADJECTIVES = (["Zorvian", "Vaslandic", "Elaran", "European"], ["Tessalian", "Kirovan"])
_MISC_NAMES = ([("World", "Cup"), ("Harvest", "Festival"), ("Olympic", "Games")],
               [("Winter", "Regatta"), ("Golden", "Lyre")])
_CAPITAL_PLACES = ["Zorvia", "Elara", "Vasland", "Oslo", "Lagos", "Quito"]  # subjects: never person-ambiguous

# Common words.
_SINGULAR = ["company", "minister", "bank", "government", "market", "deal", "report", "price", "team",
             "economy", "official", "cut", "contract", "factory"]
_PLURAL = ["companies", "ministers", "banks", "prices", "shares", "officials", "talks", "plans", "reports",
           "cuts", "increases", "workers", "farmers", "exports"]
_ADJECTIVES = ["new", "big", "local", "foreign", "strong", "weak", "early", "final", "chief", "public"]
_SINGULAR_DETERMINERS = ["the", "a", "this", "every"]
_PLURAL_DETERMINERS = ["the", "some", "these"]
_PAST_TRANSITIVE = ["bought", "sold", "signed", "opened", "approved", "reported", "cut", "won", "announced"]
_PRESENT_TRANSITIVE = ["plans", "reports", "cuts", "needs", "owns", "wants", "increases", "expects"]
_PREVERBAL_ADVERBS = ["also", "still", "now", "quickly"]
_FINAL_ADVERBS = ["again", "later", "too", "now"]
_SUBJECT_PRONOUNS = ["He", "She", "They", "It"]
_OBJECT_PRONOUNS = ["him", "her", "them", "it"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Friday"]
_MONTHS = ["May", "June", "March", "October"]
_PLACE_PREPOSITIONS = ["in", "to", "from", "near"]
_NOUN_PREPOSITIONS = ["of", "for", "with", "about"]
_NUMBER_WORDS = ["two", "three", "five", "ten"]


def generate_split(split: Split) -> list[tuple[Token, ...]]:
    """The split's sentences, identical on every call and every machine."""
    if split not in _SIZES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return list(_generate(split))


def write_conll(directory: Path) -> dict[str, Path]:
    """Write train/dev/test as 4-column CoNLL files (word POS chunk NER, BIO) for the conll reader,
    each atomically (a full disk leaves no file cut short: ``DiskFull``)."""
    paths: dict[str, Path] = {}
    for split in SPLITS:
        lines = [_DOCSTART, ""]
        for sentence in generate_split(split):
            lines.extend(" ".join(token) for token in sentence)
            lines.append("")
        paths[split] = Path(directory) / f"{split}.txt"
        text = "\n".join(lines).encode("utf-8")
        atomic_write(paths[split], lambda stream: stream.write(text), size=len(text))
    return paths


def numbered(split: str) -> list[tuple[str, tuple[Token, ...]]]:
    """Sentences with the "file:line" each starts at in the file ``write_conll`` writes."""
    found = []
    line = 3  # after the -DOCSTART- line and its blank line
    for sentence in generate_split(split):
        found.append((f"embedded/{split}.txt:{line}", sentence))
        line += len(sentence) + 1
    return found


@functools.lru_cache(maxsize=None)
def _generate(split: str) -> tuple[tuple[Token, ...], ...]:
    grammar = _Grammar(random.Random(_SEEDS[split]), _NOVEL_NAME_RATE[split])
    sentences = []
    while len(sentences) < _SIZES[split]:
        tokens = grammar.sentence()
        if _MIN_TOKENS <= len(tokens) <= _MAX_TOKENS:
            first = tokens[0]
            tokens[0] = (first[0][:1].upper() + first[0][1:],) + first[1:]
            sentences.append(tuple(tokens))
    return tuple(sentences)


def _phrase(chunk: str | None, items: list[tuple[str, str, str]]) -> list[Token]:
    """Tokens from (word, POS, NER) items forming one chunk of type ``chunk`` (None: outside chunks)."""
    if chunk is None:
        return [(word, pos, "O", ner) for word, pos, ner in items]
    return [(word, pos, f"{'B' if i == 0 else 'I'}-{chunk}", ner) for i, (word, pos, ner) in enumerate(items)]


def _entity(words: tuple[str, ...], pos: str, label: str) -> list[tuple[str, str, str]]:
    return [(word, pos, f"{'B' if i == 0 else 'I'}-{label}") for i, word in enumerate(words)]


class _Grammar:
    """Phrase builders sharing one random stream; ``novel`` is the chance a name comes from the held-out pool."""

    def __init__(self, rng: random.Random, novel: float) -> None:
        self.rng = rng
        self.novel = novel

    def pick(self, pool: tuple[list[T], list[T]]) -> T:
        seen, unseen = pool
        return self.rng.choice(unseen if self.rng.random() < self.novel else seen)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # Noun phrases -------------------------------------------------------------------------

    def person(self) -> list[Token]:
        if self.chance(0.6):
            words = (self.pick(_FIRST), self.pick(_LAST))
        else:
            words = (self.pick(_LAST),)
        return _phrase("NP", _entity(words, "NNP", "PER"))

    def place(self) -> list[Token]:
        return _phrase("NP", _entity(self.pick(_PLACES), "NNP", "LOC"))

    def organisation(self) -> list[Token]:
        words = self.pick(_ORGS)
        items = _entity(words, "NNP", "ORG")
        if "of" not in words:
            return _phrase("NP", items)
        # "the Bank of Zorvia": one entity, but NP + PP + NP chunks.
        split = words.index("of")
        head = ([("the", "DT", "O")] if self.chance(0.5) else []) + items[:split]
        word, _, ner = items[split]
        return _phrase("NP", head) + _phrase("PP", [(word, "IN", ner)]) + _phrase("NP", items[split + 1:])

    def common(self) -> list[Token]:
        rng = self.rng
        if self.chance(0.15):
            number = rng.choice(_NUMBER_WORDS) if self.chance(0.5) else str(rng.randint(2, 90))
            return _phrase("NP", [(number, "CD", "O"), (rng.choice(_PLURAL), "NNS", "O")])
        plural = self.chance(0.4)
        items = []
        if not plural or self.chance(0.7):
            determiners = _PLURAL_DETERMINERS if plural else _SINGULAR_DETERMINERS
            items.append((rng.choice(determiners), "DT", "O"))
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            items.append((rng.choice(_ADJECTIVES), "JJ", "O"))
        if self.chance(0.12):
            items.append((self.pick(_MISC_ADJECTIVES), "JJ", "B-MISC"))
        items.append((rng.choice(_PLURAL), "NNS", "O") if plural else (rng.choice(_SINGULAR), "NN", "O"))
        return _phrase("NP", items)

    def subject(self) -> list[Token]:
        roll = self.rng.random()
        if roll < 0.3:
            return self.person()
        if roll < 0.5:
            return self.organisation()
        if roll < 0.6:
            return _phrase("NP", _entity((self.rng.choice(_CAPITAL_PLACES),), "NNP", "LOC"))
        if roll < 0.7:
            return _phrase("NP", [(self.rng.choice(_SUBJECT_PRONOUNS), "PRP", "O")])
        return self.common()

    # Prepositional and adverbial phrases --------------------------------------------------

    def place_pp(self) -> list[Token]:
        return _phrase("PP", [(self.rng.choice(_PLACE_PREPOSITIONS), "IN", "O")]) + self.place()

    def time_pp(self) -> list[Token]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            return _phrase("PP", [("on", "IN", "O")]) + _phrase("NP", [(rng.choice(_DAYS), "NNP", "O")])
        if roll < 0.75:
            return _phrase("PP", [("in", "IN", "O")]) + _phrase("NP", [(rng.choice(_MONTHS), "NNP", "O")])
        return _phrase("PP", [("in", "IN", "O")]) + _phrase("NP", [(str(rng.randint(1990, 1999)), "CD", "O")])

    def noun_pp(self) -> list[Token]:
        preposition = _phrase("PP", [(self.rng.choice(_NOUN_PREPOSITIONS), "IN", "O")])
        return preposition + (self.organisation() if self.chance(0.3) else self.common())

    def modifiers(self) -> list[Token]:
        tokens: list[Token] = []
        for builder, p in ((self.noun_pp, 0.3), (self.place_pp, 0.35), (self.time_pp, 0.35)):
            if self.chance(p):
                tokens += builder()
        if self.chance(0.15):
            tokens += _phrase("ADVP", [(self.rng.choice(_FINAL_ADVERBS), "RB", "O")])
        return tokens

    # Clauses --------------------------------------------------------------------------------

    def verb(self, word: str, pos: str) -> list[Token]:
        items = [(word, pos, "O")]
        if self.chance(0.2):
            items.insert(0, (self.rng.choice(_PREVERBAL_ADVERBS), "RB", "O"))
        return _phrase("VP", items)

    def clause(self) -> list[Token]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            return self.person() + self.verb("met", "VBD") + self.person_or_pronoun() + self.modifiers()
        if roll < 0.3:
            return self.person() + self.verb("visited", "VBD") + self.place() + self.modifiers()
        if roll < 0.45:
            return self.subject() + self.verb("said", "VBD") + self.modifiers()
        if roll < 0.7:
            obj = self.organisation() if self.chance(0.25) else self.common()
            return self.subject() + self.verb(rng.choice(_PAST_TRANSITIVE), "VBD") + obj + self.modifiers()
        return self.subject() + self.verb(rng.choice(_PRESENT_TRANSITIVE), "VBZ") + self.common() + self.modifiers()

    def person_or_pronoun(self) -> list[Token]:
        if self.chance(0.2):
            return _phrase("NP", [(self.rng.choice(_OBJECT_PRONOUNS), "PRP", "O")])
        return self.person()

    def sentence(self) -> list[Token]:
        roll = self.rng.random()
        comma = _phrase(None, [(",", ",", "O")])
        stop = _phrase(None, [(".", ".", "O")])
        if roll < 0.15:
            # "Anna Kowalski , the chief minister of Bank of Zorvia , said on Monday ."
            appositive = self.common() + _phrase("PP", [("of", "IN", "O")]) + self.organisation()
            said = self.verb("said", "VBD") + (self.time_pp() if self.chance(0.7) else [])
            return self.person() + comma + appositive + comma + said + stop
        if roll < 0.3:
            opener = self.place_pp() if self.chance(0.5) else self.time_pp()
            return opener + comma + self.clause() + stop
        if roll < 0.45:
            return self.clause() + comma + _phrase(None, [("and", "CC", "O")]) + self.clause() + stop
        if roll < 0.55:
            event = _phrase("NP", [("the", "DT", "O")] + _entity(self.pick(_MISC_NAMES), "NNP", "MISC"))
            return self.subject() + self.verb(self.rng.choice(["won", "opened", "announced"]), "VBD") + event \
                + self.modifiers() + stop
        return self.clause() + stop
