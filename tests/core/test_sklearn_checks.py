"""scikit-learn's own estimator checks, every one of them, none marked as expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_mnist import MLPDigitClassifier, TorchMLPRegressor
from sknn_mnist.models import PixelScaler


def small_classifier() -> MLPDigitClassifier:
    # Small settings so that the ~60 checks run in seconds: a narrow network, a higher
    # learning rate, and full-batch training (the checks' datasets have at most a few
    # hundred rows). Full batches and float64 are what make the sample-weight equivalence
    # checks meaningful: with minibatches, weighting a row by 3 and repeating it 3 times
    # give different batches, and float32 rounding exceeds their rtol of 1e-7.
    # tests/test_sample_weight.py checks the float32 default at float32 tolerance.
    return MLPDigitClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.02,
                              max_iter=60, batch_size=1000, dtype="float64", device="cpu")


def lbfgs_classifier() -> MLPDigitClassifier:
    # L-BFGS in float64 fits the checks' data so well that some probabilities underflow
    # to 0: predict_log_proba must then be np.log(predict_proba), -inf included, as
    # check_classifiers_train compares them.
    return MLPDigitClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=60,
                              dtype="float64", device="cpu")


def small_regressor() -> TorchMLPRegressor:
    # The same small settings as the classifier's, for the same reasons.
    return TorchMLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.02,
                             max_iter=100, batch_size=1000, dtype="float64", device="cpu")


@parametrize_with_checks([small_classifier(), lbfgs_classifier(), small_regressor(),
                          PixelScaler(), PixelScaler(dtype="float64")])
def test_sklearn_compatible(estimator, check):
    check(estimator)
