"""The stream engine: xstream's own consumer loop on aiokafka, shared by every flow and sink.

Why not Faust's: Faust acknowledges events it skipped (a record fetched before a rebalance is
acked without being processed) and treats a gap in the offsets it reads as acknowledged; on the
embedded broker a consumer at the tail can be handed offset N+1 before N is visible. Together
these committed records that no flow ever processed. Here every record's offset is committed only
after its outcome (outputs, state, status) was acknowledged by the broker, in offset order, and a
gap in the offsets is re-read before it is believed.

    loop.PartitionedLoop     one consumer group: fetch, gap check, readiness, backpressure,
                             commit in offset order, revoke within a budget
    offsets.OffsetTracker    pure: which offsets of a partition are finished; what may be committed
    gaps.GapGuard            pure: a missing offset is fetched again before it is accepted as a gap
    flow.FlowRunner          a flow: one pure step per record, outputs sent without waiting,
                             per-partition state written after the outputs were acked
    state.PartitionedStore   keyed state co-partitioned with an input topic, on a compacted topic
"""
