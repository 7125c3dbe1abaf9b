"""The demo's IntakeForwarder against a real broker: the outbox lands on the mail and forms topics with
the connector's keys and values, in order, including a message above Kafka's 1 MiB default."""

from __future__ import annotations

import json
import uuid

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from xstream_emulators.intake import IntakeEmulatorConfig, start_intake_emulator

from tests.conftest import Broker
from tests.unit.emulators_intake.conftest import Intake
from xstream.demo.harness import Collector, IntakeForwarder
from xstream.model.record import RecordRef
from xstream.transform.mail import parse_email

WAIT_S = 30.0


async def test_mails_and_forms_are_produced_with_their_keys(broker: Broker) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    mail_topic, forms_topic = f"{prefix}mail.inbound", f"{prefix}forms.submissions"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(mail_topic, 1, 1), NewTopic(forms_topic, 1, 1)])
    finally:
        await admin.close()
    inline = [{"name": f"photo-{i}.jpg", "media_type": "image/jpeg", "size": 500 * 1024} for i in range(2)]
    async with await start_intake_emulator(IntakeEmulatorConfig()) as emu, aiohttp.ClientSession() as http:
        intake = Intake(http, emu)
        collector = await Collector(broker.bootstrap, mail_topic, forms_topic).start()
        forwarder = await IntakeForwarder(emu.admin_url, broker.bootstrap, topic_prefix=prefix).start()
        try:
            sent = await intake.mail(message_id="<m-1@mail.example.com>", attachments=inline)
            await intake.admin("POST", "forms", {"form_type": "claim_report", "submission_id": "web-1", "fields": {}})
            await intake.mail(message_id="<m-2@mail.example.com>")
            assert await collector.wait_for(
                lambda: len(collector.records[mail_topic]) == 2 and len(collector.records[forms_topic]) == 1, WAIT_S)
        finally:
            await forwarder.stop()
            await collector.stop()
    mails, forms = collector.records[mail_topic], collector.records[forms_topic]
    assert [m.key for m in mails] == [b"m-1@mail.example.com", b"m-2@mail.example.com"]
    assert mails[0].value is not None and len(mails[0].value) == sent["size"] > 1024 * 1024
    ref = RecordRef(topic=mail_topic, partition=0, offset=mails[0].offset, timestamp_ms=mails[0].timestamp)
    parsed = parse_email(mails[0].value, record=ref, max_bytes=50 * 1024 * 1024)
    assert [a.sha256 for a in parsed.attachments] == [a["sha256"] for a in sent["attachments"]]
    assert forms[0].key == b"web-1" and forms[0].value is not None
    assert json.loads(forms[0].value)["form_type"] == "claim_report"
    assert forwarder.last_seq == 3 and [t for t, _ in forwarder.forwarded] == [mail_topic, forms_topic, mail_topic]
    assert forwarder.topics == {"mail": mail_topic, "form": forms_topic}
