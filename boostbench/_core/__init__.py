"""The ground floor: units, counter-based random numbers, the array toolkit and
declared parameter constraints. Nothing here imports anything of boostbench above
:mod:`boostbench.errors`, so every family (rankers, attacks, metrics) and the
core (world, behaviour, feed, simulate) may stand on it.
"""
