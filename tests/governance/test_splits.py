"""Train / eval split: deterministic per seed, whole similarity clusters on one side."""

from governance.splits import assign_splits, eval_target


def test_deterministic_and_clusters_stay_together():
    ids = [f"r{i:03d}" for i in range(200)]
    clusters = [f"c{i // 5}" for i in range(200)]  # 40 clusters of 5 (e.g. five skin tones)
    first = assign_splits(ids, clusters, 0.1, seed=1)
    assert first == assign_splits(ids, clusters, 0.1, seed=1)
    assert first != assign_splits(ids, clusters, 0.1, seed=2)
    assert first.count("eval") == 20
    for c in set(clusters):
        assert len({s for s, cl in zip(first, clusters, strict=True) if cl == c}) == 1


def test_target_bounds():
    assert eval_target(0, 0.05) == 0
    assert eval_target(1, 0.05) == 0
    assert eval_target(10, 0.05) == 1
    assert eval_target(3764, 0.05) == 188
    assert eval_target(100, 0.0) == 0
