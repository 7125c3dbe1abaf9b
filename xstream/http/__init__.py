"""xstream's one HTTP boundary, shared by the OpenText client and the downstream targets.

- :mod:`.session`: the one session factory (connector limit from the caller's concurrency,
  connect/total/sock-read timeouts, default headers) and the one unauthenticated send;
- :mod:`.errors`: the one classification of transport failures (never reached -> SinkUnavailable;
  sent, answer never came -> AnswerLost; secret URLs redacted);
- :mod:`.status`: the one classification of HTTP answers into ``xstream.errors``, with a small
  policy per server dialect (Content Server's error bodies and habits, SAP Gateway's OData v2,
  Salesforce);
- :mod:`.streams`: streamed request bodies (stall deadline, a failing body's own error) and streamed
  answers as ``xstream.content.Body``;
- :mod:`.auth`: the one Authenticator protocol (headers, ensure, refresh once on a 401 by
  generation) and its schemes: Content Server ticket, OAuth2 client credentials (OTDS or a
  target's token URL), static bearer/basic, none.

Every failure leaves here as an ``xstream.errors.SinkError``, third-party exceptions chained with
``from``. Passwords, client secrets, tickets, tokens and secret URLs are never logged.
"""
