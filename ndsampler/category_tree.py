"""
Hierarchical (or mutually exclusive) categories: kwcoco's ``CategoryTree``
plus probability methods for classifiers whose outputs follow the tree.

A network emits one energy per category.  Siblings are mutually exclusive,
so :meth:`CategoryTree.conditional_log_softmax` normalises each sibling
group; the chain rule (:meth:`CategoryTree.source_log_softmax`) gives each
node's joint probability, the product of its conditional probability and its
parent's.  :meth:`CategoryTree.sink_log_softmax` instead normalises over the
leaves and gives every inner node the total of its leaves.
:meth:`CategoryTree.decision` walks down the tree while the finer choice is
clear.

Every method takes either numpy arrays or torch tensors and answers in the
same kind (torch is optional; nothing here imports it unless it is handed a
tensor).  ``entropy`` is measured in bits, as in the original.

Example:
    >>> import numpy as np
    >>> from ndsampler.category_tree import CategoryTree, gini, entropy
    >>> tree = CategoryTree.from_mutex(['cat', 'dog', 'fox'])
    >>> probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7]])
    >>> tree.decision(probs, dim=1)[0].tolist()
    [0, 2]
    >>> gini(np.array([[0.5, 0.5]])).tolist(), entropy(np.array([[0.5, 0.5]])).tolist()
    ([0.5], [1.0])
    >>> np.exp(tree.source_log_softmax(np.zeros((1, 3)), dim=1)).round(3).tolist()
    [[0.333, 0.333, 0.333]]
"""
import warnings

import networkx as nx
import numpy as np
from kwcoco.category_tree import CategoryTree as _KwcocoCategoryTree

__all__ = ['CategoryTree', 'gini', 'entropy', 'source_nodes', 'sink_nodes']

#: ``nll_loss`` ignores targets with this value, as torch does.
IGNORE_INDEX = -100


def source_nodes(graph):
    """
    Nodes without parents (a generator).

    Example:
        >>> import networkx as nx
        >>> sorted(source_nodes(nx.DiGraph([('a', 'b'), ('c', 'd')])))
        ['a', 'c']
    """
    return (n for n in graph.nodes() if graph.in_degree(n) == 0)


def sink_nodes(graph):
    """
    Nodes without children (a generator).

    Example:
        >>> import networkx as nx
        >>> sorted(sink_nodes(nx.DiGraph([('a', 'b'), ('a', 'c')])))
        ['b', 'c']
    """
    return (n for n in graph.nodes() if graph.out_degree(n) == 0)


# -- one small set of array operations, for numpy and for torch ---------------

def _is_torch(data):
    """True for a torch tensor (checked without importing torch)."""
    return type(data).__module__.split('.')[0] == 'torch'


class _NumpyOps:
    """The few array operations this module needs, on numpy arrays."""

    @staticmethod
    def asfloat(x):
        x = np.asarray(x)
        return x if x.dtype.kind == 'f' else x.astype(np.float64)

    @staticmethod
    def take(x, idxs, dim):
        return np.take(x, np.asarray(idxs, dtype=np.int64), axis=dim)

    @staticmethod
    def select(x, dim, idx):
        return np.take(x, idx, axis=dim)

    @staticmethod
    def stack(items, dim):
        return np.stack(items, axis=dim)

    @staticmethod
    def logsumexp(x, dim):
        peak = np.max(x, axis=dim, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0)
        with np.errstate(divide='ignore'):
            total = np.log(np.sum(np.exp(x - peak), axis=dim, keepdims=True))
        return np.squeeze(total + peak, axis=dim)

    @classmethod
    def log_softmax(cls, x, dim):
        return x - np.expand_dims(cls.logsumexp(x, dim), dim)

    @staticmethod
    def exp(x):
        return np.exp(x)

    @staticmethod
    def flatten_classes(x, dim):
        order = [d for d in range(x.ndim) if d != dim] + [dim]
        return np.transpose(x, order).reshape(-1, x.shape[dim])


class _TorchOps:
    """The same operations on torch tensors (differentiable)."""

    @staticmethod
    def asfloat(x):
        return x if x.is_floating_point() else x.double()

    @staticmethod
    def take(x, idxs, dim):
        import torch
        return torch.index_select(x, dim, torch.as_tensor(list(idxs), dtype=torch.long,
                                                          device=x.device))

    @staticmethod
    def select(x, dim, idx):
        return x.select(dim, idx)

    @staticmethod
    def stack(items, dim):
        import torch
        return torch.stack(items, dim=dim)

    @staticmethod
    def logsumexp(x, dim):
        import torch
        return torch.logsumexp(x, dim=dim)

    @staticmethod
    def log_softmax(x, dim):
        import torch
        return torch.log_softmax(x, dim=dim)

    @staticmethod
    def exp(x):
        return x.exp()

    @staticmethod
    def flatten_classes(x, dim):
        order = [d for d in range(x.ndim) if d != dim] + [dim]
        return x.permute(*order).reshape(-1, x.shape[dim])


def _ops(data):
    return _TorchOps if _is_torch(data) else _NumpyOps


def gini(probs, axis=1, impl=np):
    """
    Gini impurity ``1 - sum(p ** 2)`` along ``axis``: a cheap stand-in for
    entropy.  ``impl`` is accepted for compatibility; the array's own library
    (numpy or torch) is always used.

    Example:
        >>> gini(np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]])).tolist()
        [0.0, 0.5, 0.375]
    """
    if _is_torch(probs):
        return 1 - (probs ** 2).sum(dim=axis)
    probs = np.asarray(probs)
    return 1 - np.sum(probs ** 2, axis=axis)


def entropy(probs, axis=1, impl=np):
    """
    Shannon entropy in bits (``-sum(p * log2(p))``) along ``axis``, with
    ``0 log 0 = 0``.  ``impl`` is accepted for compatibility; the array's own
    library (numpy or torch) is always used.

    Example:
        >>> entropy(np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.25]])).tolist()
        [0.0, 1.0, 1.0]
    """
    if _is_torch(probs):
        import torch
        return 0.0 - (torch.special.xlogy(probs, probs) / np.log(2)).sum(dim=axis)
    probs = np.asarray(probs)
    positive = probs > 0
    with np.errstate(divide='ignore', invalid='ignore'):
        terms = np.where(positive, probs * np.log2(np.where(positive, probs, 1)), 0)
    return 0.0 - np.sum(terms, axis=axis)


def _criterion_function(criterion):
    if criterion == 'gini':
        return gini
    if criterion == 'entropy':
        return entropy
    raise KeyError('unknown criterion {!r}; expected gini, entropy or prob'.format(criterion))


def _nll(class_logprobs, targets, reduction):
    """``torch.nn.functional.nll_loss`` (class axis 1, ``ignore_index=-100``)."""
    if _is_torch(class_logprobs):
        import torch
        import torch.nn.functional as F
        targets = torch.as_tensor(targets, device=class_logprobs.device)
        return F.nll_loss(class_logprobs, targets, reduction=reduction)
    if _is_torch(targets):
        targets = targets.detach().cpu().numpy()
    logprobs = np.asarray(class_logprobs)
    targets = np.asarray(targets, dtype=np.int64)
    keep = targets != IGNORE_INDEX
    picked = np.take_along_axis(logprobs, np.expand_dims(np.where(keep, targets, 0), 1), axis=1)
    losses = np.where(keep, -np.squeeze(picked, axis=1), 0).astype(logprobs.dtype)
    if reduction == 'none':
        return losses
    if reduction == 'sum':
        return losses.sum()
    if reduction == 'mean':
        count = keep.sum()
        return losses.sum() / count if count else np.array(np.nan, dtype=logprobs.dtype)
    raise ValueError('{!r} is not a valid value for reduction'.format(reduction))


class CategoryTree(_KwcocoCategoryTree):
    """
    kwcoco's ``CategoryTree`` with hierarchical probability methods (numpy or
    torch).  ``class_energy[..., idx]`` (along ``dim``) belongs to the
    category ``self.idx_to_node[idx]``.

    Example:
        >>> import numpy as np
        >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'animal'},
        ...     {'id': 2, 'name': 'cat', 'supercategory': 'animal'},
        ...     {'id': 3, 'name': 'dog', 'supercategory': 'animal'}])
        >>> probs = np.exp(tree.hierarchical_log_softmax(np.zeros((1, 3)), dim=1))
        >>> {node: round(float(probs[0, idx]), 3) for node, idx in tree.node_to_idx.items()}
        {'animal': 1.0, 'cat': 0.5, 'dog': 0.5}
    """

    # -- helpers ---------------------------------------------------------------
    def _parent_idx(self, node):
        parents = list(self.graph.predecessors(node))
        if len(parents) > 1:
            raise AssertionError('the category graph is not a tree: {!r} has parents '
                                 '{!r}'.format(node, parents))
        return self.node_to_idx[parents[0]] if parents else None

    # -- softmaxes ---------------------------------------------------------------
    def conditional_log_softmax(self, class_energy, dim):
        """
        Log-softmax within each group of mutually exclusive siblings: the
        log-probability of each category given its parent.

        Example:
            >>> tree = CategoryTree.from_mutex(['a', 'b'])
            >>> np.exp(tree.conditional_log_softmax(np.array([[0.0, np.log(3)]]), dim=1)).round(6).tolist()
            [[0.25, 0.75]]
        """
        ops = _ops(class_energy)
        energy = ops.asfloat(class_energy)
        dim = dim % energy.ndim
        columns = [None] * len(self.idx_to_node)
        for group in self.idx_groups:
            group = list(group)
            logprobs = ops.log_softmax(ops.take(energy, group, dim), dim)
            for j, idx in enumerate(group):
                columns[idx] = ops.select(logprobs, dim, j)
        if not columns:
            return energy
        return ops.stack(columns, dim)

    def _apply_logprob_chain_rule(self, cond_logprobs, dim):
        """
        Joint log-probabilities from conditional ones: ``log P(node) =
        log P(node | parent) + log P(parent)``, from the roots down.

        Example:
            >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'a'},
            ...     {'id': 2, 'name': 'b', 'supercategory': 'a'}])
            >>> cond = np.log(np.array([[0.5, 0.5]]))
            >>> np.exp(tree._apply_logprob_chain_rule(cond, dim=1)).tolist()
            [[0.5, 0.25]]
        """
        ops = _ops(cond_logprobs)
        dim = dim % cond_logprobs.ndim
        columns = [None] * len(self.idx_to_node)
        for node in nx.topological_sort(self.graph):
            idx = self.node_to_idx[node]
            column = ops.select(cond_logprobs, dim, idx)
            parent = self._parent_idx(node)
            columns[idx] = column if parent is None else column + columns[parent]
        if not columns:
            return cond_logprobs
        return ops.stack(columns, dim)

    def _apply_logit_chain_rule(self, cond_logprobs, dim):
        """Deprecated (misnamed) alias of :meth:`_apply_logprob_chain_rule`."""
        warnings.warn('_apply_logit_chain_rule is deprecated; use _apply_logprob_chain_rule',
                      DeprecationWarning, stacklevel=2)
        return self._apply_logprob_chain_rule(cond_logprobs, dim)

    def source_log_softmax(self, class_energy, dim):
        """
        Top-down joint log-probabilities (the default hierarchical
        log-softmax): sibling log-softmaxes chained from the roots down, so a
        parent's probability is the sum of its children's.

        Example:
            >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'a'},
            ...     {'id': 2, 'name': 'b', 'supercategory': 'a'},
            ...     {'id': 3, 'name': 'c', 'supercategory': 'a'}, {'id': 4, 'name': 'z'}])
            >>> np.exp(tree.source_log_softmax(np.zeros((1, 4)), dim=-1)).tolist()
            [[0.5, 0.25, 0.25, 0.5]]
        """
        cond = self.conditional_log_softmax(class_energy, dim)
        return self._apply_logprob_chain_rule(cond, dim)

    def hierarchical_log_softmax(self, class_energy, dim):
        """Alias of :meth:`source_log_softmax`.

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import torch
            >>> CategoryTree.from_mutex(['a', 'b']).hierarchical_log_softmax(torch.zeros(1, 2), dim=1).exp().tolist()
            [[0.5, 0.5]]
        """
        return self.source_log_softmax(class_energy, dim)

    def graph_log_softmax(self, class_energy, dim):
        """Alias of :meth:`source_log_softmax`.

        Example:
            >>> np.exp(CategoryTree.from_mutex(['a', 'b']).graph_log_softmax(np.zeros((1, 2)), dim=1)).tolist()
            [[0.5, 0.5]]
        """
        return self.source_log_softmax(class_energy, dim)

    def sink_log_softmax(self, class_energy, dim):
        """
        Bottom-up joint log-probabilities: a log-softmax over the leaves only
        (the energies of inner nodes are ignored); each inner node gets the
        total of its children.

        Example:
            >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'a'},
            ...     {'id': 2, 'name': 'b', 'supercategory': 'a'},
            ...     {'id': 3, 'name': 'c', 'supercategory': 'a'}, {'id': 4, 'name': 'z'}])
            >>> np.exp(tree.sink_log_softmax(np.array([[9.0, 0, 0, 0]]), dim=1)).round(4).tolist()
            [[0.6667, 0.3333, 0.3333, 0.3333]]
        """
        ops = _ops(class_energy)
        energy = ops.asfloat(class_energy)
        dim = dim % energy.ndim
        leaves = sorted(self.node_to_idx[node] for node in sink_nodes(self.graph))
        if not leaves:
            return energy
        leaf_logprobs = ops.log_softmax(ops.take(energy, leaves, dim), dim)
        columns = [None] * len(self.idx_to_node)
        for j, idx in enumerate(leaves):
            columns[idx] = ops.select(leaf_logprobs, dim, j)
        for node in reversed(list(nx.topological_sort(self.graph))):
            idx = self.node_to_idx[node]
            if columns[idx] is None:
                children = sorted(self.node_to_idx[c] for c in self.graph.successors(node))
                columns[idx] = ops.logsumexp(ops.stack([columns[c] for c in children], 0), 0)
        return ops.stack(columns, dim)

    def hierarchical_softmax(self, class_energy, dim):
        """
        Joint probabilities: the exp of :meth:`hierarchical_log_softmax`.

        Example:
            >>> tree = CategoryTree.from_mutex(['a', 'b'])
            >>> tree.hierarchical_softmax(np.array([[0.0, 0.0]]), dim=1).tolist()
            [[0.5, 0.5]]
        """
        logprobs = self.hierarchical_log_softmax(class_energy, dim)
        return _ops(logprobs).exp(logprobs)

    def graph_softmax(self, class_energy, dim):
        """Alias of :meth:`hierarchical_softmax`.

        Example:
            >>> CategoryTree.from_mutex(['a', 'b']).graph_softmax(np.array([[0.0, np.log(3)]]), dim=1).round(6).tolist()
            [[0.25, 0.75]]
        """
        return self.hierarchical_softmax(class_energy, dim)

    # -- losses ------------------------------------------------------------------
    def hierarchical_cross_entropy(self, class_energy, targets, reduction='mean'):
        """
        :meth:`hierarchical_log_softmax` over ``dim=1`` followed by
        ``nll_loss`` (``reduction`` is ``'mean'``, ``'sum'`` or ``'none'``;
        targets equal to -100 are ignored, as in torch).

        Example:
            >>> tree = CategoryTree.from_mutex(['a', 'b'])
            >>> round(float(tree.hierarchical_cross_entropy(np.zeros((2, 2)), np.array([0, 1]))), 6)
            0.693147
        """
        logprobs = self.hierarchical_log_softmax(class_energy, dim=1)
        return _nll(logprobs, targets, reduction)

    def hierarchical_nll_loss(self, class_logprobs, targets):
        """
        Mean negative log-probability of each target category index (class
        axis 1).  With joint log-probabilities, a target given at a coarse
        level only penalises errors at and above that level.

        Example:
            >>> logprobs = np.log(np.array([[0.5, 0.25, 0.25], [1.0, 0.5, 0.5]]))
            >>> loss = CategoryTree.from_mutex(['a', 'b', 'c']).hierarchical_nll_loss(
            ...     logprobs, np.array([0, 1]))
            >>> round(float(loss), 6)
            0.693147
        """
        return _nll(class_logprobs, targets, 'mean')

    # -- decisions ---------------------------------------------------------------
    def _prob_decision(self, class_probs, dim, thresh=0.1):
        """
        Descend from the most probable root to the most probable child while
        both the current node and that child have probability above
        ``thresh``.

        Returns:
            Tuple[ndarray, ArrayLike]: predicted indices (numpy) and their
            probabilities (same kind as ``class_probs``), one per row of the
            input with the class axis flattened out.

        Example:
            >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'a'},
            ...     {'id': 2, 'name': 'b', 'supercategory': 'a'},
            ...     {'id': 3, 'name': 'c', 'supercategory': 'a'}])
            >>> idxs, conf = tree._prob_decision(np.array([[1.0, 0.6, 0.4], [1.0, 0.05, 0.05]]), 1, thresh=0.3)
            >>> [tree.idx_to_node[i] for i in idxs], conf.tolist()
            (['b', 'a'], [0.6, 1.0])
        """
        flat, finish = self._flat_probs(class_probs, dim)
        children = self._children_idxs()
        roots = sorted(self.node_to_idx[n] for n in source_nodes(self.graph))
        pred = np.empty(len(flat), dtype=np.int64)
        for row, probs in enumerate(flat):
            current = roots[int(np.argmax(probs[roots]))]
            while probs[current] > thresh and children[current]:
                kids = children[current]
                best = kids[int(np.argmax(probs[kids]))]
                if not probs[best] > thresh:
                    break
                current = best
            pred[row] = current
        return finish(pred)

    def decision(self, class_probs, dim, thresh=0.5, criterion='gini',
                 ignore_class_idxs=None, always_refine_idxs=None):
        """
        Choose the finest category whose choice is clear, by information
        gain.

        Start with the most probable root.  For a node with children, compare
        the impurity (``criterion``: ``'gini'`` or ``'entropy'``) of the
        distribution in which the node is replaced by its children (its
        siblings kept) with the worst case, in which its probability is split
        evenly among them; refine into the most probable child when the
        "simplicity ratio" ``1 - impurity / worst`` exceeds ``thresh``, and
        repeat.  A node with a single child is always refined, as are nodes in
        ``always_refine_idxs``; nodes in ``ignore_class_idxs`` are never
        predicted (ignoring every root raises ``ValueError``).
        ``criterion='prob'`` uses :meth:`_prob_decision` instead.

        Args:
            class_probs (ndarray | Tensor): joint probabilities; ``dim`` is
                the class axis.
            thresh (float): larger values prefer coarser categories.

        Returns:
            Tuple[ndarray, ArrayLike]: ``pred_idxs`` (numpy int64) and
            ``pred_conf`` (numpy, or a tensor when ``class_probs`` is one),
            one per row with the class axis flattened out.

        Example:
            >>> tree = CategoryTree.from_coco([{'id': 1, 'name': 'dog'},
            ...     {'id': 2, 'name': 'husky', 'supercategory': 'dog'},
            ...     {'id': 3, 'name': 'pug', 'supercategory': 'dog'}, {'id': 4, 'name': 'car'}])
            >>> probs = np.array([[0.9, 0.85, 0.05, 0.1],    # clearly a husky
            ...                   [0.9, 0.45, 0.45, 0.1]])   # a dog, breed unclear
            >>> idxs, conf = tree.decision(probs, dim=1)
            >>> [tree.idx_to_node[i] for i in idxs], conf.tolist()
            (['husky', 'dog'], [0.85, 0.9])
            >>> idxs, _ = tree.decision(probs, dim=1, ignore_class_idxs=[tree.node_to_idx['husky']])
            >>> [tree.idx_to_node[i] for i in idxs]
            ['pug', 'pug']
        """
        if criterion == 'prob':
            return self._prob_decision(class_probs, dim, thresh=thresh)
        impurity = _criterion_function(criterion)
        flat, finish = self._flat_probs(class_probs, dim)
        ignore = {int(i) for i in (ignore_class_idxs if ignore_class_idxs is not None else [])}
        refine_always = {int(i) for i in (always_refine_idxs if always_refine_idxs is not None
                                          else [])}
        children = self._children_idxs(ignore)
        roots = sorted(set(self.node_to_idx[n] for n in source_nodes(self.graph)) - ignore)
        if not roots:
            raise ValueError('Cannot ignore all top-level classes')
        pred = np.empty(len(flat), dtype=np.int64)

        def descend(level, rows):
            # ``level``: the sibling indices competing here; ``rows``: the
            # rows that reached them.  Fills ``pred`` for those rows.
            choice = np.asarray(level)[np.argmax(flat[rows][:, level], axis=1)]
            pred[rows] = choice
            for idx in np.unique(choice):
                kids = children[idx]
                if not kids:
                    continue
                group = rows[choice == idx]
                refine = self._refine_flags(flat[group], idx, level, kids, impurity, thresh)
                if idx in refine_always or len(kids) == 1:
                    refine[:] = True
                if refine.any():
                    descend(kids, group[refine])

        if len(flat):
            descend(roots, np.arange(len(flat)))
        return finish(pred)

    @staticmethod
    def _refine_flags(probs, idx, level, kids, impurity, thresh):
        """Rows whose node ``idx`` should be replaced by one of ``kids``."""
        ommers = [i for i in level if i != idx]
        expanded = probs[:, ommers + kids]
        worst = np.concatenate(
            [probs[:, ommers], np.repeat(probs[:, idx:idx + 1] / len(kids), len(kids), axis=1)],
            axis=1)
        with np.errstate(divide='ignore', invalid='ignore'):
            simplicity = 1 - impurity(expanded, axis=1) / (impurity(worst, axis=1) + 1e-30)
        return simplicity > thresh

    def _children_idxs(self, ignore=()):
        """``{idx: sorted indices of its children that are not in ignore}``."""
        return {idx: sorted(self.node_to_idx[c] for c in self.graph.successors(node)
                            if self.node_to_idx[c] not in ignore)
                for node, idx in self.node_to_idx.items()}

    @staticmethod
    def _flat_probs(class_probs, dim):
        """
        ``(N, C)`` numpy probabilities with the class axis last, and a
        function turning predicted indices into ``(pred_idxs, pred_conf)``
        with the confidences taken from the input (so a tensor stays a tensor,
        on its device).
        """
        if _is_torch(class_probs):
            import torch
            dim = dim % class_probs.ndim
            flat_input = _TorchOps.flatten_classes(class_probs, dim)
            flat = flat_input.detach().cpu().numpy()

            def finish(pred):
                index = torch.as_tensor(pred, device=flat_input.device)
                rows = torch.arange(len(pred), device=flat_input.device)
                return pred, flat_input[rows, index]
        else:
            class_probs = np.asarray(class_probs)
            dim = dim % class_probs.ndim
            flat = _NumpyOps.flatten_classes(class_probs, dim)

            def finish(pred):
                return pred, flat[np.arange(len(pred)), pred]
        return flat, finish

    def _demo_probs(self, num=5, rng=0, nonrandom=3, hackargmax=True):
        """
        Joint probabilities ``(num, C)`` for tests: random energies, except
        that row 0 is (almost) uniform and rows ``1 .. nonrandom - 1`` favour
        the longest root-to-leaf path more and more strongly.  A float32
        tensor when torch is installed, else a numpy array.

        Example:
            >>> tree = CategoryTree.demo('btree', r=2, h=2, add_zero=False)
            >>> probs = np.asarray(tree._demo_probs(num=4))
            >>> probs.shape, bool(np.allclose(probs[:, [1, 2]].sum(axis=1), probs[:, 0]))
            ((4, 7), True)
        """
        import kwarray
        rng = kwarray.ensure_rng(rng)
        energy = rng.rand(num, len(self)).astype(np.float32)
        nonrandom = min(nonrandom, num)
        if nonrandom > 0:
            path = sorted(self.node_to_idx[n] for n in nx.dag_longest_path(self.graph))
            energy[0] = 1 / energy.shape[1]
            if hackargmax:  # make ties impossible, so every argmax agrees
                energy[0] += np.linspace(0, 1e-5, energy.shape[1]).astype(np.float32)
            for row in range(1, nonrandom - 1):
                energy[row, path] += 2 ** ((row - 1) / 4)
            if nonrandom > 1:
                energy[nonrandom - 1, path] += 2 ** 20
        try:
            import torch
        except ImportError:
            return self.hierarchical_softmax(energy, dim=1)
        return self.hierarchical_softmax(torch.from_numpy(energy), dim=1)

    # -- the original's misspelled names -----------------------------------------
    def heirarchical_softmax(self, *args, **kw):
        """Deprecated spelling of :meth:`hierarchical_softmax`.

        Example:
            >>> CategoryTree.from_mutex(['a', 'b']).heirarchical_softmax(np.zeros((1, 2)), dim=1).tolist()
            [[0.5, 0.5]]
        """
        warnings.warn('heirarchical_softmax is deprecated; use hierarchical_softmax',
                      DeprecationWarning, stacklevel=2)
        return self.hierarchical_softmax(*args, **kw)

    def heirarchical_log_softmax(self, *args, **kw):
        """Deprecated spelling of :meth:`hierarchical_log_softmax`.

        Example:
            >>> np.exp(CategoryTree.from_mutex(['a', 'b']).heirarchical_log_softmax(np.zeros((1, 2)), dim=1)).tolist()
            [[0.5, 0.5]]
        """
        warnings.warn('heirarchical_log_softmax is deprecated; use hierarchical_log_softmax',
                      DeprecationWarning, stacklevel=2)
        return self.hierarchical_log_softmax(*args, **kw)

    def heirarchical_cross_entropy(self, *args, **kw):
        """Deprecated spelling of :meth:`hierarchical_cross_entropy`.

        Example:
            >>> round(float(CategoryTree.from_mutex(['a', 'b']).heirarchical_cross_entropy(np.zeros((1, 2)), np.array([0]))), 6)
            0.693147
        """
        warnings.warn('heirarchical_cross_entropy is deprecated; use hierarchical_cross_entropy',
                      DeprecationWarning, stacklevel=2)
        return self.hierarchical_cross_entropy(*args, **kw)

    def heirarchical_nll_loss(self, *args, **kw):
        """Deprecated spelling of :meth:`hierarchical_nll_loss`.

        Example:
            >>> round(float(CategoryTree.from_mutex(['a', 'b']).heirarchical_nll_loss(np.log([[0.5, 0.5]]), np.array([1]))), 6)
            0.693147
        """
        warnings.warn('heirarchical_nll_loss is deprecated; use hierarchical_nll_loss',
                      DeprecationWarning, stacklevel=2)
        return self.hierarchical_nll_loss(*args, **kw)
