"""The ``neurolrp`` command line."""

import argparse
import sys
import time


def _summary(epochs):
    counts = ", ".join(f"{name}: {len(epochs[name])}" for name in epochs.event_id)
    return (
        f"{epochs.info.get('description') or 'epochs'}\n"
        f"  {len(epochs)} trials ({counts})\n"
        f"  {len(epochs.ch_names)} EEG channels with positions, {epochs.info['sfreq']:g} Hz, "
        f"{epochs.tmin:g} to {epochs.tmax:g} s around the cue ({len(epochs.times)} samples)\n"
        f"  band-pass {epochs.info['highpass']:g}-{epochs.info['lowpass']:g} Hz"
    )


def cmd_demo(args):
    from .datasets import load_eegbci

    t0 = time.perf_counter()
    epochs = load_eegbci(1, "imagery/hands-feet", verbose=args.verbose)
    print(_summary(epochs))
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="neurolrp",
        description="Explain deep-learning decisions on EEG, trial by trial, with LRP.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="run the whole job on the bundled subject (imagery, hands vs feet)",
        description="Run the whole job on the bundled subject 1 of PhysioNet eegmmidb "
                    "(motor imagery, hands vs feet), offline.",
    )
    demo.add_argument("--out", default="neurolrp-demo", metavar="DIR",
                      help="folder for the outputs (default: %(default)s)")
    demo.add_argument("--quiet", dest="verbose", action="store_false",
                      help="no progress output")
    demo.set_defaults(func=cmd_demo, verbose=True)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"neurolrp {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
