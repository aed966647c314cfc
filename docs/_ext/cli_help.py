"""``.. neurolrp-cli-help:: [COMMAND]``: the ``--help`` text of the command line, as built.

The page stays what the parser says, whatever options are added later.
"""

import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class CliHelp(SphinxDirective):
    optional_arguments = 1

    def run(self):
        from neurolrp.cli import build_parser

        parser = build_parser()
        if self.arguments:
            sub = next(a for a in parser._actions if a.dest == "command")
            parser = sub.choices[self.arguments[0]]
        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal: 78 columns fit the page
        try:
            text = parser.format_help()
        finally:
            if old is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = old
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("neurolrp-cli-help", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
