"""The flows: one pure step per input record, run by :class:`~xstream.streams.flow.FlowRunner`.

Each module gives ``step(record, state) -> StepResult`` over the pure core (``xstream.pipeline``,
``xstream.transform``) and counts what only it knows (tombstones, echoes, rule commands). The
runner does the I/O: outputs queued without waiting, dead letters, state after the outputs, the
commit in offset order.
"""
