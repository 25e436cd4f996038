"""scikit-learn's own estimator checks for the seed ensemble: every one, none expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.ensemble import SeedEnsembleClassifier


def small_ensemble() -> SeedEnsembleClassifier:
    # The members are tests/core/test_sklearn_checks.py's small classifier (narrow,
    # full-batch, float64: what makes the sample-weight equivalence checks meaningful), and
    # three of them keep the checks' ~60 fits quick.
    member = MLPDigitClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.02,
                                max_iter=60, batch_size=1000, dtype="float64", device="cpu")
    return SeedEnsembleClassifier(member, n_estimators=3)


@parametrize_with_checks([small_ensemble()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
