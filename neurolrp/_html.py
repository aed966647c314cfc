"""What the subject report and the study's group report share: tables and figures.

Both are ``mne.Report`` pages; these put an HTML table or a matplotlib figure
on one the same way, so the two reports look alike and a fix reaches both.
"""

import html


def html_table(rows, header, *, links=None, nowrap=False):
    """An HTML table in the report's style (Bootstrap, as mne.Report uses).

    Parameters
    ----------
    rows : list of list
        Cells, row by row (written with ``str`` and escaped).
    header : list
        Column titles.
    links : list of str | None
        Per row, a link for its first cell (``None`` for none).
    nowrap : bool
        Keep each cell on one line.

    Returns
    -------
    html : str
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    style = ' style="white-space:nowrap"' if nowrap else ""
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            text = html.escape(str(c))
            if j == 0 and links and links[i]:
                text = f'<a href="{html.escape(links[i])}">{text}</a>'
            cells.append(f"<td{style}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="table table-sm table-striped" style="width:auto">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def fig_to_array(fig, dpi=100):
    """Render a figure to an RGBA array ourselves (PNG in memory), then close it.

    mne.Report renders matplotlib figures from a raw pixel buffer whose shape
    it computes separately; for some figures the two disagree and the image
    comes out sheared. A PNG we render ourselves goes in unchanged.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (closed afterwards).
    dpi : int
        Resolution.

    Returns
    -------
    image : ndarray, shape (height, width, 4)
    """
    from io import BytesIO

    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    return imread(buf)


def add_figure(report, fig, title, **kwargs):
    """Add a figure to an ``mne.Report``, rendered here (see :func:`fig_to_array`).

    Parameters
    ----------
    report : mne.Report
        Where it goes.
    fig : matplotlib.figure.Figure
        The figure (closed afterwards).
    title : str
        Its title in the report.
    **kwargs
        Passed to :meth:`mne.Report.add_figure` (``caption``, ``section``...).
    """
    report.add_figure(fig_to_array(fig), title, **kwargs)
