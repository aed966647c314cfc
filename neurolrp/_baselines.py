"""The linear baselines: CSP + LDA (band power) and shrinkage LDA on window means (the waveform).

Below :mod:`neurolrp.classifier` (whose ``model="auto"`` runs the waveform
test with :func:`make_slda`) and :mod:`neurolrp.decoding` (which publishes
them); they depend on nothing of the package.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline


def make_csp_lda(n_components=4):
    """The classical baseline: CSP (log-variance) + LDA, as in MNE's example.

    Parameters
    ----------
    n_components : int
        CSP components kept (4 in MNE's motor-imagery example).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    from mne.decoding import CSP

    return make_pipeline(CSP(n_components=n_components, reg=None, log=True, norm_trace=False),
                         LinearDiscriminantAnalysis())


class TimeWindowMeans(TransformerMixin, BaseEstimator):
    """Average each channel in consecutive time windows and flatten.

    The features of the shrinkage-LDA baseline: ``(n_trials, n_channels,
    n_times)`` -> ``(n_trials, n_channels * n_windows)``, channel-major. The
    samples are split into ``n_windows`` consecutive windows of (nearly)
    equal length, as :func:`numpy.array_split` splits them, so the features
    do not depend on the sampling rate.

    Parameters
    ----------
    n_windows : int
        Number of windows; at most the number of samples.

    Attributes
    ----------
    n_channels_, n_times_ : int
        Shape of the trials seen in ``fit``; ``transform`` requires the same.
    """

    def __init__(self, n_windows=5):
        self.n_windows = n_windows

    def _check(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_trials, n_channels, n_times), got shape {X.shape}.")
        return X

    def fit(self, X, y=None):
        """Check the parameters against the data's shape (nothing is learnt).

        Parameters
        ----------
        X : array, shape (n_trials, n_channels, n_times)
        y : ignored

        Returns
        -------
        self : TimeWindowMeans

        Raises
        ------
        ValueError
            If ``X`` is not 3-D or ``n_windows`` is not between 1 and the
            number of samples.
        """
        X = self._check(X)
        n = self.n_windows
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= X.shape[2]:
            raise ValueError(f"n_windows must be an integer from 1 to the number of samples "
                             f"({X.shape[2]}), got {n!r}.")
        self.n_channels_, self.n_times_ = X.shape[1:]
        return self

    def transform(self, X):
        """Window means, flattened.

        Parameters
        ----------
        X : array, shape (n_trials, n_channels, n_times)

        Returns
        -------
        features : array, shape (n_trials, n_channels * n_windows)

        Raises
        ------
        ValueError
            If the trials' shape differs from the one seen in ``fit``.
        """
        X = self._check(X)
        if X.shape[1:] != (self.n_channels_, self.n_times_):
            raise ValueError(f"X has {X.shape[1]} channels x {X.shape[2]} samples; fit saw "
                             f"{self.n_channels_} x {self.n_times_}.")
        means = [w.mean(axis=2) for w in np.array_split(X, self.n_windows, axis=2)]
        return np.stack(means, axis=2).reshape(len(X), -1)


def make_slda(n_windows=5):
    """The ERP baseline: shrinkage LDA on window-averaged samples.

    As BCI research classifies event-related potentials and slow cortical
    potentials (Blankertz et al. 2011, "Single-trial analysis and
    classification of ERP components - a tutorial", NeuroImage 56): the
    mean amplitude of every channel in consecutive time windows, flattened,
    into a linear discriminant whose covariance is shrunk towards a
    diagonal with the analytic Ledoit-Wolf intensity. It classifies the
    waveform, where CSP + LDA classifies band power.

    Parameters
    ----------
    n_windows : int
        Consecutive windows of (nearly) equal length over the epoch: 5 gives
        0.1 s windows on a 0.5 s epoch. Features: ``n_channels * n_windows``.
        On the ERP simulator (28 channels, 0.5 s, 100-600 trials) 5 was the
        best or within 0.03 of it among 3, 5, 8 and 10 windows; more
        windows need more trials (shrinkage only partly makes up for them).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        :class:`TimeWindowMeans` then
        ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``; it
        takes arrays ``(n_trials, n_channels, n_times)``.
    """
    return make_pipeline(TimeWindowMeans(n_windows),
                         LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
