"""The words a coordinator may type for vote options, in every language the bot speaks.

`/vote question | until Friday 18:00 | two-thirds | quorum 5 | voters @a @b | item 7` reads the same
in Danish (`indtil fredag 18:00 | to tredjedele | beslutningsdygtig 5`), Arabic (`حتى الجمعة 18:00 |
الثلثين | النصاب 5`) and Tigrinya (`ክሳብ ዓርቢ 18:00 | ክልተ ሲሶ | ዝተሓተ ቁጽሪ 5`). English words work in
every language. The examples shown to a reader use the words of their language (catalogues), and a
test reads every translated example back.
"""

from __future__ import annotations

import re

# Option -> the words that start its field (a keyword may be several words).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "until": ("until", "deadline", "indtil", "frist", "حتى", "لغاية", "الى", "إلى", "ክሳብ"),
    "quorum": (
        "quorum",
        "beslutningsdygtig",
        "beslutningsdygtighed",
        "النصاب",
        "نصاب",
        "ዝተሓተ ቁጽሪ ድምጺ",
        "ዝተሓተ ቁጽሪ",
        "ኮረም",
    ),
    "voters": (
        "voters",
        "stemmeberettigede",
        "المصوتون",
        "المصوتين",
        "الناخبون",
        "الناخبين",
        "ድምጺ ሃብቲ",
        "ደመጽቲ",
    ),
    "item": ("item", "punkt", "dagsordenspunkt", "البند", "بند", "ዝርዝር ኣጀንዳ", "ነጥቢ ኣጀንዳ", "ነጥቢ"),
    "meeting": ("meeting", "møde", "الاجتماع", "اجتماع", "ኣኼባ"),
}

# A whole field naming the rule.
RULES: dict[str, str] = {
    "two-thirds": "two_thirds",
    "two thirds": "two_thirds",
    "two_thirds": "two_thirds",
    "2/3": "two_thirds",
    "to tredjedele": "two_thirds",
    "to-tredjedele": "two_thirds",
    "الثلثين": "two_thirds",
    "ثلثين": "two_thirds",
    "الثلثان": "two_thirds",
    "ثلثان": "two_thirds",
    "أغلبية الثلثين": "two_thirds",
    "اغلبية الثلثين": "two_thirds",
    "ክልተ ሲሶ": "two_thirds",
    "ክልተ-ሲሶ": "two_thirds",
    "ብዙሕነት ክልተ ሲሶ": "two_thirds",
    "majority": "majority",
    "simple majority": "majority",
    "simpelt flertal": "majority",
    "flertal": "majority",
    "الأغلبية": "majority",
    "الاغلبية": "majority",
    "أغلبية": "majority",
    "اغلبية": "majority",
    "الأغلبية البسيطة": "majority",
    "أغلبية بسيطة": "majority",
    "ብዙሕነት": "majority",
    "ቀሊል ብዙሕነት": "majority",
}

# `quorum attending`: more than half of those who said they attend the meeting.
ATTENDING = frozenset(
    {
        "attending",
        "present",
        "fremmødte",
        "tilstede",
        "til stede",
        "الحاضرين",
        "الحاضرون",
        "من الحاضرين",
        "الحضور",
        "ተሳተፍቲ",
        "ዝተረኽቡ",
    }
)

# Arabic short vowels, shadda, tatweel: "المصوّتون" is typed with or without them.
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0640]")


def normalize(text: str) -> str:
    return " ".join(_ARABIC_MARKS.sub("", text).replace("፡", " ").lower().split())


def rule(text: str) -> str | None:
    """'two_thirds' / 'majority' for a field that names a rule, else None."""
    return RULES.get(normalize(text))


def keyword(text: str) -> tuple[str, str] | None:
    """(option, the rest of the field) when the field starts with an option's word."""
    norm = normalize(text)
    best: tuple[int, str] | None = None
    for option, words in KEYWORDS.items():
        for word in words:
            if (norm == word or norm.startswith(word + " ")) and (best is None or len(word) > best[0]):
                best = (len(word), option)
    if best is None:
        return None
    _, option = best
    word_count = len(
        max((w for w in KEYWORDS[option] if norm == w or norm.startswith(w + " ")), key=len).split()
    )
    return option, " ".join(text.replace("፡", " ").split()[word_count:])


def is_attending(text: str) -> bool:
    return normalize(text) in ATTENDING
