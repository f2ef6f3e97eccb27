import numpy as np
import numpy.typing as npt
import pytest

from models.baselines import VSKNN, ItemKNN, MostPopular, Predictor
from models.sessions import Sessions

N_ITEMS = 6  # item 5 never occurs in training
# supports (sessions holding the item): 0: 2, 1: 3, 2: 3, 3: 2 (s3 holds it twice), 4: 1, 5: 0
# co-occurring sessions: (0,1) 1, (0,2) 2, (1,2) 2, (1,3) 1, (2,3) 1, (3,4) 1
TRAIN = Sessions.from_lists([[0, 1, 2], [1, 2, 3], [0, 2], [3, 4, 3], [1]])
# prediction points (s, t): (0,1) (0,2) (2,1) (3,1) (3,2) (3,3); session 1 has none
TEST = Sessions.from_lists([[0, 2, 1], [4], [3, 5], [1, 3, 1, 4]])
TARGETS = [2, 1, 5, 3, 1, 4]


def collect(
    model: Predictor, sessions: Sessions, max_rows: int = 1024
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    chunks = list(model.predict(sessions, max_rows))
    for scores, targets in chunks:
        assert scores.dtype == np.float32
        assert targets.dtype == np.int64
        assert scores.shape == (len(targets), N_ITEMS)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def test_most_popular_scores_training_counts() -> None:
    scores, targets = collect(MostPopular(TRAIN.item_counts(N_ITEMS)), TEST)
    np.testing.assert_array_equal(targets, TARGETS)
    np.testing.assert_array_equal(scores, np.tile([2, 3, 3, 3, 1, 0], (6, 1)))


def test_item_knn_similarity_by_hand() -> None:
    # lambda 0, alpha 1: sim(i, j) = sessions with both / supp_i; an item is not its own neighbour
    knn = ItemKNN.fit(TRAIN, N_ITEMS, lambda_=0.0, alpha=1.0)
    expected: list[list[float]] = [
        [0, 1 / 2, 2 / 2, 0, 0, 0],
        [1 / 3, 0, 2 / 3, 1 / 3, 0, 0],
        [2 / 3, 2 / 3, 0, 1 / 3, 0, 0],
        [0, 1 / 2, 1 / 2, 0, 1 / 2, 0],  # s3 repeats item 3 but counts once
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    np.testing.assert_allclose(knn.similarity.toarray(), expected)


def test_item_knn_default_regularisation() -> None:
    knn = ItemKNN.fit(TRAIN, N_ITEMS)  # lambda 20, alpha 0.5
    norm_01 = (2 + 20) ** 0.5 * (3 + 20) ** 0.5  # supp_0 = 2, supp_1 = 3
    np.testing.assert_allclose(knn.similarity.toarray()[0], [0, 1 / norm_01, 2 / norm_01, 0, 0, 0])
    np.testing.assert_allclose(knn.similarity.toarray()[1, 0], 1 / norm_01)


def test_item_knn_keeps_top_neighbors_with_ties_to_larger_row() -> None:
    knn = ItemKNN.fit(TRAIN, N_ITEMS, n_neighbors=2, lambda_=0.0, alpha=1.0)
    similarity = knn.similarity.toarray()
    np.testing.assert_allclose(similarity[1], [0, 0, 2 / 3, 1 / 3, 0, 0])  # 0 and 3 tie at 1/3
    np.testing.assert_allclose(similarity[3], [0, 0, 1 / 2, 0, 1 / 2, 0])  # 1, 2, 4 tie at 1/2
    np.testing.assert_allclose(similarity[4], [0, 0, 0, 1, 0, 0])


def test_item_knn_scores_by_last_prefix_item() -> None:
    knn = ItemKNN.fit(TRAIN, N_ITEMS, lambda_=0.0, alpha=1.0)
    scores, targets = collect(knn, TEST)
    np.testing.assert_array_equal(targets, TARGETS)
    similarity = knn.similarity.toarray()
    last_items = [0, 2, 3, 1, 3, 1]  # of the prefixes [0], [0 2], [3], [1], [1 3], [1 3 1]
    np.testing.assert_allclose(scores, similarity[last_items])
    np.testing.assert_allclose(scores[1], [2 / 3, 2 / 3, 0, 1 / 3, 0, 0])


def dot_vsknn(k: int = 100, sample_size: int = 1000) -> VSKNN:
    """V-SKNN before cosine and score decay: the hand-computed figures below assume it."""
    return VSKNN.fit(TRAIN, N_ITEMS, k, sample_size, similarity="dot", score_decay=False)


def test_vsknn_scores_by_hand() -> None:
    scores, targets = collect(dot_vsknn(), TEST)
    np.testing.assert_array_equal(targets, TARGETS)
    # prefix [0]: weight 1; neighbours s0 and s2 at similarity 1 / 1 distinct item
    np.testing.assert_allclose(scores[0], [2, 1, 2, 0, 0, 0])
    # prefix [0 2]: weights 1/2, 1; dots s0 1.5, s1 1, s2 1.5, over 2 distinct items
    np.testing.assert_allclose(scores[1], [1.5, 1.25, 2.0, 0.5, 0, 0])
    # prefix [1 3 1]: item 1 keeps its last weight 3/3, item 3 weighs 2/3; over 2 items:
    # s0 1/2, s1 (1 + 2/3)/2, s3 (2/3)/2, s4 1/2
    s0, s1, s3, s4 = 1 / 2, (1 + 2 / 3) / 2, (2 / 3) / 2, 1 / 2
    np.testing.assert_allclose(scores[5], [s0, s0 + s1 + s4, s0 + s1, s1 + s3, s3, 0], rtol=1e-6)


def test_vsknn_keeps_k_nearest_with_ties_to_the_more_recent() -> None:
    # prefix [0 2]: s0 and s2 tie at 0.75, s1 follows at 0.5
    scores, _ = collect(dot_vsknn(k=2), TEST)
    np.testing.assert_allclose(scores[1], [1.5, 0.75, 1.5, 0, 0, 0])
    scores, _ = collect(dot_vsknn(k=1), TEST)
    np.testing.assert_allclose(scores[1], [0.75, 0, 0.75, 0, 0, 0])  # s2 is the more recent


def test_vsknn_samples_the_most_recent_candidates() -> None:
    # prefix [0 2]: candidates s0, s1, s2; the 2 most recent are s1 (0.5) and s2 (0.75)
    scores, _ = collect(dot_vsknn(sample_size=2), TEST)
    np.testing.assert_allclose(scores[1], [0.75, 0.5, 1.25, 0.5, 0, 0])


def test_vsknn_equal_similarities_tie_exactly() -> None:
    # prefix [0 1 2 5 ...] of 10 events: s0 = {0, 1} and s1 = {2} both share weight 3/10,
    # which in floats would be 0.1 + 0.2 > 0.3; the tie must go to the more recent, s1
    train = Sessions.from_lists([[0, 1], [2]])
    test = Sessions.from_lists([[0, 1, 2] + [5] * 8])
    model = VSKNN.fit(train, N_ITEMS, k=1, similarity="dot", score_decay=False)
    scores, _ = collect(model, test)
    np.testing.assert_allclose(scores[-1], [0, 0, 0.3 / 4, 0, 0, 0], rtol=1e-6)  # 4 distinct


def test_vsknn_cosine_by_hand() -> None:
    # cosine = weighted dot / (weighted prefix norm * sqrt(distinct items of the neighbour));
    # neighbour sizes: s0 3, s1 3, s2 2, s3 2, s4 1
    scores, _ = collect(VSKNN.fit(TRAIN, N_ITEMS, score_decay=False), TEST)
    # prefix [0]: norm 1; s0 1/sqrt(3), s2 1/sqrt(2)
    s0, s2 = 1 / np.sqrt(3), 1 / np.sqrt(2)
    np.testing.assert_allclose(scores[0], [s0 + s2, s0, s0 + s2, 0, 0, 0], rtol=1e-6)
    # prefix [0 2]: weights 1/2, 1, norm sqrt(5/4); dots s0 3/2, s1 1, s2 3/2
    norm = np.sqrt(5 / 4)
    s0, s1, s2 = 1.5 / (norm * np.sqrt(3)), 1 / (norm * np.sqrt(3)), 1.5 / (norm * np.sqrt(2))
    np.testing.assert_allclose(scores[1], [s0 + s2, s0 + s1, s0 + s1 + s2, s1, 0, 0], rtol=1e-6)
    # prefix [1 3 1]: weights 1 (item 1), 2/3 (item 3), norm sqrt(13) / 3
    norm = np.sqrt(13) / 3
    s0, s1 = 1 / (norm * np.sqrt(3)), 5 / 3 / (norm * np.sqrt(3))
    s3, s4 = 2 / 3 / (norm * np.sqrt(2)), 1 / norm
    expected = [s0, s0 + s1 + s4, s0 + s1, s1 + s3, s3, 0]
    np.testing.assert_allclose(scores[5], expected, rtol=1e-6)


def test_vsknn_cosine_changes_the_neighbours() -> None:
    # prefix [1 3 1]: the dot product prefers s1 (5/3 over 2 items), the cosine the
    # one-item s4 (3 / sqrt(13) against 5 / sqrt(39) for s1)
    scores, _ = collect(VSKNN.fit(TRAIN, N_ITEMS, k=1, score_decay=False), TEST)
    np.testing.assert_allclose(scores[5], [0, 3 / np.sqrt(13), 0, 0, 0, 0], rtol=1e-6)
    scores, _ = collect(dot_vsknn(k=1), TEST)
    np.testing.assert_allclose(scores[5], [0, 5 / 6, 5 / 6, 5 / 6, 0, 0], rtol=1e-6)
    # prefix [1]: s0 and s1 tie at 1/sqrt(3) behind s4 at 1; the tie goes to the more recent
    scores, _ = collect(VSKNN.fit(TRAIN, N_ITEMS, k=2, score_decay=False), TEST)
    s1 = 1 / np.sqrt(3)
    np.testing.assert_allclose(scores[3], [0, 1 + s1, s1, s1, 0, 0], rtol=1e-6)


# one test session; prefixes [4 0 3 1] (row 3) and [4 0 3 1 1] (row 4) share their last
# event with s0, s1, s4, an earlier one with s2 ({0, 2}: item 0) and s3 ({3, 4}: item 3)
DECAY_TEST = Sessions.from_lists([[4, 0, 3, 1, 1, 5]])


def test_vsknn_score_decay_by_hand() -> None:
    model = VSKNN.fit(TRAIN, N_ITEMS, similarity="dot", score_decay=True)
    scores, targets = collect(model, DECAY_TEST)
    np.testing.assert_array_equal(targets, [0, 3, 1, 1, 5])
    # prefix [4 0 3 1]: positions 4: 1, 0: 2, 3: 3, 1: 4; dot = sum of shared p / (4 * 4 items)
    # steps back: s0 1 (item 1), s1 1 (item 1), s2 3 (item 0), s3 2 (item 3), s4 1 (item 1)
    s0, s1, s2, s3, s4 = 6 / 16, 7 / 16, 2 / 16 / 3, 4 / 16 / 2, 4 / 16
    expected = [s0 + s2, s0 + s1 + s4, s0 + s1 + s2, s1 + s3, s3, 0]
    np.testing.assert_allclose(scores[3], expected, rtol=1e-6)
    # prefix [4 0 3 1 1]: item 1 last at 5, dot = sum of shared p / (5 * 4 items); steps count
    # events, the repeat included: s2 5 - 2 + 1 = 4, s3 5 - 3 + 1 = 3 (not 2 distinct items)
    s0, s1, s2, s3, s4 = 7 / 20, 8 / 20, 2 / 20 / 4, 4 / 20 / 3, 5 / 20
    expected = [s0 + s2, s0 + s1 + s4, s0 + s1 + s2, s1 + s3, s3, 0]
    np.testing.assert_allclose(scores[4], expected, rtol=1e-6)
    # without the decay the same neighbours count fully
    scores, _ = collect(VSKNN.fit(TRAIN, N_ITEMS, similarity="dot", score_decay=False), DECAY_TEST)
    s2, s3 = 2 / 20, 4 / 20
    expected = [s0 + s2, s0 + s1 + s4, s0 + s1 + s2, s1 + s3, s3, 0]
    np.testing.assert_allclose(scores[4], expected, rtol=1e-6)


def test_vsknn_defaults_combine_cosine_and_decay() -> None:
    scores, _ = collect(VSKNN.fit(TRAIN, N_ITEMS), DECAY_TEST)
    # prefix [4 0 3 1 1]: weights p / 5 with p = 1, 2, 3, 5; the 5 cancels, norm sqrt(39)
    norm = np.sqrt(1 + 4 + 9 + 25)
    s0, s1 = (2 + 5) / (norm * np.sqrt(3)), (3 + 5) / (norm * np.sqrt(3))
    s2, s3, s4 = 2 / (norm * np.sqrt(2)) / 4, (1 + 3) / (norm * np.sqrt(2)) / 3, 5 / norm
    expected = [s0 + s2, s0 + s1 + s4, s0 + s1 + s2, s1 + s3, s3, 0]
    np.testing.assert_allclose(scores[4], expected, rtol=1e-6)


@pytest.mark.parametrize("max_rows", [1, 4])
def test_chunking_changes_nothing(max_rows: int) -> None:
    models: list[Predictor] = [
        MostPopular(TRAIN.item_counts(N_ITEMS)),
        ItemKNN.fit(TRAIN, N_ITEMS),
        VSKNN.fit(TRAIN, N_ITEMS),
        dot_vsknn(),
    ]
    for model in models:
        sizes = [len(targets) for _, targets in model.predict(TEST, max_rows)]
        assert sizes == ([1] * 6 if max_rows == 1 else [4, 2])
        scores, targets = collect(model, TEST, max_rows)
        all_scores, all_targets = collect(model, TEST)
        np.testing.assert_array_equal(scores, all_scores)
        np.testing.assert_array_equal(targets, all_targets)


def test_targets_follow_prediction_points() -> None:
    session_index, positions = TEST.prediction_points()
    expected = [TEST.session(int(s))[t] for s, t in zip(session_index, positions, strict=True)]
    _, targets = collect(VSKNN.fit(TRAIN, N_ITEMS), TEST)
    np.testing.assert_array_equal(targets, expected)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="lie in"):
        ItemKNN.fit(TRAIN, n_items=4)
    with pytest.raises(ValueError, match="k >= 1"):
        VSKNN.fit(TRAIN, N_ITEMS, k=0)
    with pytest.raises(ValueError, match="similarity"):
        VSKNN.fit(TRAIN, N_ITEMS, similarity="jaccard")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rows"):
        next(MostPopular(TRAIN.item_counts(N_ITEMS)).predict(TEST, max_rows=0))
