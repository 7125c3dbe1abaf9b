"""One template language for every rule file: ``{name}`` and ``{qualifier.Attribute}`` placeholders. Pure.

Mapping rules fill workspace names, folder paths and business object ids from a source record's
fields (``{customer_id}``), their link back from the workspace a status event names
(``{workspace_url}``), status rules their actions from an OpenText event (``{document_name}``,
``{workspace.Region}``). One grammar, so a placeholder reads the same in every file; one check when
the rules load (:meth:`Vocabulary.check`), so an unknown placeholder is a ``file:line`` error at
start and never a surprise on some record; one fill (:meth:`Vocabulary.fill`), so a value shows the
same everywhere: text as it is, numbers as JSON writes them, booleans ``true``/``false``
(:func:`.value_types.template_text`); an object is refused (``wrong_type``), never shown as its
Python repr, and a missing value is a ``missing_field`` naming the placeholder, never silently ''.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xstream.errors import DeadLetterReason, MappingError
from xstream.transform.value_types import WrongType, template_text

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([^{}]+))?\}")
"""``{name}`` or ``{qualifier.Attribute}``; anything else between braces is text."""


@dataclass(frozen=True)
class Placeholder:
    text: str
    """As written, e.g. ``{workspace.Region}``."""
    name: str
    """``workspace``; for an unqualified placeholder its whole name, e.g. ``document_name``."""
    attribute: str | None = None
    """``Region``: the attribute a qualified placeholder reads; None when unqualified."""


Lookup = Callable[[Placeholder], Any]
"""A placeholder's value where a template is filled (None: it has none)."""


def placeholders(template: str) -> list[Placeholder]:
    """The placeholders of a template, in order."""
    return [Placeholder(m.group(0), m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(template)]


def by_name(values: Mapping[str, Any]) -> Lookup:
    """A lookup of unqualified placeholders in a flat mapping (a source row, a link's values)."""
    return lambda placeholder: values.get(placeholder.name)


@dataclass(frozen=True)
class Vocabulary:
    """What the templates of one rule language may name, and how a list value shows.

    The languages differ only here: mapping rules name any field of their record, link back a fixed
    set, status rules a fixed set and category attributes of the document and its workspace.
    """

    names: tuple[str, ...] | None = None
    """The placeholders a template may use; None: any name (the fields of a source record)."""
    qualifiers: tuple[str, ...] = ()
    """``{qualifier.<Attribute>}`` reads a category attribute, e.g. ``{document.Region}``."""
    lists: bool = False
    """A list value (a multi-value attribute) shows as its items joined with ", "; else it is wrong_type."""

    def check(self, template: str) -> str:
        """``template`` when every placeholder is known; a ValueError naming the first unknown one, which
        pydantic reports at the template's ``file:line`` when the rules load."""
        for placeholder in placeholders(template):
            if placeholder.attribute is not None and placeholder.name not in self.qualifiers:
                raise ValueError(f"unknown placeholder {placeholder.text}; " + (
                    f"qualified ones are {' and '.join(f'{{{q}.<Attribute>}}' for q in self.qualifiers)}"
                    if self.qualifiers else "a placeholder names one field of the record, e.g. {id}"))
            if placeholder.attribute is None and self.names is not None and placeholder.name not in self.names:
                qualified = ", ".join(f"{{{q}.<Attribute>}}" for q in self.qualifiers)
                raise ValueError(f"unknown placeholder {placeholder.text}; use {', '.join(self.names)}"
                                 + (f" or {qualified}" if qualified else ""))
        return template

    def check_values(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """:meth:`check` for every text value of a mapping (``fields``, ``facts``); other values are constants."""
        for value in values.values():
            if isinstance(value, str):
                self.check(value)
        return values

    def fill(self, template: str, value_of: Lookup, *, what: str, required: bool = True) -> str:
        """``template`` with each placeholder replaced by its value's text.

        A placeholder without a value (None) is a MappingError ``missing_field`` naming ``what`` and the
        placeholder where the text must be complete (``required``: names, identifiers), else empty text;
        an object (or a list, unless :attr:`lists`) is ``wrong_type``.
        """

        def one(match: re.Match[str]) -> str:
            placeholder = Placeholder(match.group(0), match.group(1), match.group(2))
            value = value_of(placeholder)
            if value is None:
                if required:
                    raise MappingError(DeadLetterReason.MISSING_FIELD,
                                       f"{what}: {self._label(placeholder)} has no value here")
                return ""
            try:
                if self.lists and isinstance(value, list | tuple):
                    return ", ".join(template_text(item) for item in value if item is not None)
                return template_text(value)
            except WrongType as exc:
                raise MappingError(DeadLetterReason.WRONG_TYPE, f"{what}: {self._label(placeholder)}: {exc}") from None

        return PLACEHOLDER.sub(one, template)

    def _label(self, placeholder: Placeholder) -> str:
        """How refusals name a placeholder: a record's ``field 'name'``, else the placeholder as written."""
        return f"field {placeholder.name!r}" if self.names is None else placeholder.text
