"""
Hierarchical probabilities over a category tree, each method checked with
numpy arrays and with torch tensors against explicit values, and the toy
sampler.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ndsampler.category_tree import CategoryTree, entropy, gini, sink_nodes, source_nodes

IMPLS = ['numpy', 'torch']


@pytest.fixture
def tree():
    # animal -> {cat, dog}, dog -> {husky, pug}; vehicle (a second root)
    return CategoryTree.from_coco([
        {'id': 1, 'name': 'animal'}, {'id': 2, 'name': 'cat', 'supercategory': 'animal'},
        {'id': 3, 'name': 'dog', 'supercategory': 'animal'},
        {'id': 4, 'name': 'husky', 'supercategory': 'dog'},
        {'id': 5, 'name': 'pug', 'supercategory': 'dog'}, {'id': 6, 'name': 'vehicle'}])


NAMES = ['animal', 'cat', 'dog', 'husky', 'pug', 'vehicle']


def as_impl(array, impl):
    """The array as a numpy array or as a torch tensor (skipping without torch)."""
    array = np.asarray(array, dtype=np.float64)
    if impl == 'torch':
        torch = pytest.importorskip('torch')
        return torch.from_numpy(array)
    return array


def to_numpy(data):
    return data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)


def assert_kind(result, impl):
    if impl == 'torch':
        assert type(result).__module__.startswith('torch')
    else:
        assert isinstance(result, np.ndarray)


def by_name(tree, row):
    return {name: round(float(row[tree.node_to_idx[name]]), 6) for name in NAMES}


def test_tree_fixture_indexes_categories_in_id_order(tree):
    assert list(tree.idx_to_node) == NAMES
    assert sorted(map(sorted, tree.idx_groups)) == [[0, 5], [1, 2], [3, 4]]
    assert sorted(source_nodes(tree.graph)) == ['animal', 'vehicle']
    assert sorted(sink_nodes(tree.graph)) == ['cat', 'husky', 'pug', 'vehicle']


# -- softmaxes -------------------------------------------------------------------

#: energies whose sibling softmaxes are simple fractions: dog is 3x as likely as cat
ENERGY = np.log([[1.0, 1.0, 3.0, 1.0, 1.0, 1.0]])


@pytest.mark.parametrize('impl', IMPLS)
def test_conditional_log_softmax_normalises_each_sibling_group(tree, impl):
    out = tree.conditional_log_softmax(as_impl(ENERGY, impl), dim=1)
    assert_kind(out, impl)
    assert by_name(tree, np.exp(to_numpy(out))[0]) == {
        'animal': 0.5, 'cat': 0.25, 'dog': 0.75, 'husky': 0.5, 'pug': 0.5, 'vehicle': 0.5}


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('method', ['source_log_softmax', 'hierarchical_log_softmax',
                                    'graph_log_softmax'])
def test_source_log_softmax_chains_conditionals_from_the_roots(tree, impl, method):
    out = getattr(tree, method)(as_impl(ENERGY, impl), dim=1)
    assert_kind(out, impl)
    assert by_name(tree, np.exp(to_numpy(out))[0]) == {
        'animal': 0.5, 'cat': 0.125, 'dog': 0.375, 'husky': 0.1875, 'pug': 0.1875,
        'vehicle': 0.5}


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('method', ['hierarchical_softmax', 'graph_softmax'])
def test_hierarchical_softmax_is_the_exp_of_the_source_log_softmax(tree, impl, method):
    out = getattr(tree, method)(as_impl(ENERGY, impl), dim=1)
    assert_kind(out, impl)
    np.testing.assert_allclose(to_numpy(out), [[0.5, 0.125, 0.375, 0.1875, 0.1875, 0.5]])


@pytest.mark.parametrize('impl', IMPLS)
def test_sink_log_softmax_uses_only_leaf_energies_and_sums_upwards(tree, impl):
    # leaves (cat, husky, pug, vehicle) have equal energy; inner energies are ignored
    energy = np.log([[50.0, 1.0, 7.0, 1.0, 1.0, 1.0]])
    out = tree.sink_log_softmax(as_impl(energy, impl), dim=1)
    assert_kind(out, impl)
    assert by_name(tree, np.exp(to_numpy(out))[0]) == {
        'animal': 0.75, 'cat': 0.25, 'dog': 0.5, 'husky': 0.25, 'pug': 0.25, 'vehicle': 0.25}


@pytest.mark.parametrize('impl', IMPLS)
def test_softmaxes_accept_any_class_axis_and_extra_axes(tree, impl):
    rng = np.random.RandomState(0)
    energy = rng.randn(2, 6, 3)  # (batch, classes, pixels)
    per_row = np.stack([[np.exp(tree.source_log_softmax(energy[b, :, p][None], dim=1))[0]
                         for p in range(3)] for b in range(2)])  # (batch, pixels, classes)
    out = np.exp(to_numpy(tree.source_log_softmax(as_impl(energy, impl), dim=1)))
    assert out.shape == (2, 6, 3)
    np.testing.assert_allclose(out.transpose(0, 2, 1), per_row)
    last = np.exp(to_numpy(tree.source_log_softmax(as_impl(energy.transpose(0, 2, 1), impl), dim=-1)))
    np.testing.assert_allclose(last, per_row)
    sink = np.exp(to_numpy(tree.sink_log_softmax(as_impl(energy, impl), dim=1)))
    np.testing.assert_allclose(sink[:, [1, 3, 4, 5]].sum(axis=1), np.ones((2, 3)))


def test_numpy_and_torch_softmaxes_agree_on_random_energies(tree):
    torch = pytest.importorskip('torch')
    energy = np.random.RandomState(1).randn(16, 6)
    for method in ['conditional_log_softmax', 'source_log_softmax', 'sink_log_softmax']:
        np_out = getattr(tree, method)(energy, dim=1)
        torch_out = getattr(tree, method)(torch.from_numpy(energy), dim=1)
        np.testing.assert_allclose(np_out, torch_out.numpy(), atol=1e-12)


def test_integer_energies_are_promoted_to_float(tree):
    out = tree.hierarchical_softmax(np.zeros((1, 6), dtype=np.int64), dim=1)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[0.5, 0.25, 0.25, 0.125, 0.125, 0.5]])


# -- losses ----------------------------------------------------------------------

@pytest.mark.parametrize('impl', IMPLS)
def test_hierarchical_cross_entropy_is_the_negative_joint_log_probability(tree, impl):
    energy = as_impl(np.repeat(ENERGY, 2, axis=0), impl)
    targets = np.array([tree.node_to_idx['pug'], tree.node_to_idx['vehicle']])
    if impl == 'torch':
        import torch
        targets = torch.from_numpy(targets)
    expected = [-np.log(0.1875), -np.log(0.5)]
    none = tree.hierarchical_cross_entropy(energy, targets, reduction='none')
    assert_kind(none, impl)
    np.testing.assert_allclose(to_numpy(none), expected)
    assert float(tree.hierarchical_cross_entropy(energy, targets, reduction='sum')) == pytest.approx(sum(expected))
    assert float(tree.hierarchical_cross_entropy(energy, targets)) == pytest.approx(np.mean(expected))
    logprobs = tree.hierarchical_log_softmax(energy, dim=1)
    assert float(tree.hierarchical_nll_loss(logprobs, targets)) == pytest.approx(np.mean(expected))


@pytest.mark.parametrize('impl', IMPLS)
def test_nll_ignores_target_minus_100_like_torch(tree, impl):
    energy = as_impl(np.repeat(ENERGY, 3, axis=0), impl)
    targets = np.array([tree.node_to_idx['cat'], -100, tree.node_to_idx['animal']])
    if impl == 'torch':
        import torch
        targets = torch.from_numpy(targets)
    none = to_numpy(tree.hierarchical_cross_entropy(energy, targets, reduction='none'))
    np.testing.assert_allclose(none, [-np.log(0.125), 0.0, -np.log(0.5)])
    mean = float(tree.hierarchical_cross_entropy(energy, targets))
    assert mean == pytest.approx((-np.log(0.125) - np.log(0.5)) / 2)
    with pytest.raises(ValueError):
        tree.hierarchical_cross_entropy(energy, targets, reduction='median')


def test_torch_losses_backpropagate_into_the_relevant_energies(tree):
    torch = pytest.importorskip('torch')
    energy = torch.zeros(1, 6, dtype=torch.float64, requires_grad=True)
    loss = tree.hierarchical_cross_entropy(energy, torch.tensor([tree.node_to_idx['animal']]))
    loss.backward()
    # a coarse target only involves the roots' sibling group
    touched = [NAMES[i] for i in np.nonzero(energy.grad.numpy()[0])[0]]
    assert touched == ['animal', 'vehicle']


# -- decisions -------------------------------------------------------------------

def decision_probs():
    """Rows: clearly a pug; a dog of unclear breed; a vehicle."""
    return np.array([
        # animal cat   dog  husky pug  vehicle
        [0.95, 0.05, 0.90, 0.05, 0.85, 0.05],
        [0.95, 0.05, 0.90, 0.45, 0.45, 0.05],
        [0.10, 0.00, 0.00, 0.00, 0.00, 0.90],
    ])


def names(idxs):
    return [NAMES[i] for i in idxs]


@pytest.mark.parametrize('impl', IMPLS)
def test_decision_returns_numpy_indices_and_confidences_of_the_input_kind(tree, impl):
    idxs, conf = tree.decision(as_impl(decision_probs(), impl), dim=1)
    assert isinstance(idxs, np.ndarray) and idxs.dtype == np.int64
    assert_kind(conf, impl)
    assert names(idxs) == ['pug', 'dog', 'vehicle']
    np.testing.assert_allclose(to_numpy(conf), [0.85, 0.90, 0.90])


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('criterion, thresh, expected', [
    # gini simplicity of refining animal is 0.661, dog (row 0) 0.540
    ('gini', 0.5, ['pug', 'dog', 'vehicle']),
    ('gini', 0.6, ['dog', 'dog', 'vehicle']),
    ('gini', 0.7, ['animal', 'animal', 'vehicle']),
    # entropy (bits) simplicity of refining animal is 0.540, dog (row 0) 0.496
    ('entropy', 0.49, ['pug', 'dog', 'vehicle']),
    ('entropy', 0.5, ['dog', 'dog', 'vehicle']),
    ('entropy', 0.6, ['animal', 'animal', 'vehicle']),
])
def test_decision_refines_while_the_simplicity_ratio_exceeds_thresh(tree, impl, criterion,
                                                                     thresh, expected):
    idxs, _ = tree.decision(as_impl(decision_probs(), impl), dim=1, thresh=thresh,
                            criterion=criterion)
    assert names(idxs) == expected


@pytest.mark.parametrize('impl', IMPLS)
def test_decision_never_predicts_ignored_classes(tree, impl):
    probs = as_impl(decision_probs(), impl)
    husky, vehicle = tree.node_to_idx['husky'], tree.node_to_idx['vehicle']
    # with husky ignored, dog has one child left and is always refined into it
    idxs, conf = tree.decision(probs, dim=1, ignore_class_idxs=[husky])
    assert names(idxs) == ['pug', 'pug', 'vehicle']
    np.testing.assert_allclose(to_numpy(conf), [0.85, 0.45, 0.90])
    idxs, _ = tree.decision(probs, dim=1, ignore_class_idxs=[vehicle, husky])
    assert names(idxs) == ['pug', 'pug', 'animal']
    with pytest.raises(ValueError, match='top-level'):
        tree.decision(probs, dim=1, ignore_class_idxs=[0, vehicle])


@pytest.mark.parametrize('impl', IMPLS)
def test_decision_always_refines_listed_classes(tree, impl):
    dog = tree.node_to_idx['dog']
    idxs, _ = tree.decision(as_impl(decision_probs(), impl), dim=1, always_refine_idxs=[dog])
    # the husky/pug tie goes to the lower index
    assert names(idxs) == ['pug', 'husky', 'vehicle']


@pytest.mark.parametrize('impl', IMPLS)
def test_prob_decision_descends_while_probabilities_exceed_thresh(tree, impl):
    probs = as_impl(decision_probs(), impl)
    idxs, conf = tree.decision(probs, dim=1, criterion='prob', thresh=0.3)
    assert names(idxs) == ['pug', 'husky', 'vehicle']
    assert_kind(conf, impl)
    np.testing.assert_allclose(to_numpy(conf), [0.85, 0.45, 0.90])
    idxs, _ = tree._prob_decision(probs, dim=1, thresh=0.5)
    assert names(idxs) == ['pug', 'dog', 'vehicle']
    idxs, _ = tree._prob_decision(probs, dim=1, thresh=0.95)
    assert names(idxs) == ['animal', 'animal', 'vehicle']


@pytest.mark.parametrize('impl', IMPLS)
def test_decision_flattens_every_axis_but_the_class_axis(tree, impl):
    probs = decision_probs()
    stacked = np.stack([probs, probs[::-1]], axis=2)  # (3, C, 2)
    idxs, conf = tree.decision(as_impl(stacked, impl), dim=1)
    assert names(idxs) == ['pug', 'vehicle', 'dog', 'dog', 'vehicle', 'pug']
    assert to_numpy(conf).shape == (6,)
    idxs, _ = tree.decision(as_impl(probs[0], impl), dim=0)
    assert names(idxs) == ['pug']


def test_decision_on_an_empty_batch_returns_empty_arrays(tree):
    idxs, conf = tree.decision(np.zeros((0, 6)), dim=1)
    assert idxs.shape == (0,) and conf.shape == (0,)


def test_unknown_criterion_raises_key_error(tree):
    with pytest.raises(KeyError):
        tree.decision(decision_probs(), dim=1, criterion='variance')


# -- impurity measures -------------------------------------------------------------

@pytest.mark.parametrize('impl', IMPLS)
def test_gini_and_entropy_of_known_distributions(impl):
    probs = as_impl([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.25] * 4], impl)
    g, h = gini(probs), entropy(probs)
    assert_kind(g, impl)
    assert_kind(h, impl)
    np.testing.assert_allclose(to_numpy(g), [0.0, 0.5, 0.75])
    np.testing.assert_allclose(to_numpy(h), [0.0, 1.0, 2.0])  # bits
    np.testing.assert_allclose(to_numpy(entropy(probs, axis=0)), [1.0, 1.0, 0.5, 0.5])


def test_gini_and_entropy_accept_the_original_impl_argument():
    import kwarray
    probs = np.array([[0.5, 0.5]])
    assert entropy(probs, impl=kwarray.ArrayAPI.coerce('numpy')).tolist() == [1.0]
    assert gini(probs, impl=np).tolist() == [0.5]


# -- misc ------------------------------------------------------------------------

def test_misspelled_names_warn_and_delegate(tree):
    for old, new in [('heirarchical_softmax', 'hierarchical_softmax'),
                     ('heirarchical_log_softmax', 'hierarchical_log_softmax')]:
        with pytest.warns(DeprecationWarning):
            got = getattr(tree, old)(ENERGY, dim=1)
        np.testing.assert_allclose(got, getattr(tree, new)(ENERGY, dim=1))
    with pytest.warns(DeprecationWarning):
        loss = tree.heirarchical_cross_entropy(ENERGY, np.array([0]))
    assert float(loss) == pytest.approx(np.log(2))
    with pytest.warns(DeprecationWarning):
        tree.heirarchical_nll_loss(tree.hierarchical_log_softmax(ENERGY, dim=1), np.array([0]))


def test_demo_probs_follow_the_tree():
    tree = CategoryTree.demo('btree', r=3, h=2, add_zero=False)
    probs = to_numpy(tree._demo_probs(num=6))
    assert probs.shape == (6, len(tree))
    roots = [tree.node_to_idx[n] for n in source_nodes(tree.graph)]
    np.testing.assert_allclose(probs[:, roots].sum(axis=1), np.ones(6), rtol=1e-5)
    # the last non-random row puts (almost) everything on the longest path
    idxs, _ = tree.decision(probs[2:3], dim=1)
    assert tree.graph.out_degree(tree.idx_to_node[idxs[0]]) == 0


def test_numpy_paths_work_without_torch():
    code = textwrap.dedent('''
        import sys
        sys.modules['torch'] = None  # as if torch were not installed
        import numpy as np
        from ndsampler.category_tree import CategoryTree, entropy
        tree = CategoryTree.from_coco([{'id': 1, 'name': 'a'},
            {'id': 2, 'name': 'b', 'supercategory': 'a'},
            {'id': 3, 'name': 'c', 'supercategory': 'a'}])
        energy = np.zeros((2, 3))
        probs = tree.hierarchical_softmax(energy, dim=1)
        sink = np.exp(tree.sink_log_softmax(energy, dim=1))
        loss = tree.hierarchical_cross_entropy(energy, np.array([1, 2]))
        idxs, conf = tree.decision(probs, dim=1, ignore_class_idxs=[2])
        demo = tree._demo_probs(num=2)
        print(probs[0].tolist(), sink[0].tolist(), round(float(loss), 6), idxs.tolist(),
              type(demo).__name__, entropy(probs[:, 1:]).tolist())
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ('[1.0, 0.5, 0.5] [1.0, 0.5, 0.5] 0.693147 [1, 1] ndarray '
                                  '[1.0, 1.0]')


def test_dynamic_toy_sampler_is_reproducible_and_annotated():
    from ndsampler import DynamicToySampler
    sampler = DynamicToySampler(n_positives=5, seed=0)
    a = sampler.load_item(2, window_dims=(96, 80))
    b = sampler.load_item(2, window_dims=(96, 80))
    np.testing.assert_array_equal(a['im'], b['im'])
    assert a['im'].shape == (96, 80, 3) and len(sampler) == 10
    x, y, w, h = a['annots']['rel_boxes'].data[0]
    assert 0 <= x and x + w <= 80 and 0 <= y and y + h <= 96
    assert (a['target']['rel_cx'], a['target']['rel_cy']) == (40.0, 48.0)
    assert sampler.lookup_class_name(a['annots']['cids'][0]) in sampler.classes
    negative = sampler.load_negative(0, pad=4, window_dims=(32, 32))
    assert negative['im'].shape == (40, 40, 3) and len(negative['annots']['aids']) == 0
    with pytest.raises(NotImplementedError):
        sampler.load_sample({'gid': 1})
