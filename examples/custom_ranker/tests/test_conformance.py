"""myranker's rankers against the ranker contract, with boostbench's conformance suite.

``parametrize_with_checks`` turns each ranker into one test that runs
``boostbench.testing.checks.check_ranker`` on a small seeded world: one finite
score per eligible item, the observation left untouched, the same scores on a
second call and from a fresh instance (built from the registered factory), and
scores that follow a consistent relabelling of items and accounts. A failure
names the ranker and the broken property, e.g.
``ranker 'my_likes' fails check_ranker[relabelling]: ...``.

The names are the ones ``pyproject.toml`` registers on the ``boostbench.rankers``
entry point (so this also proves the plug-in loads); instances work too.
"""

from boostbench.testing.checks import parametrize_with_checks


@parametrize_with_checks(rankers=["my_likes", "my_defended"])
def test_conformance(component, check):
    check(component)
