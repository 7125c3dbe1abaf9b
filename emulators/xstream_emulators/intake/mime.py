"""A mail as a mail connector delivers it, pure: RFC 5322 headers and a MIME body built by the stdlib
``email`` package (``policy.SMTP``: CRLF line ends, folded headers).

The body is ``multipart/mixed``: the ``text/plain`` text first, then one part per attachment. An
attachment up to ``inline_limit`` bytes is inlined (base64, ``Content-Disposition: attachment;
filename=...``). A larger one is *offloaded* (stored by the caller, served at a URL) and its part is an
RFC 2017 ``message/external-body; access-type=URL; URL="..."; size=N`` whose phantom headers name the
file: its Content-Type, ``Content-Disposition: attachment; filename=...; size=N`` and the Content-ID
RFC 2046 requires there. This is what large-file offloading gateways send instead of the bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from xstream_emulators.intake.requests import MESSAGE_ID_DOMAIN, AttachmentSpec, MailSpec

Offload = Callable[[AttachmentSpec], tuple[str, str]]
"""Stores an attachment that is not inlined; returns (its blob id, its public URL)."""
URL_LINE = 70
"""URL characters per header line (with the folding space and the quote, within 78)."""


@dataclass(frozen=True)
class AttachmentInfo:
    name: str
    size: int
    sha256: str
    by_reference: bool
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "size": self.size, "sha256": self.sha256,
                                 "by_reference": self.by_reference}
        return found | ({"url": self.url} if self.url is not None else {})


def build_message(spec: MailSpec, *, inline_limit: int, offload: Offload) -> tuple[bytes, list[AttachmentInfo]]:
    """The message's bytes and what became of each attachment, in order."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = spec.sender
    msg["To"] = ", ".join(spec.to)
    msg["Subject"] = spec.subject
    msg["Date"] = format_datetime(spec.date)
    msg["Message-ID"] = spec.message_id
    if spec.in_reply_to:
        msg["In-Reply-To"] = spec.in_reply_to
    if spec.references:
        msg["References"] = " ".join(spec.references)
    if spec.thread_index:
        msg["Thread-Index"] = spec.thread_index
    msg.set_content(spec.text)
    msg.make_mixed()
    infos: list[AttachmentInfo] = []
    for attachment in spec.attachments:
        digest = hashlib.sha256(attachment.data).hexdigest()
        size = len(attachment.data)
        if size <= inline_limit:
            maintype, _, subtype = attachment.media_type.partition("/")
            msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name)
            del list(msg.iter_parts())[-1]["MIME-Version"]  # the email package adds it to parts; mailers do not
            infos.append(AttachmentInfo(attachment.name, size, digest, by_reference=False))
        else:
            blob_id, url = offload(attachment)
            msg.attach(_external_body(attachment, blob_id, url))
            infos.append(AttachmentInfo(attachment.name, size, digest, by_reference=True, url=url))
    return msg.as_bytes(), infos


def _external_body(attachment: AttachmentSpec, blob_id: str, url: str) -> EmailMessage:
    size = str(len(attachment.data))
    phantom = EmailMessage(policy=policy.SMTP)
    phantom["Content-Type"] = attachment.media_type
    phantom["Content-ID"] = f"<{blob_id}@{MESSAGE_ID_DOMAIN}>"
    phantom["Content-Disposition"] = "attachment"
    phantom.set_param("filename", attachment.name, header="Content-Disposition")
    phantom.set_param("size", size, header="Content-Disposition")
    part = EmailMessage(policy=policy.SMTP)
    # set_raw: the email package would fold a long URL into RFC 2231 continuations (URL*0*=...), which
    # RFC 2017 readers do not expect; RFC 2017 folds it inside the quoted string instead (whitespace in
    # the URL is to be ignored), so it is written pre-folded, every line short enough to stay as it is.
    part.set_raw("Content-Type", f"message/external-body; access-type=URL; size={size};\r\n"
                                 f" URL=\"{_folded(url)}\"")
    part.set_payload([phantom])
    return part


def _folded(url: str, width: int = URL_LINE) -> str:
    """The URL in lines of at most ``width`` characters, each continuation starting with a space."""
    return "\r\n ".join(url[i:i + width] for i in range(0, len(url), width)) if url else url
