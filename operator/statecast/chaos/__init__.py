"""Game days on a running statecast: drive a workload, inject one fault, heal, check.

``statecast chaos --scenario NAME --resource NAMESPACE/NAME --json OUT`` (see
:mod:`statecast.commands.chaos`). The parts:

- :mod:`~statecast.chaos.workload`: client threads on several nodes (reads, writes,
  increments, a replication-lag probe) recording a :mod:`~statecast.chaos.history`;
- :mod:`~statecast.chaos.target`: the cluster and what can be done to it (the dev
  cluster's processes, or pods and nodes of any cluster);
- :mod:`~statecast.chaos.scenarios`: the faults;
- :mod:`~statecast.chaos.observer`: the resource's Replicas over time;
- :mod:`~statecast.chaos.checker` and :mod:`~statecast.chaos.timeline`: pure checks and
  figures (lost writes, convergence, counters, read recovery, time to Lost, to min Ready);
- :mod:`~statecast.chaos.runner`: one run, start to report.

Errors: :class:`~statecast.chaos.target.TargetError` when the cluster or the resource
cannot run the scenario asked for (the command exits 2).
"""
