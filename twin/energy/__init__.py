"""Energy and carbon: the meter tree (park › building › floor › tenant › circuit), consumption rolled
up per hour, day and month from the history, tCO2e by the scene's emission factors, kWh/m² per
building and tenant, the monthly report (``twin energy``) and a building colour mode.

Modules: :mod:`~twin.energy.config` (``[energy]``), :mod:`~twin.energy.meters` (the tree),
:mod:`~twin.energy.readings` (samples from the history), :mod:`~twin.energy.rollup` (buckets and sums),
:mod:`~twin.energy.areas` (floor areas), :mod:`~twin.energy.summary` (per building and tenant, CSV),
:mod:`~twin.energy.report` (HTML), :mod:`~twin.energy.monthly` (a month's figures, for the CLI and the
server), :mod:`~twin.energy.colours` (kWh/m² → colour),
:mod:`~twin.energy.today` (today's figures for the live app, one shared cache per park),
:mod:`~twin.energy.commands` (the CLI). Method and sources: ``docs/energy.md``.
"""
