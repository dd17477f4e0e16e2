"""``kubectl statecast``: a kubectl plugin that shows what the operator sees and did.

The console script ``kubectl-statecast`` (installed with the package) is found by
``kubectl`` on ``PATH``, so ``kubectl statecast status`` runs it. Three commands:

- ``status [RESOURCE]``: replicas by zone and node with phase, lag and reason, the
  forecast, Hit%, conditions and the recent decisions (every resource when no name);
- ``forecast RESOURCE [--plot FILE.png]``: the operator's forecast per node and zone
  beside the demand it sampled, and a picture of demand, band and placement;
- ``explain RESOURCE``: why each replica is where it is, and why other nodes have none.

Layout: :mod:`~statecast.kubectl.view` turns API objects (plain dicts, as the API
server sends them) into view models and is pure; :mod:`~statecast.kubectl.explain`
and :mod:`~statecast.kubectl.timeline` likewise; :mod:`~statecast.kubectl.render`
prints them in kubectl's style; :mod:`~statecast.kubectl.cluster` reads the objects;
:mod:`~statecast.kubectl.plot` draws (matplotlib, the ``plot`` extra);
:mod:`~statecast.kubectl.main` is the command line.
"""
