"""The wire line: protobuf messages <-> domain records, one module per API.

Only servicers, peer clients and the CLI use these modules; the domain packages never see a
message. Where a home node passes a peer's reply on without decoding it (measured: decoding and
re-encoding a search hit or an owner's records costs more than the rest of the hop), the message
travels in a wire-side type defined here (``PeerHit``, ``RelayedResult``), never in a domain
record's field.
"""
