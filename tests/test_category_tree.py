"""Hierarchical probabilities over a category tree (torch paths) and the toy sampler."""
import numpy as np
import pytest

from ndsampler.category_tree import CategoryTree, entropy, gini, sink_nodes, source_nodes

torch = pytest.importorskip('torch')


@pytest.fixture
def tree():
    # animal -> {cat, dog}, dog -> {husky, pug}; vehicle (a second root)
    return CategoryTree.from_coco([
        {'id': 1, 'name': 'animal'}, {'id': 2, 'name': 'cat', 'supercategory': 'animal'},
        {'id': 3, 'name': 'dog', 'supercategory': 'animal'},
        {'id': 4, 'name': 'husky', 'supercategory': 'dog'},
        {'id': 5, 'name': 'pug', 'supercategory': 'dog'}, {'id': 6, 'name': 'vehicle'}])


def idx(tree, name):
    return tree.node_to_idx[name]


def test_source_softmax_is_the_chain_of_sibling_softmaxes(tree):
    energy = torch.randn(7, len(tree), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probs = tree.hierarchical_softmax(energy, dim=1)
    p = {name: probs[:, idx(tree, name)] for name in tree.idx_to_node}
    assert torch.allclose(p['animal'] + p['vehicle'], torch.ones(7, dtype=torch.float64))
    assert torch.allclose(p['cat'] + p['dog'], p['animal'])
    assert torch.allclose(p['husky'] + p['pug'], p['dog'])
    e = {name: energy[:, idx(tree, name)] for name in tree.idx_to_node}
    expected_pug = (torch.softmax(torch.stack([e['animal'], e['vehicle']]), 0)[0] *
                    torch.softmax(torch.stack([e['cat'], e['dog']]), 0)[1] *
                    torch.softmax(torch.stack([e['husky'], e['pug']]), 0)[1])
    assert torch.allclose(p['pug'], expected_pug)
    assert torch.allclose(tree.graph_log_softmax(energy, dim=1).exp(), probs)


def test_sink_softmax_normalises_leaves_and_sums_them_upwards(tree):
    energy = torch.randn(3, len(tree), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    probs = tree.sink_log_softmax(energy, dim=1).exp()
    leaves = [idx(tree, n) for n in sink_nodes(tree.graph)]
    assert sorted(tree.idx_to_node[i] for i in leaves) == ['cat', 'husky', 'pug', 'vehicle']
    assert torch.allclose(probs[:, leaves].sum(dim=1), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(probs[:, idx(tree, 'dog')], probs[:, idx(tree, 'husky')] + probs[:, idx(tree, 'pug')])
    assert sorted(source_nodes(tree.graph)) == ['animal', 'vehicle']


def test_hierarchical_cross_entropy_is_the_negative_joint_log_probability(tree):
    energy = torch.randn(4, len(tree), generator=torch.Generator().manual_seed(2), dtype=torch.float64,
                         requires_grad=True)
    targets = torch.tensor([idx(tree, 'pug'), idx(tree, 'cat'), idx(tree, 'vehicle'), idx(tree, 'dog')])
    loss = tree.hierarchical_cross_entropy(energy, targets)
    logp = tree.source_log_softmax(energy, dim=1)
    expected = -logp[torch.arange(4), targets].mean()
    assert torch.allclose(loss, expected)
    assert torch.allclose(tree.hierarchical_nll_loss(logp, targets), expected)
    loss.backward()
    assert energy.grad is not None and torch.isfinite(energy.grad).all()


def test_decision_descends_while_the_choice_is_clear(tree):
    probs = np.zeros((3, len(tree)))
    # row 0: clearly a pug; row 1: dog, but husky vs pug is a coin flip; row 2: vehicle
    for name, value in [('animal', .95), ('dog', .9), ('cat', .05), ('pug', .85), ('husky', .05), ('vehicle', .05)]:
        probs[0, idx(tree, name)] = value
    for name, value in [('animal', .95), ('dog', .9), ('cat', .05), ('pug', .45), ('husky', .45), ('vehicle', .05)]:
        probs[1, idx(tree, name)] = value
    probs[2, idx(tree, 'vehicle')] = .9
    probs[2, idx(tree, 'animal')] = .1
    pred, conf = tree.decision(probs, dim=1, thresh=0.5, criterion='gini')
    assert [tree.idx_to_node[i] for i in pred] == ['pug', 'dog', 'vehicle']
    assert np.allclose(conf, [.85, .9, .9])
    pred, _ = tree.decision(probs, dim=1, thresh=0.5, criterion='entropy',
                            always_refine_idxs=[idx(tree, 'dog')], ignore_class_idxs=[idx(tree, 'husky')])
    assert [tree.idx_to_node[i] for i in pred] == ['pug', 'pug', 'vehicle']
    torch_pred, _ = tree.decision(torch.from_numpy(probs), dim=1)
    assert torch_pred.tolist() == tree.decision(probs, dim=1)[0].tolist()


def test_gini_and_entropy_of_known_distributions():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert np.allclose(gini(probs), [0.0, 0.5])
    assert np.allclose(entropy(probs), [0.0, np.log(2)])
    assert np.allclose(entropy(torch.from_numpy(probs), impl=torch).numpy(), [0.0, np.log(2)])


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
