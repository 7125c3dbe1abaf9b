"""Case assembly (flow F5): the parts a case workspace is assembled from, as the pure core sees them.

Every source (the case system's CDC, inbound e-mails, web forms, the ERP's transaction history, the
CRM's customer metadata) is decoded into :class:`CasePart`. A part names its case explicitly
(``case_id``) or carries what correlation needs (an e-mail's Message-ID, In-Reply-To, References,
Thread-Index, sender, subject and text). Bodies are not here: a part says where its content is
(:class:`ContentRef`) and what is known of it (name, media type, size, sha256).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PartKind = Literal["header", "email", "form", "attachment", "history", "metadata"]
"""``header``: the case record itself (case system CDC); ``email``: one inbound mail; ``form``: a web form
submission; ``attachment``: a file (an e-mail's attachment, extracted, or a file sent on its own);
``history``: a transaction of the customer (ERP CDC); ``metadata``: the customer's record (CRM)."""


class ContentRef(BaseModel):
    """Where a part's bytes are: in the Kafka record that carried it (small: an e-mail, an attachment
    below the message limit, a form rendered as JSON), or behind a URL (an attachment above the limit,
    delivered by reference as ``message/external-body``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["record", "url"]
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    path: str | None = None
    """Within the record: e.g. ``mime:2`` for the second MIME leaf of an e-mail; None for the whole value."""
    url: str | None = None


class CasePart(BaseModel):
    model_config = ConfigDict(frozen=True)

    part_id: str = Field(min_length=1)
    """Stable across replays: the source and its own id (``mail:<Message-ID>``, ``form:<submission id>``,
    ``cdc:<topic>:<source position>``, ``attachment:<Message-ID>:<MIME path>``)."""
    kind: PartKind
    source: str = Field(min_length=1)
    """The system it came from (``claims``, ``mail``, ``forms``, ``erp``, ``crm``)."""
    case_id: str | None = None
    """Named explicitly by the part (a header, a form with the case number, a history row keyed by case)."""
    customer_id: str | None = None
    """The customer the part is about, where it says so (correlation's fallback, the metadata join)."""
    received_at: datetime
    """When the source says it happened (the e-mail's Date, the CDC ts_ms, the form's submission time)."""
    name: str | None = None
    """File name, or an e-mail's subject."""
    media_type: str | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    """A header's or form's fields, a history row, the customer record: what category values come from."""
    content: ContentRef | None = None
    # e-mail threading (RFC 5322 and Outlook's), empty for other kinds
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_index: str | None = None
    """Outlook's Thread-Index header (base64); its first 22 bytes name the thread."""
    sender: str | None = None
    """The e-mail address the mail came from, lower case."""
    text: str | None = None
    """An e-mail's plain-text body (for the case token); not stored in the case state."""
    parent_part_id: str | None = None
    """An attachment extracted from an e-mail: that e-mail's part id (it goes where the e-mail goes)."""
