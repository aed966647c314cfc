"""Online closed loop: predict and explain each trial as it arrives.

A closed-loop BCI experiment that shows the participant why the decoder
decided must explain each trial within the inter-trial interval. This script
trains a ShallowNet on simulated motor imagery (64 channels at 80 Hz), then
plays held-out trials as a stream, one every ``--iti`` seconds, and for each
prints the decoder's prediction, the time the explanation took and the
channels with the most relevance.

A generator stands in for the acquisition (in a real experiment: an LSL
inlet or the amplifier's API, cut into epochs around each cue). One
:class:`neurolrp.Explainer`, made before the stream starts, does per trial
only the forward and backward passes and the checks of the data; its
relevance also carries the prediction (``rel.y_pred``), so the trial goes
through the network once.

Usage: python examples/online_loop.py [--trials 10] [--iti 2.0] [--realtime]
(without ``--realtime`` the stream runs as fast as the loop can take it).
"""

import argparse
import time

import numpy as np

from neurolrp import EEGClassifier, Explainer
from neurolrp.datasets import simulate_motor_imagery


def stream(trials, labels, iti=2.0, realtime=False):
    """Yield ``(onset, trial, label)``, one trial of ``(n_channels, n_times)`` per ``iti`` s.

    Parameters
    ----------
    trials : array, shape (n_trials, n_channels, n_times)
    labels : array, shape (n_trials,)
        The cue of each trial (what the participant was asked to imagine).
    iti : float
        Seconds from one trial to the next in the stream.
    realtime : bool
        Wait for each trial's onset; otherwise hand them over at once.
    """
    start = time.perf_counter()
    for k, (trial, label) in enumerate(zip(trials, labels)):
        onset = k * iti
        if realtime:
            time.sleep(max(0.0, start + onset - time.perf_counter()))
        yield onset, trial, label


def main(n_train=60, n_online=10, iti=2.0, realtime=False, max_epochs=10, n_top=3,
         seed=0):
    """Train, then predict and explain a stream of trials; return one row per trial.

    Returns
    -------
    rows : list of dict
        Per trial: ``onset``, ``label``, ``predicted``, ``latency`` (seconds) and
        ``top`` (the ``n_top`` channels with the most |relevance|).
    """
    epochs, _ = simulate_motor_imagery(n_trials=n_train + n_online, sfreq=80.0, seed=seed,
                                       verbose=False)
    epochs.crop(0.5, 3.5)  # the imagery period
    train, online = epochs[:n_train], epochs[n_train:]
    clf = EEGClassifier("shallow", max_epochs=max_epochs, patience=max_epochs, seed=seed,
                        verbose=False).fit(train)
    explainer = Explainer(clf)  # model prepared once, before the stream starts
    explainer(train.get_data()[0])  # and warmed up: the first call also checks the shape
    names = {code: name for name, code in online.event_id.items()}
    labels = [names[c] for c in online.events[:, 2]]
    print(f"{clf.n_channels_} channels x {clf.n_times_} samples at {clf.sfreq_:g} Hz; "
          f"one trial every {iti:g} s")
    rows = []
    for onset, trial, label in stream(online.get_data(), labels, iti, realtime):
        t0 = time.perf_counter()
        rel = explainer(trial)  # checks the trial, predicts and explains it
        latency = time.perf_counter() - t0
        strength = np.abs(rel.values[0]).sum(axis=1)  # |relevance| per channel
        top = [str(rel.channel.values[i]) for i in np.argsort(strength)[::-1][:n_top]]
        predicted = str(rel.y_pred.values[0])
        rows.append({"onset": onset, "label": label, "predicted": predicted,
                     "latency": latency, "top": top})
        print(f"t={onset:6.1f} s  cue {label:5s}  decoded {predicted:5s}  "
              f"explained in {latency * 1e3:6.1f} ms  top channels: {', '.join(top)}")
    latencies = np.array([r["latency"] for r in rows])
    correct = np.mean([r["label"] == r["predicted"] for r in rows])
    print(f"latency median {np.median(latencies) * 1e3:.1f} ms, max "
          f"{latencies.max() * 1e3:.1f} ms (inter-trial interval {iti * 1e3:.0f} ms); "
          f"{correct:.0%} decoded as cued")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10, help="trials in the stream")
    p.add_argument("--iti", type=float, default=2.0, help="seconds between trials")
    p.add_argument("--realtime", action="store_true", help="wait for each trial's onset")
    args = p.parse_args()
    main(n_online=args.trials, iti=args.iti, realtime=args.realtime)
