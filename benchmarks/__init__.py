"""pytest-benchmark suite (a package so its module names never clash with tests/)."""
