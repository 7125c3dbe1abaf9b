"""Echo suppression: recognise the CDC event that xstream's own write into a source system causes.

xstream writes the workspace link back into the ERP/CRM record (link_back); the source's CDC then
reports that update. Applying it again would be wasted work at best and a loop at worst, so an
update is an echo when it changes nothing but the fields only xstream writes, or when the source
says xstream made it (``echo.origin_field``). Pure: the flow drops the event and counts it.
"""

from __future__ import annotations

from typing import Any

from xstream.errors import MappingError
from xstream.model.change import ChangeEvent, Op
from xstream.transform.rules import Rule


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> frozenset[str]:
    """Source fields whose value differs between the rows (a field present on one side only counts)."""
    return frozenset(k for k in before.keys() | after.keys() if before.get(k, None) != after.get(k, None)
                     or (k in before) != (k in after))


def echo_reason(event: ChangeEvent, rule: Rule) -> str | None:
    """Why this update is an echo of xstream's own write (the Skip reason, starting with "echo"), or None."""
    if event.op is not Op.UPDATE or event.after is None:
        return None
    echo = rule.echo
    if echo is not None and echo.origin_field is not None:
        # xstream writes only link fields: an event whose mapped attributes changed is someone else's
        # change, even when the origin column still says xstream (a path that does not update it)
        if str(event.after.get(echo.origin_field)) == echo.origin_value and not _mapped_change(event, rule):
            return f"echo: {echo.origin_field} is {echo.origin_value!r} (rule {rule.name})"
    fields = rule.echo_fields
    if event.before is None or not fields:
        return None
    changed = changed_fields(event.before, event.after)
    if changed and changed <= fields:
        return f"echo: only fields xstream writes changed ({', '.join(sorted(changed))}; rule {rule.name})"
    return None


def _mapped_change(event: ChangeEvent, rule: Rule) -> bool:
    """Whether a mapped attribute changed; without a ``before`` row nothing can be told apart (False)."""
    from xstream.transform.workspace_mapping import changed_values  # mapping builds on echo's helpers

    if event.before is None or event.after is None:
        return False
    try:
        return bool(changed_values(rule, event.before, event.after))
    except MappingError:
        return True  # let the mapping report the row's problem
