"""Which case a part belongs to (flow F5): pure, from the part and what the caller knows of earlier parts.

The first step that answers wins (Salesforce Email-to-Case's order, plus the explicit id and a replay):

1. ``explicit``: the part names its case (a case header, a form with the case number);
2. ``message_id``: the part's own Message-ID is indexed (a duplicate delivery goes where the first went,
   even if the sender's open cases changed meanwhile);
3. ``in_reply_to``, then ``references`` newest first: a reply to a mail already in a case;
4. ``thread_index``: Outlook's thread (the first 22 bytes of Thread-Index) already in a case;
5. ``token``: a configured pattern in the subject, then in the body; its one group is the case id;
6. ``sender`` (optional): the sender's customer's *single* open case; several open cases are ambiguous.

An attachment goes where its e-mail goes: only an explicit case id correlates it here. A part that is
not correlated is not dropped; the join lets it wait for its case (the reason says what was tried).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from xstream.errors import ConfigError
from xstream.model.cases import CasePart
from xstream.transform.mail import normalise_id

How = Literal["explicit", "message_id", "in_reply_to", "references", "thread_index", "token", "sender"]
CLAIM_TOKEN = r"\[(CLM-\d{4}-\d{5})\]"
THREAD_BYTES = 22
"""Outlook's Thread-Index: a 22-byte header (a FILETIME and a GUID) names the thread, 5 bytes per reply follow."""
INDEX_LIMIT = 10_000
"""Message-IDs (and, separately, threads) an index keeps per partition; beyond, the least recently
recorded go first. A reply to an evicted mail still finds its case by thread, token or sender."""
_NOTHING = "no case id, no indexed Message-ID/In-Reply-To/References/Thread-Index, no token"


@dataclass(frozen=True)
class Correlated:
    case_id: str
    how: How


@dataclass(frozen=True)
class Uncorrelated:
    reason: str


Correlation = Correlated | Uncorrelated


@dataclass(frozen=True)
class CorrelationSettings:
    tokens: tuple[str, ...] = (CLAIM_TOKEN,)
    """Regular expressions with exactly one capture group, the case id; tried in order."""
    sender_fallback: bool = True
    patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(_pattern(token) for token in self.tokens))


@dataclass(frozen=True)
class CorrelationIndex:
    """What one partition's worker knows, read-only (every map is wrapped; :func:`index_with` copies).

    ``message_ids``: normalised Message-ID -> case id; ``threads``: :func:`thread_key` -> case id (both
    bounded by ``limit``, kept by :func:`index_with`); ``open_cases``: customer id -> open case ids, most
    recent first; ``customers``: lower-case sender address -> customer id (both from the case system and
    the CRM, kept by the caller, not bounded here).
    """

    message_ids: Mapping[str, str] = field(default_factory=dict)
    threads: Mapping[str, str] = field(default_factory=dict)
    open_cases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    customers: Mapping[str, str] = field(default_factory=dict)
    limit: int = INDEX_LIMIT

    def __post_init__(self) -> None:
        for name in ("message_ids", "threads", "open_cases", "customers"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))


def correlate(part: CasePart, index: CorrelationIndex, settings: CorrelationSettings) -> Correlation:
    """The part's case and how it was found, or why none was."""
    if part.case_id:
        return Correlated(part.case_id, "explicit")
    if part.kind == "attachment":
        return Uncorrelated(f"an attachment goes with its e-mail {part.parent_part_id or '(none named)'}")
    steps: tuple[tuple[How, Iterable[str | None]], ...] = (
        ("message_id", (part.message_id,)), ("in_reply_to", (part.in_reply_to,)),
        ("references", reversed(part.references)))
    for how, idents in steps:
        for ident in idents:
            case_id = index.message_ids.get(normalise_id(ident) or "")
            if case_id:
                return Correlated(case_id, how)
    case_id = index.threads.get(thread_key(part.thread_index) or "")
    if case_id:
        return Correlated(case_id, "thread_index")
    for text in (part.name, part.text):
        for pattern in settings.patterns:
            found = pattern.search(text or "")
            if found and found.group(1):
                return Correlated(found.group(1), "token")
    return _by_sender(part, index, settings)


def index_with(index: CorrelationIndex, part: CasePart, case_id: str) -> CorrelationIndex:
    """A new index that also knows the correlated mail's Message-ID and thread, so replies to it correlate.
    Recording a key again refreshes it (it is evicted last); a thread seen in another case moves there."""
    return replace(index, message_ids=_put(index.message_ids, normalise_id(part.message_id), case_id, index.limit),
                   threads=_put(index.threads, thread_key(part.thread_index), case_id, index.limit))


def thread_key(thread_index: str | None) -> str | None:
    """The thread's name in a Thread-Index: its first 22 bytes, lower-case hex; None if it has fewer
    or is not base64."""
    if not thread_index:
        return None
    try:
        data = base64.b64decode(thread_index + "=" * (-len(thread_index) % 4), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII str
        return None
    return data[:THREAD_BYTES].hex() if len(data) >= THREAD_BYTES else None


def _by_sender(part: CasePart, index: CorrelationIndex, settings: CorrelationSettings) -> Correlation:
    if not settings.sender_fallback:
        return Uncorrelated(f"{_NOTHING}; the sender fallback is off")
    if not part.sender:
        return Uncorrelated(f"{_NOTHING}, no sender")
    customer = index.customers.get(part.sender.lower())
    if customer is None:
        return Uncorrelated(f"{_NOTHING}; sender {part.sender} is no known customer")
    cases = tuple(index.open_cases.get(customer, ()))
    if len(cases) == 1:
        return Correlated(cases[0], "sender")
    if not cases:
        return Uncorrelated(f"{_NOTHING}; customer {customer} has no open case")
    listed = ", ".join(cases[:3]) + (", ..." if len(cases) > 3 else "")
    return Uncorrelated(f"{_NOTHING}; ambiguous: customer {customer} has {len(cases)} open cases ({listed})")


def _put(entries: Mapping[str, str], key: str | None, value: str, limit: int) -> Mapping[str, str]:
    if key is None:
        return entries
    out = dict(entries)
    out.pop(key, None)
    out[key] = value
    while len(out) > max(limit, 0):
        del out[next(iter(out))]
    return MappingProxyType(out)


def _pattern(token: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(token)
    except re.error as exc:
        raise ConfigError(f"case token {token!r}: {exc}") from exc
    if pattern.groups != 1:
        raise ConfigError(f"case token {token!r}: needs exactly one capture group (the case id), has {pattern.groups}")
    return pattern
