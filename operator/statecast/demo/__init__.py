"""The prediction act of ``statecast demo``: compressed days of follow-the-sun demand.

Modules, pure ones first:

- :mod:`~statecast.demo.sun`: the demand schedule (which zone is busy when);
- :mod:`~statecast.demo.recording`: what was seen each tick (placement, forecast,
  decisions) and each second (reads per node, where they were served, latency);
- :mod:`~statecast.demo.outcome`: local hits, latency, replica-days and the zone
  changes a copy was placed ahead of, per policy, from a recording;
- :mod:`~statecast.demo.live`: the live view (a redrawn screen on a terminal, plain
  periodic lines otherwise) and the summary;
- :mod:`~statecast.demo.picture`: the recording as a
  :class:`~statecast.kubectl.timeline.Timeline` for the PNG;
- :mod:`~statecast.demo.load` and :mod:`~statecast.demo.watch` (I/O): reads through
  the client library at the schedule's rates, and the cluster polled into a recording.
"""
