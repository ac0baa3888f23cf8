"""
Hierarchical (or mutually exclusive) categories: kwcoco's ``CategoryTree``
plus probability methods for classifiers whose outputs follow the tree.

A network emits one energy per category.  Siblings are mutually exclusive,
so ``conditional_log_softmax`` normalises each sibling group; the chain rule
(``source_log_softmax``) gives each node's joint probability, the product of
its conditional probability and its parent's.  ``sink_log_softmax`` instead
normalises over the leaves and gives every inner node the total of its
leaves.  ``decision`` walks down the tree while the choice is clear.

The softmax methods take torch tensors (torch is optional: install
``torch`` to use them); ``decision``, ``gini`` and ``entropy`` also take
numpy arrays.

Example:
    >>> import numpy as np
    >>> from ndsampler.category_tree import CategoryTree, gini, entropy
    >>> tree = CategoryTree.from_mutex(['cat', 'dog', 'fox'])
    >>> probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7]])
    >>> tree.decision(probs, dim=1)[0].tolist()
    [0, 2]
    >>> gini(np.array([[0.5, 0.5]])).tolist(), entropy(np.array([[1.0, 0.0]])).tolist()
    ([0.5], [0.0])
"""
import networkx as nx
import numpy as np
from kwcoco.category_tree import CategoryTree as _KwcocoCategoryTree


def source_nodes(graph):
    """Nodes without parents."""
    return (n for n in graph.nodes() if graph.in_degree(n) == 0)


def sink_nodes(graph):
    """Nodes without children."""
    return (n for n in graph.nodes() if graph.out_degree(n) == 0)


def gini(probs, axis=1, impl=np):
    """Gini impurity ``1 - sum(p ** 2)`` along ``axis``."""
    return 1 - impl.sum(probs ** 2, axis=axis)


def entropy(probs, axis=1, impl=np):
    """Shannon entropy (nats) along ``axis``, with ``0 log 0 = 0``."""
    if impl is np:
        return 0.0 - np.sum(probs * np.log(np.clip(probs, 1e-300, None)), axis=axis)
    return 0.0 - (probs * probs.clamp(min=1e-38).log()).sum(dim=axis)


def _normalised_impurity(cond, criterion):
    """Impurity of a conditional distribution scaled to [0, 1]."""
    k = len(cond)
    if k < 2:
        return 0.0
    if criterion == 'gini':
        return float(gini(cond[None, :])[0]) / (1 - 1 / k)
    if criterion == 'entropy':
        return float(entropy(cond[None, :])[0]) / np.log(k)
    raise KeyError('unknown criterion {!r}; expected gini or entropy'.format(criterion))


class CategoryTree(_KwcocoCategoryTree):
    """kwcoco's ``CategoryTree`` with hierarchical probability methods."""

    def _topological_idxs(self):
        return [self.node_to_idx[node] for node in nx.topological_sort(self.graph)]

    def _parent_idx(self, idx):
        parents = list(self.graph.predecessors(self.idx_to_node[idx]))
        return self.node_to_idx[parents[0]] if parents else None

    def conditional_log_softmax(self, class_energy, dim):
        """Log-softmax within each group of mutually exclusive siblings."""
        import torch
        out = torch.empty_like(class_energy)
        for group in self.idx_groups:
            index = torch.as_tensor(list(group), device=class_energy.device)
            energies = class_energy.index_select(dim, index)
            out.index_copy_(dim, index, torch.log_softmax(energies, dim=dim))
        return out

    def _apply_logprob_chain_rule(self, cond_logprobs, dim):
        """Joint log-probabilities: add each node's ancestors' conditionals."""
        import torch
        columns = [None] * len(self.idx_to_node)
        for idx in self._topological_idxs():
            column = cond_logprobs.select(dim, idx)
            parent = self._parent_idx(idx)
            columns[idx] = column if parent is None else column + columns[parent]
        return torch.stack(columns, dim=dim)

    def source_log_softmax(self, class_energy, dim):
        """Joint log-probabilities by the chain rule from the roots down."""
        return self._apply_logprob_chain_rule(self.conditional_log_softmax(class_energy, dim), dim)

    hierarchical_log_softmax = source_log_softmax
    graph_log_softmax = source_log_softmax

    def sink_log_softmax(self, class_energy, dim):
        """Log-softmax over the leaves; each inner node gets the total of its leaves."""
        import torch
        sinks = [self.node_to_idx[n] for n in sink_nodes(self.graph)]
        leaf_logprobs = torch.log_softmax(
            class_energy.index_select(dim, torch.as_tensor(sinks, device=class_energy.device)), dim=dim)
        columns = [None] * len(self.idx_to_node)
        for j, idx in enumerate(sinks):
            columns[idx] = leaf_logprobs.select(dim, j)
        for idx in reversed(self._topological_idxs()):
            if columns[idx] is None:
                children = [columns[self.node_to_idx[c]] for c in self.graph.successors(self.idx_to_node[idx])]
                columns[idx] = torch.logsumexp(torch.stack(children, dim=0), dim=0)
        return torch.stack(columns, dim=dim)

    def hierarchical_softmax(self, class_energy, dim):
        """Joint probabilities (the exp of :meth:`source_log_softmax`)."""
        return self.source_log_softmax(class_energy, dim).exp()

    graph_softmax = hierarchical_softmax

    def hierarchical_nll_loss(self, class_logprobs, targets):
        """Mean negative joint log-probability of each target category index."""
        return -class_logprobs.gather(1, targets.view(-1, 1)).mean()

    def hierarchical_cross_entropy(self, class_energy, targets, reduction='mean'):
        """Cross-entropy of energies ``(N, C)`` against category indices ``(N,)``."""
        nll = -self.source_log_softmax(class_energy, dim=1).gather(1, targets.view(-1, 1))[:, 0]
        if reduction == 'mean':
            return nll.mean()
        if reduction == 'sum':
            return nll.sum()
        if reduction == 'none':
            return nll
        raise KeyError('unknown reduction {!r}'.format(reduction))

    def decision(self, class_probs, dim, thresh=0.5, criterion='gini',
                 ignore_class_idxs=None, always_refine_idxs=None):
        """
        Predict one category per row by descending the tree.

        Start at the most probable root; move to the most probable child while
        the children's conditional distribution is decisive, that is, its
        impurity (``'gini'`` or ``'entropy'``, scaled to [0, 1]) is at most
        ``1 - thresh``; always move on from nodes in ``always_refine_idxs``;
        never choose nodes in ``ignore_class_idxs``.

        Returns:
            Tuple[ndarray, ndarray]: predicted indices and their probabilities
            (torch tensors when the input is one).
        """
        is_torch = not isinstance(class_probs, np.ndarray)
        probs = class_probs.detach().cpu().numpy() if is_torch else np.asarray(class_probs)
        probs = np.moveaxis(probs, dim, -1).reshape(-1, probs.shape[dim])
        ignore = set(ignore_class_idxs or [])
        refine = set(always_refine_idxs or [])
        children = {idx: [self.node_to_idx[c] for c in self.graph.successors(node)
                          if self.node_to_idx[c] not in ignore]
                    for node, idx in self.node_to_idx.items()}
        roots = np.array([self.node_to_idx[n] for n in source_nodes(self.graph)
                          if self.node_to_idx[n] not in ignore])
        pred = np.empty(len(probs), dtype=np.int64)
        for row, p in enumerate(probs):
            current = roots[np.argmax(p[roots])]
            while children[current]:
                kids = np.array(children[current])
                kid_probs = p[kids]
                total = kid_probs.sum()
                if total <= 0:
                    break
                impurity = _normalised_impurity(kid_probs / total, criterion)
                if current not in refine and impurity > 1 - thresh:
                    break
                current = kids[np.argmax(kid_probs)]
            pred[row] = current
        conf = probs[np.arange(len(probs)), pred]
        if is_torch:
            import torch
            return torch.from_numpy(pred), torch.from_numpy(conf)
        return pred, conf

    # The original's misspelled names, kept for old callers.
    heirarchical_softmax = hierarchical_softmax
    heirarchical_log_softmax = source_log_softmax
    heirarchical_cross_entropy = hierarchical_cross_entropy
    heirarchical_nll_loss = hierarchical_nll_loss

    def _demo_probs(self, num=5, rng=0):
        """Random joint probabilities ``(num, C)`` that follow the tree."""
        import kwarray
        import torch
        rng = kwarray.ensure_rng(rng)
        energy = torch.from_numpy(rng.randn(num, len(self.idx_to_node)))
        return self.hierarchical_softmax(energy, dim=1).numpy()
