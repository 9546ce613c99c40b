"""FRAUDAR's greedy peeling of a bipartite graph (Hooi et al., KDD 2016).

The objective of a node set S (accounts and items) is ``g(S) = f(S) / |S|`` with
``f(S)`` the total weight of the edges inside S; an edge into item j weighs
``1 / log(d_j + 5)`` (``d_j``: j's degree in the whole graph), which makes the
objective camouflage-resistant. Peeling removes, one at a time, the node whose
removal costs ``f`` the least and keeps the best prefix: at least half of the
optimal ``g`` (the paper's Theorem 1, after Charikar 2000).

The loop runs once per node and once per edge (a priority queue, as in the
authors' reference code); it runs in batch detectors, never per event.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["densest_block", "column_weights", "block_density"]


def column_weights(item: np.ndarray) -> np.ndarray:
    """FRAUDAR's edge weight ``1 / log(d + 5)`` for each edge, ``d`` the item's degree."""
    _, inv, deg = np.unique(item, return_inverse=True, return_counts=True)
    return 1.0 / np.log(deg[inv] + 5.0)


def block_density(account, item, weight, rows, cols) -> float:
    """``g(S)`` of the node set ``rows`` (accounts) and ``cols`` (items)."""
    n = len(rows) + len(cols)
    if n == 0:
        return 0.0
    inside = np.isin(account, rows) & np.isin(item, cols)
    return float(weight[inside].sum() / n)


def densest_block(account: np.ndarray, item: np.ndarray, weight: np.ndarray | None = None):
    """Greedy peeling of the graph with one edge per distinct (account, item) pair.

    Parameters
    ----------
    account, item : int arrays, one entry per edge (pairs must be distinct)
    weight : float array, optional
        Edge weights; FRAUDAR's column weights (:func:`column_weights`) by default.

    Returns
    -------
    (accounts, items, density) : the best block found and its ``g``.
    """
    account = np.asarray(account, np.int64)
    item = np.asarray(item, np.int64)
    if account.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    w = column_weights(item) if weight is None else np.asarray(weight, np.float64)
    ua, ai = np.unique(account, return_inverse=True)
    ui, ii = np.unique(item, return_inverse=True)
    na = ua.size
    node_a, node_i = ai, na + ii          # items are numbered after accounts
    n = na + ui.size
    prio = np.bincount(node_a, w, n) + np.bincount(node_i, w, n)
    # adjacency (node -> edges), as Python lists for the sequential loop
    ends = np.concatenate([node_a, node_i])
    other = np.concatenate([node_i, node_a])
    ew = np.concatenate([w, w])
    order = np.argsort(ends, kind="stable")
    bounds = np.searchsorted(ends[order], np.arange(n + 1))
    nbr, nw = other[order].tolist(), ew[order].tolist()
    b = bounds.tolist()
    p = prio.tolist()
    heap = list(zip(p, range(n)))
    heapq.heapify(heap)
    alive = [True] * n
    f = float(w.sum())
    best, best_step, removed = f / n, 0, []
    size = n
    while heap:
        pv, v = heapq.heappop(heap)
        if not alive[v] or pv != p[v]:
            continue
        alive[v] = False
        removed.append(v)
        f -= p[v]
        size -= 1
        for j in range(b[v], b[v + 1]):
            u = nbr[j]
            if alive[u]:
                p[u] -= nw[j]
                heapq.heappush(heap, (p[u], u))
        if size and f / size > best:
            best, best_step = f / size, len(removed)
    keep = np.ones(n, bool)
    keep[np.asarray(removed[:best_step], np.int64)] = False
    nodes = np.flatnonzero(keep)
    return ua[nodes[nodes < na]], ui[nodes[nodes >= na] - na], float(best)
