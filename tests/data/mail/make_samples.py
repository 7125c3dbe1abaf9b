"""Writes the sample e-mails of this directory (run once: ``python tests/data/mail/make_samples.py``).

Written by hand rather than by the email package's generator, so that boundaries, encodings and the
defects are exactly as named (the package would pick random boundaries and repair what is broken).
Lines end in CRLF, as a mail connector delivers them. The JPEG and PDF are tiny fakes.
"""

from __future__ import annotations

import base64
from pathlib import Path

HERE = Path(__file__).resolve().parent
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + b"\x08" * 64 + bytes.fromhex("ffd9")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# Outlook's Thread-Index: 22 bytes name the thread (a FILETIME and a GUID), 5 more per reply.
THREAD = bytes.fromhex("01dc7f3a9b2c") + bytes(range(16))
THREAD_INDEX = base64.b64encode(THREAD + bytes.fromhex("00000a1b2c")).decode()


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))


SAMPLES = {
    "claim_with_photo.eml": f"""\
From: Anna Berg <Anna.Berg@Example.COM>
To: claims@insurer.example
Subject: Water damage in the kitchen [CLM-2026-00042]
Date: Mon, 02 Mar 2026 09:15:00 +0100
Message-ID: <claim-1.20260302@Mail.Example.COM>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-1"

--mixed-1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello, the dishwasher leaked overnight. A photo is attached.
Anna Berg

--mixed-1
Content-Type: image/jpeg; name="kitchen.jpg"
Content-Disposition: attachment; filename="kitchen.jpg"
Content-Transfer-Encoding: base64

{b64(JPEG)}
--mixed-1--
""",
    "reply_in_reply_to.eml": """\
From: Anna Berg <anna.berg@example.com>
To: claims@insurer.example
Subject: Re: Water damage in the kitchen
Date: Tue, 03 Mar 2026 18:02:11 +0100
Message-ID: <reply-2.20260303@mail.example.com>
In-Reply-To: <claim-1.20260302@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

The plumber's invoice will follow tomorrow.
""",
    "outlook_thread_index.eml": f"""\
From: "Jonas Weber" <j.weber@partner.example>
To: claims@insurer.example
Subject: AW: Survey appointment
Date: Wed, 04 Mar 2026 10:30:00 +0000
Message-ID: <AM0PR01MB1234.outlook.example>
Thread-Topic: Survey appointment
Thread-Index: {THREAD_INDEX}
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p {{ color: red; }}</style></head>
<body><p>Dear team,</p><p>the surveyor can come on <b>Friday</b> &amp; Saturday.</p></body></html>
""",
    "attachment_by_reference.eml": """\
From: Anna Berg <anna.berg@example.com>
To: claims@insurer.example
Subject: Survey report [CLM-2026-00042]
Date: Thu, 05 Mar 2026 08:00:00 +0100
Message-ID: <big-3.20260305@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-3"

--mixed-3
Content-Type: text/plain; charset=utf-8

The survey report is too large to attach; it is linked below.

--mixed-3
Content-Type: message/external-body; access-type=URL;
 URL="https://files.example.com/claims/CLM-2026-00042/survey-report.pdf"; size=52428800

Content-Type: application/pdf; name="survey-report.pdf"
Content-Disposition: attachment; filename="survey-report.pdf"

--mixed-3--
""",
    "malformed_missing_boundary.eml": """\
From: broken@example.com
Subject: Missing boundary
Date: Fri, 06 Mar 2026 12:00:00 +0000
Message-ID: <broken-4@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed

--lost
Content-Type: text/plain

Where does this part end?
--lost--
""",
    "alternative_i18n.eml": f"""\
From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen.Mueller@Example.DE>
To: claims@insurer.example
Subject: =?utf-8?q?Schadensmeldung_M=C3=BCller_=E2=80=93_Wasserschaden?=
Date: Sat, 07 Mar 2026 07:45:00 +0100
Message-ID: <alt-5.20260307@example.de>
References: <root-0@example.de> <claim-1.20260302@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-5"

--mixed-5
Content-Type: multipart/alternative; boundary="alt-5"

--alt-5
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Guten Tag, anbei das Gutachten von M=C3=BCller.

--alt-5
Content-Type: text/html; charset=utf-8

<p>Guten Tag, anbei das Gutachten.</p>
--alt-5--

--mixed-5
Content-Type: application/pdf
Content-Disposition: attachment;
 filename*=utf-8''Gutachten%20M%C3%BCller%20%E2%80%93%20K%C3%BCche.pdf
Content-Transfer-Encoding: base64

{b64(PDF)}
--mixed-5--
""",
}


if __name__ == "__main__":
    for name, text in SAMPLES.items():
        (HERE / name).write_bytes(text.replace("\n", "\r\n").encode("ascii"))
