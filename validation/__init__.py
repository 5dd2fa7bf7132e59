"""Validation of the features against third-party labelled recordings (not shipped).

``python -m validation.smm_auroc``: rhythm_strength on the classroom SMM sessions of
``tests/data/smm`` (Goodwin et al. 2014), per child, wrist and movement type.
"""
