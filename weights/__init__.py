"""The weights shipped with posemoe, installed as the package ``posemoe.weights``.

In the repository they live in this top-level ``weights/`` folder; pyproject.toml maps the package
``posemoe.weights`` onto it and installs ``*.pt`` and the model card ``README.md`` as its package
data, so a wheel carries them and an editable install reads them here. Find a file with
``posemoe.shipped.shipped_weights(name)`` (``importlib.resources``); the default lifting model,
``posemoe-default.pt``, is ``posemoe.lifter.DEFAULT_WEIGHTS``.
"""
