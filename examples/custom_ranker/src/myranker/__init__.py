"""myranker: two feed rankers for the boostbench worked example.

``my_likes`` ranks by raw like count (easy to buy); ``my_defended`` is
boostbench's real-interaction score behind two inline defences. Both are
registered through the ``boostbench.rankers`` entry point (see pyproject.toml).
"""

from .ranking import MyLikes, my_defended

__all__ = ["MyLikes", "my_defended"]
