"""
Sphinx configuration for the ndsampler documentation.

Build it with ``make docs`` (warnings are errors): the figures are made first
by ``docs/make_figures.py`` into ``docs/_generated/``, then Sphinx writes the
site to ``docs/_build/html``.
"""
import os
import sys

DOCS_DPATH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS_DPATH))

import ndsampler  # NOQA: E402

project = 'ndsampler'
author = 'the ndsampler developers'
copyright = '2026, ' + author
release = ndsampler.__version__
version = '.'.join(release.split('.')[:2])

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'show-inheritance': False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [('Example', 'example'), ('Examples', 'example'),
                            ('CommandLine', 'example')]

exclude_patterns = ['_build', '_generated/demo']
templates_path = []
html_theme = 'alabaster'
html_theme_options = {'description': 'Fast random access to small regions of large images',
                      'fixed_sidebar': True}
html_static_path = []
napoleon_use_ivar = True
