"""Training and evaluation of the heads on the shared encoder (needs the datasets).

Nothing here runs in Bluelamp itself; scikit-learn and vaderSentiment are training-only.
"""
