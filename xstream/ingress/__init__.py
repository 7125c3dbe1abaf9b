"""OpenText change ingress: what changed in OpenText reaches the OpenText events topic, two ways.

- :mod:`.poller`: a worker (the one that owns the checkpoint partition) lists the documents of the
  watched workspace types and folders modified since its high-water mark minus an overlap window,
  observes the changed ones and publishes them; the high-water mark and the documents already
  reported inside the window are kept in Kafka (:mod:`.checkpoint`), so a restart neither misses
  nor repeats a change.
- :mod:`.webhook`: server-side hooks (Content Script / OScript event callbacks) POST thin,
  HMAC-signed notifications (:mod:`.signature`, :mod:`.hooks`); each is observed the same way.

Both build events with one :class:`~.observe.Observer`, so the same change seen by both paths is
the same observation (same ``event_id``), and the status flow lets it act once.
"""
