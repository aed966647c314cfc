"""Draw docs/_static/topomap_feet.png, the picture on the README and the docs' home page.

Out-of-fold LRP (default composite) of ShallowNet on the bundled subject, hands vs feet,
80 Hz, the trials of class "feet" explained for their predicted class, averaged, in
1 s windows. Run from the repository root: ``python docs/_scripts/make_readme_figure.py``
(about two minutes on two cores).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import neurolrp  # noqa: E402
from neurolrp import viz  # noqa: E402
from neurolrp.datasets import load_eegbci  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "_static" / "topomap_feet.png"

epochs = load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False)
cv = neurolrp.cross_validate(epochs, models=("shallow",), verbose=False)
rel = neurolrp.explain_out_of_fold(cv, epochs, "shallow", verbose=False)
feet = rel.sel(trial=rel.y_true == "feet")
fig = viz.plot_topomap(feet, window=1.0, tmin=0.0, tmax=4.0,
                       title=f"LRP relevance of {feet.sizes['trial']} 'feet' trials "
                             "(S001 imagery, out of fold): red = evidence for 'feet'")
fig.savefig(OUT, dpi=110, bbox_inches="tight")
print(OUT, OUT.stat().st_size, "bytes")
